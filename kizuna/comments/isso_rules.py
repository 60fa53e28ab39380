"""Kizuna's rules inside Isso 0.14, where Isso's own behaviour breaks a
promise the site makes. Installed once on the Isso object that
kizuna.comments.wsgi makes, by wrapping its views and its notifier; nothing
here edits Isso's files. Each rule was found by attacking the staged stack
(tests/test_comment_promises.py):

  * "A person reads every comment before it appears": a reader's edit of an
    approved comment went public at once. Here an edit first hides the
    comment again (mode 2, pending), then Isso stores the new text, and the
    writer is told, with fresh links; links sent before the edit stop working.
  * Edit and delete rights end 15 minutes (Isso's max-age) after the comment
    was made: Isso renewed the edit cookie with every edit, for ever.
  * A moderation link acts only on the comment it was made for, and only for
    KIZUNA_ISSO_LINK_DAYS days: Isso took the id from the key, ignored the
    one in the address, and reused the id of a deleted comment, so an old
    link could approve a newer comment.
  * Nothing in the public API confirms a guessed e-mail address (Isso's
    per-author `hash`) or shows who asked for reply mail (`notification`).
  * No reply notice goes to an address whose owner has not confirmed it
    (kizuna.comments.confirmations); mail subjects hold no line breaks.
  * Counts count what readers can see: a reply whose parent still waits is
    hidden, so it is not counted either.
  * Isso's limits counted a whole network (/24) and its limit of top-level
    comments per essay never expired; here they count one reader, over the
    last hour (kizuna.comments.senders), and say in plain words what to do.
  * A thread's feed (GET /feed?uri=) holds what the thread shows, and a
    feed reader asking "changed since?" hears of a newly approved comment
    (kizuna.comments.feed).
  * A full disk (or a database another process holds locked too long)
    answers 503 with words a reader can act on, not 500; SQLite's atomic
    commit means nothing already acknowledged is lost.
"""

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired
from werkzeug.exceptions import Forbidden, NotFound, ServiceUnavailable
from werkzeug.routing import Map, Rule

from kizuna.settings import site_value
from kizuna.comments import feed, retention
from kizuna.comments.confirmations import Confirmations
from kizuna.comments.hardening import database_state, one_line
from kizuna.comments.senders import (NETWORK_SHARE, WAITING_PATH, WINDOW, Senders, current_sender,
                                     knowing_the_sender, waiting_view)
from kizuna.comments.store import DELETED, PENDING, PUBLIC

logger = logging.getLogger("kizuna.comments")

PRIVATE_FIELDS = ("hash", "notification")


@dataclass(frozen=True)
class Rules:
    """What the rules need beyond Isso's own configuration."""
    threads: Path              # the site's comment-threads.json (written by every build)
    writer: str                # the writer's name, which no reader may take
    link_days: float = 7.0     # moderation links expire after this many days
    aliases: tuple[str, ...] = ()  # the writer's other names, which no reader may take either

    @property
    def writer_names(self) -> tuple[str, ...]:
        return (self.writer, *self.aliases)

    @classmethod
    def from_environment(cls, environ) -> "Rules":
        """From the comment server's environment, as kizuna.comments.settings completes it."""
        aliases = site_value("KIZUNA_AUTHOR_ALIASES", environ=environ) or ""
        return cls(threads=Path(environ["KIZUNA_ISSO_THREADS"]), writer=site_value("KIZUNA_AUTHOR", environ=environ),
                   link_days=float(environ["KIZUNA_ISSO_LINK_DAYS"]),
                   aliases=tuple(name.strip() for name in aliases.split(",") if name.strip()))


