"""Tell readers who asked for it that a reply to their comment is now public.

Isso does this itself when a comment is approved through its moderation link
(its `comments.activate` signal). Approving from the terminal goes around
Isso's server, so this sends the very same mail with Isso's own code
(isso.ext.notifications.SMTP), honouring [general] reply-notifications.
"""

import html
import logging
from dataclasses import dataclass, field

from isso import local
from isso.ext.notifications import SMTP
from itsdangerous import URLSafeTimedSerializer

from kizuna.comments import confirmations
from kizuna.comments.hardening import one_line, plain_address


class _Moderator:
    """The little of a running Isso that Isso's SMTP notifier uses: the
    configuration, the database, and signing with the database's own key
    (so unsubscribe links work exactly as Isso's would)."""

    def __init__(self, database, conf):
        self.db = database
        self.conf = conf
        self._signer = URLSafeTimedSerializer(database.preferences.get("session-key"))

    def sign(self, obj):
        return self._signer.dumps(obj)


@dataclass
class Notices:
    """What became of the reply notices for one approved comment."""
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not a plain address: never mailed
    unconfirmed: list[str] = field(default_factory=list)  # its owner never confirmed it: never mailed
    failed: list[tuple[str, Exception]] = field(default_factory=list)


class _SendNow(SMTP):
    """Isso sends from a background thread that a short-lived command would
    not wait for; this sends before returning, one recipient at a time, and
    remembers what became of each (a failure for one does not stop the rest)."""

    # Isso builds a reader's mail and unsubscribe header from the address
    # before sending; an address that will not be mailed (None, from old
    # data, would even raise there) needs neither.
    def format(self, thread, comment, parent_comment, recipient=None, admin=False):
        return super().format(thread, comment, parent_comment, recipient, admin) \
            if admin or plain_address(recipient) else ""

    def create_headers(self, parent_comment, recipient):
        return super().create_headers(parent_comment, recipient) if plain_address(recipient) else ()

    def sendmail(self, subject, body, thread, comment, to=None, headers=None):
        # Only readers' reply notices come here; Isso's fallback to the
        # writer's address for an empty `to` would send the writer a reader's mail.
        if not plain_address(to):
            self.notices.skipped.append(to)
            return
        if not confirmations.confirmed(self.isso.db.path, html.unescape(to)):
            self.notices.unconfirmed.append(to)  # kizuna/comments/confirmations.py
            return
        try:
            self._sendmail(one_line(subject) or "isso notification", body, to, headers)
        except Exception as error:  # noqa: BLE001 — whatever it is, the writer hears of it per address
            self.notices.failed.append((to, error))
        else:
            self.notices.sent.append(to)


def reply_approved(database, conf, comment_id: int) -> Notices:
    """Mail everyone subscribed to the thread of replies that comment_id just
    joined; say who was told, who was skipped (not a plain address) and to
    whom sending failed, and why. Raises only for failures before any mail
    (the database, the configuration)."""
    comment = database.comments.get(comment_id)
    if comment["parent"] is None or not conf.getboolean("general", "reply-notifications"):
        return Notices()
    hosts = list(conf.getiter("general", "host"))
    local.origin = hosts[0] if hosts else "http://invalid.local"  # Isso's own fallback
    local.host = conf.get("server", "public-endpoint")
    isso_log = logging.getLogger("isso")
    level = isso_log.level
    isso_log.setLevel(logging.CRITICAL)  # quiet its connection test: a failure is reported below, once
    try:
        notifier = _SendNow(_Moderator(database, conf))
    finally:
        isso_log.setLevel(level)
    notifier.notices = Notices()
    notifier.notify_users(database.threads.get(comment["tid"]), comment)
    return notifier.notices
