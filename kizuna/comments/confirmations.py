"""Reply notices only to addresses whose owners asked for them.

Isso mails reply notices to whatever address a commenter typed with "notify
me", so a stranger could have someone else mailed. Here the first comment
that asks for notices with an address sends that address one mail with a
link (valid LINK_DAYS days, at most one such mail a day); only once its owner
has opened the link and pressed the button do reply notices go to it, from
Isso's own notifier and from `invoke comments.approve` alike.

The confirmed addresses live beside Isso's tables in its database, in a
table of Kizuna's own, so backups and restores carry them.
"""

import contextlib
import html
import logging
import sqlite3
import time
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired

TABLE = "kizuna_reply_addresses"
LINK_DAYS = 7
ASK_AGAIN_AFTER = 86400  # seconds: one confirmation mail a day per address at most
PATH = "/kizuna/confirm/"


def _connect(db_path) -> sqlite3.Connection:
    connection = sqlite3.connect(db_path, timeout=10)
    connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (address TEXT PRIMARY KEY, asked REAL, confirmed REAL)")
    return connection


def address_of(comment) -> str:
    """The address as the reader typed it (Isso stores it HTML-escaped)."""
    return html.unescape(comment.get("email") or "").strip()


def confirmed(db_path, address: str) -> bool:
    from kizuna.comments.store import read_only

    try:
        with contextlib.closing(read_only(db_path)) as connection:
            row = connection.execute(f"SELECT confirmed FROM {TABLE} WHERE address = ?", (address.lower(),)).fetchone()
    except sqlite3.Error as error:
        if "no such table" not in str(error):  # else: nobody has confirmed anything yet
            logging.getLogger("kizuna.comments").warning("cannot tell whether %s confirmed: %s", address, error)
        return False  # when in doubt, no mail
    return bool(row and row[0])


def _should_ask(db_path, address: str) -> bool:
    """Record that we ask now, unless confirmed or asked within a day."""
    now = time.time()
    with _connect(db_path) as connection:
        row = connection.execute(f"SELECT asked, confirmed FROM {TABLE} WHERE address = ?", (address.lower(),)).fetchone()
        if row and (row[1] or (row[0] and now - row[0] < ASK_AGAIN_AFTER)):
            return False
        connection.execute(f"INSERT INTO {TABLE} (address, asked) VALUES (?, ?) ON CONFLICT(address) DO UPDATE SET"
                           " asked = excluded.asked", (address.lower(), now))
    return True


class Confirmations:
    """Installed on the Isso object by isso_rules.install: asks new
    subscribers to confirm, answers the confirmation link, and keeps
    Isso's notifier from mailing anyone else."""

    def __init__(self, isso, smtp):
        self.isso = isso
        self.db = isso.conf.get("general", "dbpath")
        self.endpoint = isso.conf.get("server", "public-endpoint").rstrip("/")
        self.send = smtp.sendmail if smtp is not None else None
        if smtp is not None and isso.conf.getboolean("general", "reply-notifications"):
            _connect(self.db).close()
            smtp.sendmail = self.only_confirmed(self.send)
            isso.signal.subscriptions["comments.new:after-save"].append(self.ask)

    def ask(self, thread, comment):
        address = address_of(comment)
        if not (comment.get("notification") and address) or not _should_ask(self.db, address):
            return
        link = self.endpoint + PATH + self.isso.sign(["confirm", address.lower()])
        body = (f"Someone, we hope you, left a comment on \"{thread['title']}\" and asked to be told by e-mail when "
                f"someone replies.\n\nTo receive those mails, open this link within {LINK_DAYS} days and press the "
                f"button:\n\n{link}\n\nIf it was not you, do nothing: you will receive no mail from us.\n")
        self.send(f"Please confirm: replies to your comment on {thread['title']}", body, thread, comment, to=address)

    def only_confirmed(self, sendmail):
        """Isso's sendmail, for reader notices (to=…) only to confirmed addresses."""
        def send(subject, body, thread, comment, to=None, headers=None):
            if to is None or confirmed(self.db, html.unescape(to)):
                return sendmail(subject, body, thread, comment, to=to, headers=headers)
        return send

    def __call__(self, environ, start_response, path: str):
        """GET: a page with one button; POST (the button): confirm."""
        from werkzeug.wrappers import Response

        key = path.split(PATH, 1)[-1]
        try:
            kind, address = self.isso.signer.loads(key, max_age=LINK_DAYS * 86400)
            if kind != "confirm":
                raise BadSignature("not a confirmation")
        except SignatureExpired:
            return Response(_page("This link has expired", "<p>Leave another comment with “notify me” to receive a "
                                  "new link.</p>"), 410, content_type="text/html")(environ, start_response)
        except (BadSignature, ValueError, TypeError):
            return Response(_page("This link is not valid", "<p>Nothing was changed.</p>"), 403,
                            content_type="text/html")(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            with _connect(self.db) as connection:
                connection.execute(f"INSERT INTO {TABLE} (address, confirmed) VALUES (?, ?) ON CONFLICT(address)"
                                   " DO UPDATE SET confirmed = excluded.confirmed", (address, time.time()))
            page = _page("Thank you", f"<p>Replies to your comments will be sent to {html.escape(address)}. Each mail "
                         "has a link to stop them.</p>")
            return Response(page, 200, content_type="text/html")(environ, start_response)
        form = (f"<p>Send replies to your comments to {html.escape(address)}?</p><form method=post action="
                f"\"{html.escape(self.endpoint + PATH + quote(key))}\"><button>Yes, send me replies</button></form>")
        return Response(_page("Confirm your address", form), 200, content_type="text/html")(environ, start_response)


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=en><meta charset=utf-8><meta name=viewport content=\"width=device-width\">"
            f"<title>{title}</title><h1>{title}</h1>{body}</html>")
