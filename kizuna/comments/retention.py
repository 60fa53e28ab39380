"""How long what readers leave is kept, and keeping to it.

The privacy page (theme/templates/privacy.html) promises that a comment's
e-mail address and network address (Isso's `email` and `remote_addr`) are
removed KIZUNA_ISSO_RETENTION_DAYS days after the writer approved or deleted
the comment; a comment still waiting keeps them until it is decided (Isso
itself drops comments left waiting longer than `purge-after` in
comments/isso.cfg). The comment stays, with its text, name and website.

Isso does not note when a comment was decided, so both ways of deciding note
it here, in a table of Kizuna's own beside Isso's (backups carry it):
`invoke comments.approve / delete` (kizuna/comments/moderation.py) and Isso's
moderation links (kizuna/comments/isso_rules.py). A comment decided some
other way (a reader deleting their own comment that has replies, a database
from before this table, an import) starts its days when a purge first sees it.

The purge runs inside the comment server, on a request at most once an hour
in each process (never in a thread of gunicorn's master: see
kizuna/comments/wsgi.py on forking while SQLite holds a lock), and as
`invoke comments.purge`, which also removes backups older than the same
number of days (never the newest). It also deletes what other rules keep for
a short while only: senders' hashes past their hour (kizuna/comments/senders.py
deletes them only when a new comment comes) and confirmed reply addresses no
comment holds any more (kizuna/comments/confirmations.py).

Module-level imports are the standard library's and Kizuna's light modules
only: pelicanconf.py imports this to write the privacy page, on every build.
"""

import calendar
import configparser
import contextlib
import html
import logging
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kizuna.comments.settings import CONFIG, ConfigError
from kizuna.comments.store import DELETED, PUBLIC

logger = logging.getLogger("kizuna.comments")

TABLE = "kizuna_decided"
DAY = 86400
EVERY = 3600  # seconds between purges inside the comment server, in each process
CLEARED_ADDRESS = ""  # not NULL: Isso hashes `email or remote_addr` when it lists comments, and NULL would break it
# Backups as kizuna.comments.backup names them: comments-<UTC time>[-label][-n].db
BACKUP_NAME = re.compile(r"^comments-(\d{8}T\d{6}Z)(?:-[\w-]+)?\.db$")


# --- The settings, in words (the privacy page) ----------------------------------

def days_kept(value) -> int:
    """KIZUNA_ISSO_RETENTION_DAYS as a number of days; a whole number, 1 or more."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"KIZUNA_ISSO_RETENTION_DAYS must be a whole number of days, 1 or more (it is {value!r})")
    return int(text)


def duration(text: str) -> int:
    """Seconds in a duration written as Isso reads its own (isso.config.timedelta,
    e.g. `15m`, `1h30m`, `3w`; else whole seconds, as IssoParser.getint).
    Isso itself is not imported: every build reads this."""
    units = {"w": 604800, "d": DAY, "h": 3600, "m": 60, "s": 1}
    text = str(text).strip()
    found = re.fullmatch(r"(?:(\d+)w ?)?(?:(\d+)d ?)?(?:(\d+)h ?)?(?:(\d+)m ?)?(?:(\d+)s ?)?", text)
    seconds = sum(int(count) * size for count, size in zip(found.groups(), units.values()) if count) if found else 0
    if seconds:
        return seconds
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ConfigError(f"{text!r} is not a duration Isso reads (e.g. 15m, 1h30m, 2d)")


def in_words(seconds: int) -> str:
    """`15 minutes`, `1 hour and 30 minutes`, `30 days`."""
    parts = []
    for unit, size in (("day", DAY), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(int(seconds), size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def is_on(value: str) -> bool:
    """A boolean setting as Isso's configuration reads it (true, yes, on, 1)."""
    return configparser.ConfigParser.BOOLEAN_STATES.get(str(value).strip().lower(), False)


def waiting_kept(config: Path = CONFIG) -> int:
    """Seconds Isso keeps a comment nobody decided on: [moderation] purge-after."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config, encoding="utf-8")
    return duration(parser.get("moderation", "purge-after"))


def sender_hash_kept() -> int:
    """Seconds a sender's hash is kept (kizuna/comments/senders.py)."""
    from kizuna.comments.senders import WINDOW

    return WINDOW


# --- Noting decisions -------------------------------------------------------------

def _connect(db_path) -> sqlite3.Connection:
    connection = sqlite3.connect(str(db_path), timeout=10)
    # A comment id alone is not enough: Isso gives a deleted comment's id to the next one.
    connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (comment INTEGER NOT NULL, created REAL NOT NULL,"
                       " decided REAL NOT NULL, PRIMARY KEY (comment, created))")
    return connection


def record_decision(db_path, comment_id: int, now: float | None = None) -> None:
    """Note that the writer approved or deleted this comment now. A comment
    deleted outright is gone and needs nothing; one approved again after an
    edit starts its days again."""
    with contextlib.closing(_connect(db_path)) as connection, connection:
        connection.execute(f"INSERT OR REPLACE INTO {TABLE} (comment, created, decided)"
                           " SELECT id, created, ? FROM comments WHERE id = ? AND mode IN (?, ?)",
                           (time.time() if now is None else now, comment_id, PUBLIC, DELETED))


# --- The purge --------------------------------------------------------------------

@dataclass
class Purged:
    comments: int = 0   # comments whose e-mail and network address were removed
    addresses: int = 0  # confirmed reply addresses that no comment holds any more
    senders: int = 0    # senders' hashes past their hour


def _has_table(connection, name: str) -> bool:
    return connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
        is not None


