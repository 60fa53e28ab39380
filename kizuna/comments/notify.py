"""Tell readers who asked for it that a reply to their comment is now public.

Isso does this itself when a comment is approved through its moderation link
(its `comments.activate` signal). Approving from the terminal goes around
Isso's server, so this sends the very same mail with Isso's own code
(isso.ext.notifications.SMTP), honouring [general] reply-notifications.
"""

import logging

from isso import local
from isso.ext.notifications import SMTP
from itsdangerous import URLSafeTimedSerializer


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


class _SendNow(SMTP):
    """Isso sends from a background thread that a short-lived command would
    not wait for; this sends before returning, and remembers to whom."""

    def sendmail(self, subject, body, thread, comment, to=None, headers=None):
        self._sendmail(subject, body, to or self.conf.get("to"), headers)
        self.sent.append(to)


def reply_approved(database, conf, comment_id: int) -> list[str]:
    """Mail everyone subscribed to the thread of replies that comment_id just
    joined; return their addresses. Raises OSError/SMTPException if the mail
    server cannot be reached."""
    comment = database.comments.get(comment_id)
    if comment["parent"] is None or not conf.getboolean("general", "reply-notifications"):
        return []
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
    notifier.sent = []
    notifier.notify_users(database.threads.get(comment["tid"]), comment)
    return notifier.sent
