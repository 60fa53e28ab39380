"""The comment database as the writer's tools see it: where it is, Isso's
configuration for it, and connections that are safe while Isso runs.

Isso opens a new SQLite connection for every statement, so another process
may read and write the same file at any time; SQLite's locking keeps each
statement whole. Reads here use connections that refuse to change anything
(but may finish what a crashed writer left, see read_only); writes go through
Isso's own database layer (isso.db.SQLite3), so they do what Isso would do.
"""

import contextlib
import logging
import os
import sqlite3
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
    every write a statement would make."""
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True)
    connection.execute("PRAGMA query_only = ON")
    return connection


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