def install(isso, settings: Rules) -> Confirmations:
    """Install every rule; returns the reply-address confirmations, whose
    link the middleware answers."""
    from isso.views.comments import API

    API.FIELDS.difference_update(PRIVATE_FIELDS)
    senders = Senders(isso)
    isso.db.guard._limit = _fair_limits(isso.db.guard, senders, isso.conf.getint("guard", "direct-reply"))
    # The guard's questions are about one network's recent comments: an index
    # answers them without reading every comment (Isso has none).
    try:
        isso.db.execute("CREATE INDEX IF NOT EXISTS kizuna_comments_by_network ON comments (remote_addr, created)")
    except sqlite3.OperationalError as error:  # a full disk, say: slower, not broken
        logger.warning("no index for the guard's queries: %s", error)
    isso.db.comments.count = VisibleCounts(isso.db).count
    smtp = _smtp_notifier(isso)
    if smtp is not None:
        smtp.sendmail = _plain_subject(smtp.sendmail)
    confirm = Confirmations(isso, smtp)
    views = {
        "new": lambda view: knowing_the_sender(view, senders),
        "fetch": _writers_marked,
        "view": _within_edit_window,
        "edit": lambda view: _within_edit_window(_edit_waits_for_the_writer(view, smtp)),
        "delete": _within_edit_window,
        "moderate": lambda view: _link_for_this_comment(view, settings.link_days * 86400),
        "feed": feed.as_readers_see_it,
    }
    rules = []
    for rule in isso.urls.iter_rules():
        # Isso's decorators hide the views' names; API.VIEWS has them by route.
        name = next((name for name, (method, path) in API.VIEWS if path == rule.rule and method in rule.methods), "")
        view = views[name](rule.endpoint) if name in views else rule.endpoint
        rules.append(Rule(rule.rule, methods=rule.methods, endpoint=_storage_trouble_is_503(view)))
    rules.append(Rule(WAITING_PATH, methods=["POST"], endpoint=_storage_trouble_is_503(waiting_view(senders))))
    isso.urls = Map(rules)
    # E-mail and network addresses are removed when their days are up (os.environ holds the server's settings,
    # as kizuna.comments.settings completed them, for isso.cfg's ${NAMES} too).
    isso.dispatch = retention.purging_now_and_then(
        isso.dispatch, isso, retention.days_kept(os.environ["KIZUNA_ISSO_RETENTION_DAYS"]))
    return confirm


def _api(view):
    return view.__self__


def _storage_trouble_is_503(view):
    def guarded(environ, request, **values):
        try:
            return view(environ, request, **values)
        except sqlite3.OperationalError as error:
            logger.error("%s %s: %s", request.method, request.path, error)
            message = str(error).lower()
            if "full" in message or "disk" in message:
                raise ServiceUnavailable("The comment server cannot write to its disk just now (it may be full). "
                                         "Your words were not saved: please keep a copy and try again later.")
            raise ServiceUnavailable("The comment server is busy or cannot write just now. Your words were not "
                                     "saved: please keep a copy and try again in a minute.")
        except OSError as error:
            logger.error("%s %s: %s", request.method, request.path, error)
            raise ServiceUnavailable("The comment server cannot store anything just now. Your words were not saved:"
                                     " please keep a copy and try again later.")
    guarded.__name__ = getattr(view, "__name__", "view")
    return guarded


def _writers_marked(view):
    """A thread as Isso answers it, with "writer": true on the comments the
    writer made with invoke comments.reply (kizuna/comments/writer.py)."""
    import json

    from kizuna.comments.writer import mark, writer_ids

    api = _api(view)

    def fetch(environ, request, **values):
        response = view(environ, request, **values)
        if getattr(response, "status_code", None) == 200 and response.mimetype == "application/json":
            ids = writer_ids(api.isso.db.execute)
            if ids:
                thread = json.loads(response.get_data())
                mark(thread.get("replies") or [], ids)
                response.set_data(json.dumps(thread))
        return response
    fetch.__self__, fetch.__name__ = api, "fetch"
    return fetch


def _within_edit_window(view):
    """Reader's own comment: view, edit and delete only within max-age of
    its making, whatever cookie is shown."""
    api = _api(view)

    def within(environ, request, id, **values):
        comment = api.comments.get(id)
        if comment is None:
            raise NotFound()
        if time.time() - comment["created"] > api.conf.getint("max-age"):
            raise Forbidden("The time to change or delete this comment has ended.")
        return view(environ, request, id=id, **values)
    within.__self__, within.__name__ = api, view.__name__
    return within


