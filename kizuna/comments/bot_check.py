"""Bots stay out without third parties: a proof of work and a trap field,
checked by the comment server itself before Isso sees a new comment.

Proof of work is ALTCHA's scheme (its official library, `altcha`; the v1
"challenge" form, SHA-256). GET /kizuna/challenge hands out a salt (with its
expiry in it), the SHA-256 of salt + a secret number below MAX_NUMBER, and
an HMAC of that hash under a key that never leaves the server (derived from
Isso's random per-database `session-key`, as kizuna.comments.senders does).
The reader's browser (theme/static/js/check.js) finds the number while the
reader writes, and sends it with the comment in the field "altcha". Here a
new comment must carry a solution that is signed by this server, unexpired
and unused: each is written to a small table in Isso's database (one table
for every gunicorn worker), and a second use is refused. Rows go once their
challenge has expired: by then it would be refused anyway.

What this stops: scripts that post to the API (no solution, a copied one, an
unsolved one). It makes each post cost a little work, not much: a script
that runs the page's JavaScript, or solves in native code, gets through, to
meet the per-reader limits (kizuna.comments.senders) and the writer's own
reading. The trap field catches the form-fillers among those: check.js adds
a field to the comment form that nobody sees, reaches or hears (off screen,
inert, not focusable, hidden from assistive technology, autocomplete off);
naive bots fill every field they find, and a comment whose trap holds
anything is refused, in words that give nothing away.

KIZUNA_ISSO_BOT_CHECK=off stops the server asking for the proof of work (the
trap is checked always: no person fills it). Tests that post straight to the
API turn it off; those of the check itself, and the browser tests, keep it on.
"""

import base64
import binascii
import contextlib
import datetime
import hashlib
import hmac
import json
import re
import sqlite3
import time

import altcha
from werkzeug.exceptions import Forbidden, HTTPException, MethodNotAllowed, ServiceUnavailable
from werkzeug.wrappers import Response

CHALLENGE_PATH = "/kizuna/challenge"
FIELD = "altcha"  # the solution, as ALTCHA's own widget names it
TRAP = "subject"  # the field no person fills (not one browsers autofill)
ALGORITHM = "SHA-256"
# The secret number is drawn from 0…MAX_NUMBER: a browser tries half of them
# on average. check.js (crypto.subtle, 1,000 digests at a time) solved these
# in 50 ms on average in headless Chromium on a 2-core machine, and in 170 ms
# (at most 0.35 s) with the CPU slowed 4× (DevTools' "mid-tier mobile"), as a
# phone: begun when the reader starts to write, it is done before they send.
# (bench/bots.py measures it.) A script in native code solves it in
# milliseconds whatever the number: what stops scripts is having to ask for,
# solve and spend a fresh, signed challenge for every post; the number only
# keeps that from being free.
MAX_NUMBER = 20_000
LIFETIME = 600  # seconds a challenge may be solved and used in: short, so solutions cannot be hoarded
OFF = ("off", "false", "0", "no")
HEX = re.compile(r"[0-9a-f]{64}")

NOT_CHECKED = ("Your browser did not finish its check that a person is writing; please send your comment again "
               "in a moment. Your words are still in the box.")
# For a filled trap: plausible, and what a person who somehow met it should do.
TRAPPED = "This comment could not be accepted just now; please reload the page and try again."
BUSY = ("The comment server is busy just now. Your words were not saved: please keep a copy and try again in a "
        "minute.")


def required(environ) -> bool:
    """Whether new comments must carry a proof of work (KIZUNA_ISSO_BOT_CHECK):
    on unless it says off. An unknown value counts as on."""
    return environ.get("KIZUNA_ISSO_BOT_CHECK", "on").strip().lower() not in OFF


def signing_key(session_key: str) -> str:
    """The challenges' HMAC key: from Isso's random per-database session key,
    for this use only (it also signs Isso's cookies and Kizuna's tokens)."""
    return hmac.new(session_key.encode(), b"kizuna bot check", hashlib.sha256).hexdigest()


