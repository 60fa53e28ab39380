"""Limits fair to shared networks, and a reader's own waiting comment.

Isso keeps only a network's part of an address (the /24 of IPv4, the /48 of
IPv6) and counted its limits on it: one mobile carrier or office network
could use up an essay's top-level comments for everyone behind it, and
nobody on it could answer a neighbour's comment for 15 minutes ("edit time
frame is still open"). Here each limit counts one reader: a keyed hash of the
full address (never the address itself), kept beside the comment for one
hour, the longest window a limit looks at, and then deleted. The network
keeps a limit of its own, ten times a reader's, so that a script that moves
across a network's addresses is still stopped. (Isso's other network-wide
rule, no reply to a comment from one's network for 15 minutes, is off:
comments/isso.cfg lets readers answer at once, as every comment waits for
the writer.)

A reader whose comment waits for the writer gets a token with it (a keyed
hash of the comment's id and time): with it, and only with it, the reader's
browser may later ask whether the comment still waits, is shown, or is gone,
so the comment can stay on their screen, marked as waiting, across reloads.
"""

import hashlib
import hmac
import threading
import time

from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from kizuna.comments.store import DELETED, PENDING, PUBLIC

TABLE = "kizuna_senders"
WINDOW = 3600  # seconds a sender's hash is kept: the longest any limit looks back
NETWORK_SHARE = 10  # a network may send this many times what one reader may
WAITING_PATH = "/kizuna/waiting"
MOST_ASKED = 50  # comments one status request may ask about

_current = threading.local()  # the sender of the request this worker thread is answering


class Senders:
    def __init__(self, isso):
        self.db = isso.db
        self.key = isso.db.preferences.get("session-key").encode()  # random per database, never in the config
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE}"
                        " (comment INTEGER NOT NULL, created REAL NOT NULL, sender TEXT NOT NULL)")
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_by_sender ON {TABLE} (sender, created)")

    def _hash(self, *parts) -> str:
        return hmac.new(self.key, "\0".join(map(str, parts)).encode(), hashlib.sha256).hexdigest()[:32]

    def of(self, request, trusted_proxies) -> str:
        """The sender's hash, from the address Isso itself would take (its _remote_addr, before anonymising)."""
        address = request.remote_addr
        if trusted_proxies:
            route = request.access_route + [address]
            address = next((hop for hop in reversed(route) if hop not in trusted_proxies), address)
        return self._hash("sender", address)

    def record(self, comment: dict, sender: str) -> None:
        now = time.time()
        self.db.execute(f"DELETE FROM {TABLE} WHERE created < ?", (now - WINDOW,))
        self.db.execute(f"INSERT INTO {TABLE} (comment, created, sender) VALUES (?, ?, ?)",
                        (comment["id"], comment["created"], sender))

    def sent(self, uri: str, sender: str, now: float) -> tuple[int, int]:
        """(comments in the last minute, top-level comments on this essay in the last hour) from this sender."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(s.created > ?), 0), COALESCE(SUM(c.parent IS NULL AND s.created > ?"
            " AND c.tid = (SELECT id FROM threads WHERE uri = ?)), 0)"
            f" FROM {TABLE} AS s JOIN comments AS c ON c.id = s.comment AND c.created = s.created"
            " WHERE s.sender = ? AND s.created > ?",
            (now - 60, now - WINDOW, uri, sender, now - WINDOW)).fetchone()
        return row[0], row[1]

    def token(self, comment: dict) -> str:
        return self._hash("waiting", comment["id"], repr(float(comment["created"])))

    def states(self, asked) -> list[dict]:
        """For each {"id", "token"}: "waiting", "shown", or "gone" (deleted, or a token that does not match)."""
        answers = []
        for item in asked:
            row = self.db.execute("SELECT id, created, mode FROM comments WHERE id = ?", (item["id"],)).fetchone()
            state = "gone"
            if row is not None and hmac.compare_digest(self.token({"id": row[0], "created": row[1]}), item["token"]):
                state = {PENDING: "waiting", PUBLIC: "shown", DELETED: "gone"}.get(row[2], "gone")
            answers.append({"id": item["id"], "state": state})
        return answers


def current_sender() -> str | None:
    return getattr(_current, "sender", None)


def knowing_the_sender(view, senders: Senders):
    """Isso's `new` view, with the sender known to the guard while it runs, and
    recorded (with a waiting comment's token for the reader) once it is stored."""
    import json

    api = view.__self__

    def new(environ, request, **values):
        _current.sender = senders.of(request, api.trusted_proxies)
        try:
            response = view(environ, request, **values)
        finally:
            sender, _current.sender = _current.sender, None
        if getattr(response, "status_code", None) in (201, 202):
            comment = json.loads(response.get_data())
            senders.record(comment, sender)
            if response.status_code == 202:
                comment["waiting"] = senders.token(comment)
                response.set_data(json.dumps(comment))
        return response
    new.__self__, new.__name__ = api, "new"
    return new


def waiting_view(senders: Senders):
    """POST /kizuna/waiting [{"id": 12, "token": "…"}, …] → [{"id": 12, "state": "waiting"}, …]."""
    import json

    def waiting(environ, request):
        try:
            asked = json.loads(request.get_data(as_text=True))
        except ValueError:
            raise BadRequest("send a JSON list of {id, token}")
        if (not isinstance(asked, list) or len(asked) > MOST_ASKED
                or not all(isinstance(item, dict) and type(item.get("id")) is int and 0 < item["id"] < 2 ** 63
                           and isinstance(item.get("token"), str) and len(item["token"]) < 100 for item in asked)):
            raise BadRequest(f"send a JSON list of at most {MOST_ASKED} {{id, token}}")
        return Response(json.dumps(senders.states(asked)), 200, content_type="application/json")
    return waiting