def _edit_waits_for_the_writer(view, smtp):
    """A reader's edit (PUT) of an approved comment hides it again before the
    new text is stored, and tells the writer. The edit cookie is checked here
    first, as Isso checks it, so no one else can hide a comment."""
    from isso.utils.hash import sha1

    api = view.__self__

    def edit(environ, request, id, **values):
        comment = api.comments.get(id)
        try:
            signed = api.isso.unsign(request.cookies.get(str(id), ""))
        except (SignatureExpired, BadSignature):
            raise Forbidden()
        if not isinstance(signed, list) or signed[:1] != [id] or signed[1:2] != [sha1(comment["text"])]:
            raise Forbidden()
        if comment["mode"] != PUBLIC:  # still waiting: the writer's mail about it must show the new text
            response = view(environ, request, id=id, **values)
            if getattr(response, "status_code", None) == 200:
                _tell_writer_of_edit(api, smtp, id)
            return response
        with api.isso.lock:
            api.isso.db.execute("UPDATE comments SET mode = ? WHERE id = ? AND mode = ?", (PENDING, id, PUBLIC))
        stored = False
        try:
            response = view(environ, request, id=id, **values)
            stored = getattr(response, "status_code", None) == 200
        finally:
            if not stored:
                with api.isso.lock:  # the edit was refused: nothing changed, show it again
                    api.isso.db.execute("UPDATE comments SET mode = ? WHERE id = ? AND mode = ?", (PUBLIC, id, PENDING))
        _tell_writer_of_edit(api, smtp, id)
        return response
    edit.__self__, edit.__name__ = api, "edit"
    return edit


def _tell_writer_of_edit(api, smtp, id) -> None:
    comment = api.comments.get(id)
    thread = api.threads.get(comment["tid"])
    if smtp is not None and smtp.admin_notify:
        body = ("This comment was edited by its writer. It stays hidden until you approve it, and the links in "
                "earlier mails about it no longer work: use these.\n\n")
        body += smtp.format(thread, comment, None, admin=True)
        smtp.sendmail(f"Edited comment waits on {thread['title']}", body, thread, comment)
    else:
        logger.info("comment %i on %s was edited and waits for approval again", id, thread["uri"])


def _link_for_this_comment(view, max_age: float):
    """Moderation links (activate, edit, delete) carry a signed comment id and
    the time of signing: they must name this very comment, be younger than
    max_age, and be older than the comment (else the id was reused) and than
    its last edit (else the writer would approve words they never saw)."""
    api = _api(view)

    def moderate(environ, request, id, action, key):
        try:
            signed, made = api.isso.signer.loads(key, max_age=max_age, return_timestamp=True)
        except SignatureExpired:
            raise Forbidden("This moderation link has expired. Moderate from the terminal instead: "
                            "invoke comments.pending")
        except BadSignature:
            raise Forbidden()
        comment = api.comments.get(id)
        if signed != id or comment is None:
            raise Forbidden("This link is for another comment.")
        # itsdangerous keeps whole seconds; the comment was stored before its mail was signed.
        if comment["created"] >= made.timestamp() + 1:
            raise Forbidden("This link was made for a comment that has since been deleted.")
        if (comment["modified"] or 0) >= made.timestamp() + 1:
            raise Forbidden("The comment was edited after this link was sent; the newer mail about it has a link"
                            " that works.")
        response = view(environ, request, id=id, action=action, key=key)
        # The writer decided: the comment's e-mail and network address go KIZUNA_ISSO_RETENTION_DAYS from now
        # (kizuna/comments/retention.py). "Already activated" decides nothing.
        if request.method == "POST" and getattr(response, "status_code", None) == 200 and (
                action == "delete" or (action == "activate" and comment["mode"] != PUBLIC)):
            try:
                retention.record_decision(api.isso.db.path, id)
            except sqlite3.Error as error:  # done is done; the next purge starts its days instead
                logger.warning("could not note when comment %i was decided: %s", id, error)
        return response
    moderate.__self__, moderate.__name__ = api, "moderate"
    return moderate