def purge(db_path, days: int, now: float | None = None) -> Purged:
    """Remove, in one transaction, the e-mail and network addresses of
    comments decided `days` or more ago (and their wish for reply mail, which
    has nowhere to go now), senders' hashes past their hour, and confirmed
    reply addresses that no comment holds any more."""
    from kizuna.comments.confirmations import TABLE as REPLY_ADDRESSES
    from kizuna.comments.senders import TABLE as SENDERS, WINDOW

    now = time.time() if now is None else now
    purged = Purged()
    with contextlib.closing(_connect(db_path)) as connection, connection:
        decided = f"FROM {TABLE} AS d WHERE d.comment = comments.id AND d.created = comments.created"
        still_held = "mode IN (?, ?) AND (email IS NOT NULL OR remote_addr != ?)"
        connection.execute(f"DELETE FROM {TABLE} WHERE NOT EXISTS (SELECT 1 FROM comments AS c"
                           f" WHERE c.id = {TABLE}.comment AND c.created = {TABLE}.created)")
        connection.execute(f"INSERT INTO {TABLE} (comment, created, decided) SELECT id, created, ? FROM comments"
                           f" WHERE {still_held} AND NOT EXISTS (SELECT 1 {decided})",
                           (now, PUBLIC, DELETED, CLEARED_ADDRESS))
        purged.comments = connection.execute(
            f"UPDATE comments SET email = NULL, remote_addr = ?, notification = 0 WHERE {still_held}"
            f" AND EXISTS (SELECT 1 {decided} AND d.decided <= ?)",
            (CLEARED_ADDRESS, PUBLIC, DELETED, CLEARED_ADDRESS, now - days * DAY)).rowcount
        if _has_table(connection, SENDERS):
            purged.senders = connection.execute(f"DELETE FROM {SENDERS} WHERE created < ?",
                                                (now - WINDOW,)).rowcount
        if _has_table(connection, REPLY_ADDRESSES):
            # Isso stores addresses HTML-escaped as typed; the confirmed ones are kept as the reader means them.
            held = {html.unescape(email).strip().lower()
                    for (email,) in connection.execute("SELECT DISTINCT email FROM comments WHERE email IS NOT NULL")}
            unheld = [(address,) for (address,) in connection.execute(f"SELECT address FROM {REPLY_ADDRESSES}")
                      if address not in held]
            connection.executemany(f"DELETE FROM {REPLY_ADDRESSES} WHERE address = ?", unheld)
            purged.addresses = len(unheld)
    return purged


def purging_now_and_then(dispatch, isso, days: int, every: float = EVERY):
    """Isso's dispatch, purging first when `every` seconds have passed in this
    process (at its first request too). Under gunicorn each worker purges on
    its own, after the fork; the purge is the same whoever runs it, so one
    worker's purge soon after another's only finds nothing to do."""
    due = [0.0]
    one_at_a_time = threading.Lock()  # the threaded development server: one purge, not one per thread

    def dispatch_after_purging(request):
        if time.time() >= due[0] and one_at_a_time.acquire(blocking=False):
            try:
                due[0] = time.time() + every
                with isso.lock:  # as Isso's own purge of waiting comments
                    purged = purge(isso.db.path, days)
                if purged.comments:
                    logger.info("removed the e-mail and network addresses of %i comments decided %i days ago or"
                                " more", purged.comments, days)
            except (sqlite3.Error, OSError) as error:  # a busy or full disk: the reader's request goes on
                logger.warning("could not remove old e-mail and network addresses (tried again in an hour): %s",
                               error)
            finally:
                one_at_a_time.release()
        return dispatch(request)
    return dispatch_after_purging


# --- Backups ----------------------------------------------------------------------

def old_backups(directory, days: int, now: float | None = None) -> list[Path]:
    """Backups in `directory` made `days` or more ago, by the UTC time in
    their names (a copy keeps its name, not always its file time); never the
    newest one, so that there is always one to restore."""
    now = time.time() if now is None else now
    made = []
    for path in Path(directory).glob("comments-*.db"):
        found = BACKUP_NAME.match(path.name)
        if found and path.is_file():
            made.append((calendar.timegm(time.strptime(found.group(1), "%Y%m%dT%H%M%SZ")), path.name, path))
    made.sort()
    return [path for when, _, path in made[:-1] if when <= now - days * DAY]


def purge_now(db=None, backups=None, env: dict | None = None) -> list[str]:
    """`invoke comments.purge`: the purge the comment server does hourly,
    then backups older than the same days; what was done, one line each."""
    from kizuna.comments.store import BACKUPS, CommentError, environment, existing

    path = existing(db)
    days = days_kept(environment(path, env)["KIZUNA_ISSO_RETENTION_DAYS"])
    try:
        purged = purge(path, days)
    except sqlite3.Error as error:  # one transaction: all or nothing
        raise CommentError(f"Could not purge {path} ({error}); nothing was changed: run the command again.") from None
    report = [f"Removed the e-mail and network addresses of {purged.comments} comment(s) approved or deleted "
              f"{days} days ago or more (the comments stay).",
              f"Removed {purged.addresses} confirmed reply address(es) no comment holds any more, and "
              f"{purged.senders} sender hash(es) older than an hour."]
    folder = Path(backups or BACKUPS)
    removed = old_backups(folder, days) if folder.is_dir() else []
    for old in removed:
        old.unlink()
        report.append(f"Removed the backup {old}, made {days} days ago or more.")
    if not removed:
        report.append(f"Removed no backup from {folder}: none but the newest (always kept) is {days} days old.")
    return report