def _payload(value) -> dict | None:
    """ALTCHA's payload (base64 of a JSON object) with the right shapes, or None."""
    if not isinstance(value, str) or len(value) > 1000:
        return None
    try:
        data = json.loads(base64.b64decode(value, validate=True).decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not (isinstance(data, dict) and data.get("algorithm") == ALGORITHM
            and isinstance(data.get("challenge"), str) and HEX.fullmatch(data["challenge"])
            and isinstance(data.get("signature"), str) and HEX.fullmatch(data["signature"])
            and isinstance(data.get("salt"), str) and 0 < len(data["salt"]) <= 200 and data["salt"].isascii()
            and type(data.get("number")) is int and 0 <= data["number"] < 2**53):
        return None
    return data


class BotCheck:
    """The challenges and the check, for one Isso database: BotCheck(isso.db,
    required(os.environ))."""

    def __init__(self, db, proof_required: bool = True):
        self.path = db.path
        self.proof_required = proof_required
        self.key = signing_key(db.preferences.get("session-key"))
        with self._connection() as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS kizuna_used_solutions"
                               " (challenge TEXT PRIMARY KEY, expires REAL NOT NULL)")
            connection.execute("CREATE INDEX IF NOT EXISTS kizuna_used_solutions_by_expiry"
                               " ON kizuna_used_solutions (expires)")

    @contextlib.contextmanager
    def _connection(self):
        """One transaction on Isso's database, closed after."""
        with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as connection, connection:
            yield connection

    def challenge(self, now: float | None = None) -> dict:
        """A new challenge, as ALTCHA's widgets read it, and its lifetime in seconds."""
        expires = datetime.datetime.fromtimestamp((time.time() if now is None else now) + LIFETIME,
                                                  datetime.timezone.utc)
        made = altcha.create_challenge_v1(algorithm=ALGORITHM, max_number=MAX_NUMBER, hmac_key=self.key,
                                          expires=expires)
        return {"algorithm": made.algorithm, "challenge": made.challenge, "maxnumber": made.max_number,
                "salt": made.salt, "signature": made.signature, "lifetime": LIFETIME}

    def app(self, environ, start_response):
        """GET /kizuna/challenge: a fresh challenge, never cached."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return MethodNotAllowed(valid_methods=["GET"])(environ, start_response)
        response = Response(json.dumps(self.challenge()), 200, content_type="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def refusal(self, comment: dict) -> HTTPException | None:
        """Why this new comment (a JSON object) may not go on to Isso, or None."""
        if comment.get(TRAP) not in (None, ""):
            return Forbidden(TRAPPED)
        if not self.proof_required:
            return None
        payload = _payload(comment.get(FIELD))
        if payload is None:
            return Forbidden(NOT_CHECKED)
        expected = altcha.hmac_hex(ALGORITHM, payload["challenge"].encode(), self.key)
        if not hmac.compare_digest(expected, payload["signature"]):  # constant time, before the library's ==
            return Forbidden(NOT_CHECKED)
        expires = altcha.extract_params_v1(payload).get("expires")
        try:
            expires = float(expires[0]) if expires and len(expires) == 1 else None
        except ValueError:
            expires = None
        if expires is None:  # every challenge made here says when it expires
            return Forbidden(NOT_CHECKED)
        try:
            verified, _ = altcha.verify_solution_v1(payload, self.key, check_expires=True)
        except (ValueError, TypeError, KeyError, AttributeError):
            verified = False
        if not verified:
            return Forbidden(NOT_CHECKED)
        return self._first_use(payload["challenge"], expires)

    def _first_use(self, challenge: str, expires: float) -> HTTPException | None:
        """Record the solution as used; refuse it if it was already. One
        transaction, so two workers given the same solution cannot both pass."""
        try:
            with self._connection() as connection:
                connection.execute("DELETE FROM kizuna_used_solutions WHERE expires < ?", (time.time(),))
                connection.execute("INSERT INTO kizuna_used_solutions (challenge, expires) VALUES (?, ?)",
                                   (challenge, expires))
        except sqlite3.IntegrityError:
            return Forbidden(NOT_CHECKED)
        except sqlite3.Error:  # locked too long, a full disk: say so, not 500
            return ServiceUnavailable(BUSY)
        return None


def without_check(comment: dict) -> dict:
    """The comment as Isso should store it: without the check's fields."""
    return {key: value for key, value in comment.items() if key not in (FIELD, TRAP)}
