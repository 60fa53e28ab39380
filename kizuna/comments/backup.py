"""Backups of the comment database, and restoring one.

A backup is a consistent snapshot made with SQLite's online backup API while
Isso keeps running: every comment Isso had acknowledged when it started is in
it, those still only in the write-ahead log (WAL mode) too, since the API
reads the database as a connection sees it. A restore checks the file first (a readable SQLite database that passes
integrity_check and has Isso's tables and columns), then backs up the current
database, and only then copies the file over it, again with the backup API.
"""

import contextlib
import errno
import os
import shutil
import sqlite3
import time
from pathlib import Path

from kizuna.comments.store import (BACKUPS, SCHEMA, SCHEMA_VERSION, CommentError, database_path, existing, read_only,
                                    sidecars)


class StorageError(CommentError):
    """A file could not be written: the disk is full, or the file grew past
    what this process may write. Not a problem of the database itself."""


# errno values, and SQLite's result codes, that mean "could not write".
_NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# SQLite says SQLITE_FULL for ENOSPC, but a write error for EFBIG or EDQUOT.
_SQLITE_NO_ROOM = {"SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_TRUNCATE"}


def _is_storage(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorname", None) in _SQLITE_NO_ROOM
    return isinstance(error, OSError) and error.errno in _NO_ROOM


def _storage_message(error: BaseException) -> str:
    return (f"the disk is full, or the file grew beyond what may be written here ({error}); "
            "free some space (df -h shows where) and run the command again")


def _remove(path: Path) -> None:
    """A half-written SQLite file, and any journal or WAL it left."""
    for leftover in (path, *sidecars(path)):
        leftover.unlink(missing_ok=True)


def _new_file(directory: Path, label: str) -> Path:
    """A new, empty, private file named after this moment; never an old one."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for n in range(1, 1000):
            name = "-".join(filter(None, ["comments", stamp, label, str(n) if n > 1 else ""])) + ".db"
            try:
                os.close(os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                return directory / name
            except FileExistsError:
                continue
    except OSError as error:
        if _is_storage(error):
            raise StorageError(f"Could not make a backup file in {directory}: {_storage_message(error)}. "
                               "The comment database was not changed.") from None
        raise CommentError(f"Could not make a backup file in {directory} ({error.strerror}): choose another "
                           "folder with --dir. The comment database was not changed.") from None
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
            # The live database's WAL mode came with its first page; a backup
            # is one self-contained file, in rollback mode, wherever it goes.
            copy.execute("PRAGMA journal_mode = DELETE")
        problems = integrity(target)
        if problems != ["ok"]:
            raise CommentError(f"The backup of {source} fails SQLite's integrity check: {'; '.join(problems[:3])}")
    except BaseException as error:
        _remove(target)
        if _is_storage(error):
            raise StorageError(f"Could not write the backup {target}: {_storage_message(error)}. The unfinished "
                               f"file was removed; the comment database {source} was not changed.") from None
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


def keep_current(db: Path, directory) -> Path:
    """Back up the database a restore will replace, even a damaged one."""
    try:
        return backup(db, directory, label="before-restore")
    except StorageError:
        raise  # no room for a copy of any kind: stop before touching the database
    except (sqlite3.DatabaseError, CommentError):
        target = _new_file(Path(directory or BACKUPS), "before-restore-raw")
        try:
            shutil.copyfile(db, target)  # unreadable as a database: keep its bytes
        except OSError as error:
            target.unlink(missing_ok=True)
            if _is_storage(error):
                raise StorageError(f"Could not copy {db} to {target} before restoring: {_storage_message(error)}. "
                                   "The unfinished copy was removed; the comment database was not changed.") from None
            raise
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
    existed = db.exists()
    before = keep_current(db, directory) if existed else None
    if not existed:  # a WAL left by a database deleted since belongs to it: never apply it to this one
        for stale in sidecars(db):
            stale.unlink(missing_ok=True)
    try:
        # One write transaction on the live database: SQLite keeps the pages it
        # replaces in a journal (or, in WAL mode, writes them to the WAL and
        # commits at the end), so a failure part-way leaves the old database.
        # The live database's own -wal is part of it, not stale: SQLite reads
        # it first, and the restored pages are written after it.
        with contextlib.closing(read_only(source)) as backup_file, contextlib.closing(sqlite3.connect(db)) as live:
            backup_file.backup(live)
    except (sqlite3.Error, OSError) as error:
        raise _failed_restore(error, source, db, existed, before) from None
    return before


def _failed_restore(error, source: Path, db: Path, existed: bool, before: Path | None) -> CommentError:
    """What a restore that failed while writing left behind, said plainly.
    A failed write leaves a hot journal; opening the database rolls it back."""
    cause = _storage_message(error) if _is_storage(error) else str(error)
    said = f"Could not restore {source} into {db}: {cause}."
    if not existed:
        _remove(db)
        return CommentError(f"{said} The unfinished file was removed; there is still no comment database.")
    try:
        sound = integrity(db) == ["ok"]
    except sqlite3.Error:
        sound = False
    if sound:
        return CommentError(f"{said} The restore was undone: the comment database was not changed"
                            f" (its copy {before} is kept).")
    return CommentError(f"{said} The comment database may be damaged: once the cause is fixed, restore the copy "
                        f"made just before, invoke comments.restore {before} --db {db}")
