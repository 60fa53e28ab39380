"""Backups of the comment database, and restoring one.

A backup is a consistent snapshot made with SQLite's online backup API while
Isso keeps running: every comment Isso had acknowledged when it started is in
it. A restore checks the file first (a readable SQLite database that passes
integrity_check and has Isso's tables and columns), then backs up the current
database, and only then copies the file over it, again with the backup API.
"""

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

from kizuna.comments.store import BACKUPS, SCHEMA, SCHEMA_VERSION, CommentError, database_path, existing, read_only


def _new_file(directory: Path, label: str) -> Path:
    """A new, empty, private file named after this moment; never an old one."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1, 1000):
        name = "-".join(filter(None, ["comments", stamp, label, str(n) if n > 1 else ""])) + ".db"
        try:
            os.close(os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return directory / name
        except FileExistsError:
            continue
    raise CommentError(f"Could not find a free backup file name in {directory}.")


def integrity(path: Path) -> list[str]:
    """SQLite's integrity_check, read-only: ['ok'] for a sound database."""
    with contextlib.closing(read_only(path)) as connection:
        return [row[0] for row in connection.execute("PRAGMA integrity_check")]


def backup(db=None, directory=None, label: str = "") -> Path:
    """Snapshot the database into a new timestamped file; return its path."""
    source = existing(db)
    target = _new_file(Path(directory or BACKUPS), label)
    try:
        with contextlib.closing(read_only(source)) as live, contextlib.closing(sqlite3.connect(target)) as copy:
            live.backup(copy)  # all pages in one step: one consistent snapshot
        problems = integrity(target)
        if problems != ["ok"]:
            raise CommentError(f"The backup of {source} fails SQLite's integrity check: {'; '.join(problems[:3])}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def problems(path: Path) -> list[str]:
    """What stops this file from being a comment database Isso can use."""
    if not path.is_file():
        return ["there is no such file"]
    try:
        checked = integrity(path)
        if checked != ["ok"]:
            return ["it fails SQLite's integrity check: " + "; ".join(checked[:3])]
        with contextlib.closing(read_only(path)) as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            columns = {table: {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
                       for table in SCHEMA}
    except sqlite3.DatabaseError as error:
        return [f"it is not a readable SQLite database ({error})"]
    found = []
    for table, wanted in SCHEMA.items():
        if not columns[table]:
            found.append(f"it has no table '{table}'")
        elif missing := [column for column in wanted if column not in columns[table]]:
            found.append(f"its table '{table}' lacks the column(s) {', '.join(missing)}")
    if version > SCHEMA_VERSION:
        found.append(f"it was made by a newer Isso (schema version {version}, this Isso knows {SCHEMA_VERSION})")
    return found


def check(file) -> Path:
    path = Path(file).expanduser().resolve()
    found = problems(path)
    if found:
        raise CommentError(f"Refusing to restore {path}: {'; '.join(found)}. The comment database was not touched.")
    return path


def _keep_current(db: Path, directory) -> Path:
    """Back up the database a restore will replace, even a damaged one."""
    try:
        return backup(db, directory, label="before-restore")
    except (sqlite3.DatabaseError, CommentError):
        target = _new_file(Path(directory or BACKUPS), "before-restore-raw")
        shutil.copyfile(db, target)  # unreadable as a database: keep its bytes
        return target


def restore(file, db=None, directory=None) -> Path | None:
    """Check `file`, back up the current database, then restore `file` into
    it. Returns the path of that backup (None if there was no database)."""
    source = check(file)
    db = database_path(db)
    if db.exists() and db.samefile(source):
        raise CommentError(f"Refusing to restore {source} onto itself.")
    if not db.parent.is_dir():
        raise CommentError(f"There is no folder {db.parent} for the comment database.")
    before = _keep_current(db, directory) if db.exists() else None
    with contextlib.closing(read_only(source)) as backup_file, contextlib.closing(sqlite3.connect(db)) as live:
        backup_file.backup(live)
    return before
