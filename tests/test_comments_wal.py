"""The comment database in WAL mode (Litestream needs it; kizuna/comments/
replica.py): the production gunicorn Isso sets it as it starts, and the
writer's tools still see every comment, including one that so far is only in
the write-ahead log, not in the database file. (The other comment tests run
every tool against a comment server in WAL mode too.)"""

import contextlib
import sqlite3

from support import ROOT, invoke, isso_post
from kizuna.comments.hardening import database_state, file_state
from kizuna.comments.store import lock_file, sidecars

ESSAY = "/essays/unresolved-desire-to-connect/"


def test_the_comment_server_runs_its_database_in_wal_mode_privately(comments_wsgi):
    isso_post(comments_wsgi, ESSAY, "A first thought, so that the log exists.")
    with contextlib.closing(sqlite3.connect(comments_wsgi.db)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    wal, shm, _ = sidecars(comments_wsgi.db)
    for path in (comments_wsgi.db, wal, shm, lock_file(comments_wsgi.db)):
        assert oct(path.stat().st_mode & 0o777) == "0o600", path  # readers' e-mail addresses are in them


@contextlib.contextmanager
def checkpoints_held_back(db):
    """A reader in the middle of a read transaction: no checkpoint can copy
    what is written after it began into the database file, so newer comments
    stay in the -wal alone (as while Litestream holds its read lock)."""
    with contextlib.closing(sqlite3.connect(db)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM comments").fetchone()
        yield
        reader.rollback()


def test_a_comment_only_in_the_wal_is_seen_by_pending_backup_and_export(comments_wsgi, tmp_path):
    text = "Only in the write-ahead log so far."
    with checkpoints_held_back(comments_wsgi.db):
        isso_post(comments_wsgi, "/essays/on-waiting/", text, reader="192.0.2.77")
        assert text.encode() in sidecars(comments_wsgi.db)[0].read_bytes()
        assert text.encode() not in comments_wsgi.db.read_bytes()

        def task(*args):
            return invoke(ROOT, *args, "--db", str(comments_wsgi.db), env=comments_wsgi.env).stdout

        assert text in task("comments.pending")
        assert text in task("comments.export")
        made = task("comments.backup", "--dir", str(tmp_path / "backups")).strip()
    with contextlib.closing(sqlite3.connect(made)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM comments WHERE text = ?", (text,)).fetchone() == (1,)
        # A backup is one file, whatever it is copied to: not in WAL mode.
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_kept_reads_see_a_write_that_reached_only_the_wal(tmp_path):
    """ThreadReads and VisibleCounts keep answers while database_state is
    unchanged: it must change with a write the database file does not show."""
    db = tmp_path / "comments.db"
    with contextlib.closing(sqlite3.connect(db)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE comments (text TEXT)")
        connection.commit()
    with checkpoints_held_back(db), contextlib.closing(sqlite3.connect(db)) as writer:
        file_before, state_before = file_state(db), database_state(db)
        writer.execute("INSERT INTO comments VALUES ('new')")
        writer.commit()
        assert file_state(db) == file_before  # what the kept reads looked at before: blind to it
        assert database_state(db) != state_before


def test_a_restore_never_applies_the_wal_of_a_database_deleted_before_it(comments_wsgi, tmp_path):
    import shutil
    import subprocess
    import sys

    from kizuna.comments import backup

    isso_post(comments_wsgi, ESSAY, "Kept in the backup.", reader="192.0.2.78")
    saved = backup.backup(comments_wsgi.db, tmp_path / "backups")
    live = tmp_path / "live" / "comments.db"
    live.parent.mkdir()
    shutil.copyfile(saved, live)
    # A writer killed before any checkpoint leaves committed frames in the -wal alone.
    subprocess.run([sys.executable, "-c", (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode = WAL'); c.execute('PRAGMA wal_autocheckpoint = 0')\n"
        "c.execute(\"UPDATE comments SET text = 'stale, from the old WAL'\")\n"
        "os._exit(0)\n"), str(live)], check=True, timeout=30)
    assert b"stale, from the old WAL" in sidecars(live)[0].read_bytes()
    live.unlink()  # the database is lost; its WAL is still there

    result = invoke(ROOT, "comments.restore", str(saved), "--db", str(live), env=comments_wsgi.env)
    assert "There was no comment database yet." in result.stdout
    with contextlib.closing(sqlite3.connect(live)) as connection:
        texts = {row[0] for row in connection.execute("SELECT text FROM comments")}
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert "Kept in the backup." in texts and "stale, from the old WAL" not in texts


def test_wal_mode_is_set_even_while_isso_purges_the_database(tmp_path):
    """Observed in CI: the development server's Isso starts a purge thread that writes to the
    database as the server switches it to WAL mode, and SQLite refused at once ("database is locked")."""
    import threading

    from kizuna.comments.store import use_wal

    db = tmp_path / "comments.db"
    with contextlib.closing(sqlite3.connect(db)) as setup:
        setup.execute("CREATE TABLE comments (id INTEGER)")
        setup.commit()
    with contextlib.closing(sqlite3.connect(db, check_same_thread=False)) as purge:
        purge.execute("BEGIN IMMEDIATE")
        purge.execute("DELETE FROM comments WHERE id < 0")  # a write under way, as Isso's purge makes
        threading.Timer(0.5, purge.commit).start()  # and over half a second later
        use_wal(db)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
