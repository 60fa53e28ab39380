"""The comment database as the writer's tools see it: where it is, Isso's
configuration for it, and connections that are safe while Isso runs.

Isso opens a new SQLite connection for every statement, so another process
may read and write the same file at any time; SQLite's locking keeps each
statement whole. Reads here use connections that refuse to change anything
(but may finish what a crashed writer left, see read_only); writes go through
Isso's own database layer (isso.db.SQLite3), so they do what Isso would do.
"""

import contextlib
import errno
import fcntl
import logging
import os
import sqlite3
import time
from pathlib import Path

from kizuna.comments import settings
from kizuna.errors import KizunaError
from kizuna.processes import environment_set

DEFAULT_DB = settings.DATA / "comments.db"
BACKUPS = settings.ROOT / "comments" / "backups"

# Isso 0.14's schema (isso/db/*.py, user_version 5): the tables and columns a
# database must have for Isso, and for these tools, to use it.
SCHEMA = {
    "comments": ("tid", "id", "parent", "created", "modified", "mode", "remote_addr", "text", "author", "email",
                 "website", "likes", "dislikes", "voters", "notification"),
    "threads": ("id", "uri", "title"),
    "preferences": ("key", "value"),
}
SCHEMA_VERSION = 5
PUBLIC, PENDING, DELETED = 1, 2, 4  # comments.mode


class CommentError(KizunaError):
    """A comment tool's refusal: the database, an id, a backup."""


def database_path(db=None) -> Path:
    """--db if given, else $KIZUNA_ISSO_DB (production), else comments/data/comments.db."""
    return Path(db or os.environ.get("KIZUNA_ISSO_DB") or DEFAULT_DB).expanduser().resolve()


def existing(db) -> Path:
    path = database_path(db)
    if not path.is_file():
        raise CommentError(f"There is no comment database at {path}.")
    return path


def read_only(path: Path) -> sqlite3.Connection:
    """A connection whose statements cannot change the file (nor create it).

    Not SQLite's mode=ro: a writer killed mid-transaction (Isso under SIGKILL,
    a full disk) leaves a hot journal beside the database, and the first
    connection to read must roll it back, which a mode=ro connection may not do
    ("attempt to write a readonly database"). So the connection opens the file
    read-write, where the operating system allows it, and query_only refuses
    every write a statement would make. The same holds in WAL mode, where a
    reader must write the WAL's index (-shm) and may make the -wal and -shm
    files, and where the newest comments may be in the -wal alone: SQLite
    reads them through this connection like any other."""
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True)
    connection.execute("PRAGMA query_only = ON")
    return connection


def sidecars(path) -> list[Path]:
    """The files SQLite keeps beside a database: the write-ahead log and its
    index (WAL mode), and the rollback journal (a database not yet in WAL
    mode, or one a crashed writer left)."""
    path = Path(path)
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


WAL_WAIT = 10  # seconds


def use_wal(path) -> None:
    """Put the database in WAL mode (kept in the file: every later connection
    uses it). The comment server does this as it starts: Litestream can only
    replicate a database in WAL mode, and readers (the tools, thread reads)
    then never wait for a writer. A write then changes the -wal file, not the
    database file, until a checkpoint copies it over: anything that watches
    the database for changes watches both (hardening.database_state)."""
    deadline = time.monotonic() + WAL_WAIT
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=WAL_WAIT)) as connection:
                mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as error:
            # Changing the mode needs the database to itself, and SQLite does not wait for that
            # (its busy timeout does not cover it): Isso's own purge thread, started with the
            # development server, may be writing to it. Ask again, for a while.
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise CommentError(f"Could not put the comment database {path} in WAL mode: {error}.") from None
            time.sleep(0.2)  # time enough for the other to finish
    if mode != "wal":
        raise CommentError(f"Could not put the comment database {path} in WAL mode (SQLite says {mode!r}).")


# --- Is a comment server using this database? --------------------------------------------------------------
# Isso opens a connection per statement, so between two requests no file is
# open and no scan of open files can tell that it runs. Instead the comment
# server holds a shared flock on a lock file beside the database for as long
# as it runs (gunicorn's --preload master takes it; the workers it forks share
# it), and a restore that replaces the database takes it exclusively, without
# waiting: it fails while any server runs, and a server that starts meanwhile
# waits for the restore to finish before it opens the database.

def lock_file(db) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".lock")


_HELD: list = []  # the server's lock file stays open, so locked, for the life of the process


def hold_server_lock(db) -> None:
    """Called once by the comment server before it opens the database."""
    handle = open(lock_file(db), "a")  # the server's umask makes it private
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        logging.getLogger("kizuna").warning("Waiting for a restore of %s to finish", db)
        fcntl.flock(handle, fcntl.LOCK_SH)
    _HELD.append(handle)


@contextlib.contextmanager
def no_server_running(db):
    """Hold the database's lock exclusively for the block, or raise
    CommentError at once if a comment server holds it."""
    path = lock_file(db)
    try:
        handle = open(path, "a")
    except OSError as error:
        raise CommentError(f"Could not open {path} ({error.strerror}).") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise CommentError(f"The comment server is running on {db} (it holds {path}): stop it first "
                               "(systemctl stop kizuna-isso, or Ctrl-C on invoke serve), then run this again. "
                               "Nothing was changed.") from None
        yield


def processes_using(db) -> list[str]:
    """Other processes that have the database or its WAL open, as "pid
    (command)": a running `litestream replicate` keeps it open all the time.
    Only processes this user may look at are seen (root sees all)."""
    names = {str(Path(db).resolve())} | {str(side.resolve()) for side in sidecars(db)[:2]}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                command = (entry / "cmdline").read_bytes().split(b"\0")[:2]
                found.append(f"{entry.name} ({' '.join(part.decode(errors='replace') for part in command)})")
        except OSError:
            continue  # gone meanwhile, or not ours to see
    return found


def environment(db: Path, base: dict | None = None) -> dict[str, str]:
    """What comments/isso.cfg expands: where the environment configures Isso
    (production sets KIZUNA_ISSO_*), that, checked and completed as the
    server's own (kizuna/comments/wsgi.py); else development's."""
    given = {**(os.environ if base is None else base), "KIZUNA_ISSO_DB": str(db)}
    if "KIZUNA_ISSO_HOST" not in given:
        return settings.development_environment(db=db, base=given)
    try:
        return settings.production_environment(given)
    except settings.ConfigError as error:
        raise CommentError(str(error)) from None


@contextlib.contextmanager
def isso_database(db, env: dict | None = None):
    """Isso's own database layer and configuration for an existing database.
    Isso expands ${VARIABLES} whenever it reads a setting, so the environment
    is in os.environ until the block ends, and restored afterwards. `env`
    stands in for os.environ as the source of settings (tests pass Isso's)."""
    path = existing(db)
    settings_now = environment(path, env)
    with environment_set(settings_now):
        from isso import config, db as isso_db

        logging.getLogger("isso").setLevel(logging.WARNING)
        conf = config.load(config.default_file(), str(settings.CONFIG))
        yield isso_db.SQLite3(str(path), conf), conf