def _fair_limits(guard, senders: Senders, direct_reply: int):
    """Isso's guard limits (its Guard._limit), counted per reader rather than
    per network (kizuna/comments/senders.py): comments per minute, top-level
    comments per essay in the last hour, no reply to one's own comment while
    it can still be edited; each network may send NETWORK_SHARE times what one
    reader may. Isso's reply-to-self rule is not kept: it refused, for 15
    minutes, any answer to a comment from one's whole network, and every
    comment waits for the writer anyway. Refusals say what happened and what
    to do, in the reader's words."""
    conf = guard.conf
    still_there = "Your words are still in the box."

    def limit(uri, comment):
        address, now, sender = comment["remote_addr"], time.time(), current_sender()
        per_minute = conf.getint("ratelimit")
        mine_last_minute, mine_on_this_essay = senders.sent(uri, sender, now) if sender else (0, 0)
        network_last_minute, network_on_this_essay = guard.db.execute(
            "SELECT COALESCE(SUM(created > ?), 0), COALESCE(SUM(parent IS NULL AND created > ?"
            " AND tid = (SELECT id FROM threads WHERE uri = ?)), 0)"
            " FROM comments WHERE remote_addr = ? AND created > ?",
            (now - 60, now - WINDOW, uri, address, now - max(60, WINDOW))).fetchone()
        if mine_last_minute >= per_minute:
            return False, (f"You have sent {mine_last_minute} comments in the last minute, the most one reader can. "
                           f"Please wait a minute, then send this one again. {still_there}")
        if network_last_minute >= per_minute * NETWORK_SHARE:
            return False, ("Many comments have come from your network in the last minute. Please wait a minute, "
                           f"then send yours again. {still_there}")
        if comment["parent"] is None and mine_on_this_essay >= direct_reply:
            return False, (f"You have started {mine_on_this_essay} conversations on this essay in the last hour, "
                           f"the most one reader can. You can still reply to a comment, or come back in an hour. "
                           f"{still_there}")
        if comment["parent"] is None and network_on_this_essay >= direct_reply * NETWORK_SHARE:
            return False, ("Many people on your network have commented on this essay in the last hour. You can "
                           f"still reply to a comment, or come back in an hour. {still_there}")
        if conf.getboolean("require-email") and not comment.get("email"):
            return False, f"Please give an e-mail address with your comment. {still_there}"
        if conf.getboolean("require-author") and not comment.get("author"):
            return False, f"Please give a name with your comment. {still_there}"
        return True, ""
    return limit


class VisibleCounts:
    """Isso's count(), counting only what a reader sees: approved comments
    whose parent (if any) is shown, approved or a deleted placeholder. One
    query for every thread, kept while the database (file and WAL) is unchanged."""

    def __init__(self, db):
        self.db = db
        self.seen = None
        self.counts = {}

    def count(self, *uris):
        state = database_state(self.db.path)
        if state[0] is None or state != self.seen:
            self.counts = dict(self.db.execute(
                "SELECT threads.uri, COUNT(*) FROM comments AS c JOIN threads ON threads.id = c.tid"
                " LEFT JOIN comments AS p ON p.id = c.parent"
                " WHERE c.mode = ? AND (c.parent IS NULL OR p.mode IN (?, ?)) GROUP BY threads.uri",
                (PUBLIC, PUBLIC, DELETED)).fetchall())
            self.seen = state
        return [self.counts.get(uri, 0) for uri in uris]


def _smtp_notifier(isso):
    from isso.ext.notifications import SMTP

    for subscriber in isso.signal.subscriptions["comments.new:after-save"]:
        if isinstance(getattr(subscriber, "__self__", None), SMTP):
            return subscriber.__self__
    return None


def _plain_subject(sendmail):
    def send(subject, body, thread, comment, to=None, headers=None):
        return sendmail(one_line(subject), body, thread, comment, to=to, headers=headers)
    return send
