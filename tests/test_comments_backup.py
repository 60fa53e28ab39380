"""Backups while a real Isso takes comments, and restores that check the file
first and never lose the database they replace."""

import os
import sqlite3
import threading
import time
import urllib.parse

from support import invoke, isso_post, isso_request, open_threads
from kizuna import ROOT
from kizuna.comments import backup

ESSAY = "/essays/unresolved-desire-to-connect/"


def ids(db) -> set[int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM comments")}


def test_backup_while_readers_keep_posting(isso, tmp_path):
    open_threads(isso.env["KIZUNA_ISSO_THREADS"], {f"/essays/load-{n}/": f"Load {n}" for n in range(600)})
    acknowledged: list[int] = []
    stop = threading.Event()
    failures = []

    def keep_posting():
        for n in range(600):  # bounded: a few seconds at most
            if stop.is_set():
                return
            # Isso takes three top-level comments per reader and thread: one thread each.
            status, body = isso_request(isso, "POST", f"/new?uri={urllib.parse.quote(f'/essays/load-{n}/', safe='')}",
                                        f'{{"text": "comment number {n}", "title": "Load {n}"}}'.encode(),
                                        {"Content-Type": "application/json"})
            if status not in (201, 202):
                failures.append((status, body))
                return
            acknowledged.append(int(body.split(b'"id": ')[1].split(b",")[0]))

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        snapshots = []
        for round in range(3):
            deadline = time.monotonic() + 10
            while len(acknowledged) < 15 * (round + 1) and time.monotonic() < deadline and not failures:
                time.sleep(0.01)
            before = set(acknowledged)  # every comment Isso had acknowledged when the backup started
            snapshots.append((before, backup.backup(isso.db, tmp_path / "backups")))
        posted_during = len(acknowledged)
        deadline = time.monotonic() + 10
        while len(acknowledged) < posted_during + 5 and time.monotonic() < deadline and not failures:
            time.sleep(0.01)
    finally:
        stop.set()
        poster.join(timeout=30)
    assert not failures, failures
    assert len(acknowledged) >= posted_during + 5, "posting stopped while backing up"

    for before, snapshot in snapshots:
        assert backup.integrity(snapshot) == ["ok"]
        assert backup.problems(snapshot) == []
        assert before <= ids(snapshot), sorted(before - ids(snapshot))
        assert oct(snapshot.stat().st_mode & 0o777) == "0o600"  # it holds readers' e-mail addresses
    assert len({path for _, path in snapshots}) == 3
    assert set(acknowledged) <= ids(isso.db)


def test_backup_task_prints_the_new_file(isso, tmp_path):
    kept = isso_post(isso, ESSAY, "Worth keeping.")["id"]
    result = invoke(ROOT, "comments.backup", "--db", str(isso.db), "--dir", str(tmp_path / "b"), env=isso.env)
    (made,) = (tmp_path / "b").iterdir()
    assert result.stdout.strip() == str(made)
    assert made.name.startswith("comments-") and made.suffix == ".db"
    assert ids(made) == {kept}


def _bad_files(isso, tmp_path):
    """A file that is no database, a database that is not Isso's, a cut-off copy."""
    noise = tmp_path / "noise.db"
    noise.write_bytes(os.urandom(20000))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT)")
        connection.execute("CREATE TABLE threads (id INTEGER PRIMARY KEY, uri TEXT, title TEXT)")
    connection.close()
    for n in range(9):  # enough rows that a cut reaches them
        isso_post(isso, f"/essays/cut-{n // 3}/", f"Comment {n}, a little longer so that pages fill. " * 5)
    whole = backup.backup(isso.db, tmp_path / "made")
    cut = tmp_path / "cut.db"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return {noise: "not a readable SQLite database", other: "has no table 'preferences'",
            cut: "not a readable SQLite database", tmp_path / "missing.db": "no such file"}


def test_restore_refuses_a_bad_file_and_touches_nothing(isso, tmp_path):
    bad = _bad_files(isso, tmp_path)
    live = isso.db.read_bytes()
    backups = tmp_path / "backups"
    for file, problem in bad.items():
        result = invoke(ROOT, "comments.restore", str(file), "--db", str(isso.db), "--dir", str(backups),
                        check=False, env=isso.env)
        assert result.returncode != 0, result.stdout
        assert f"Refusing to restore {file}" in result.stdout and problem in result.stdout, result.stdout
        assert isso.db.read_bytes() == live
        assert not backups.exists()  # nothing was even backed up: the check came first
    other_problems = backup.problems(tmp_path / "other.db")
    assert other_problems[0].startswith("its table 'comments' lacks the column(s) tid, parent, created")


def test_restore_brings_a_backup_back_and_keeps_what_it_replaced(isso, tmp_path):
    first = isso_post(isso, ESSAY, "Before the backup.")["id"]
    saved = backup.backup(isso.db, tmp_path / "backups")
    later = isso_post(isso, ESSAY, "After the backup.")["id"]

    result = invoke(ROOT, "comments.restore", str(saved), "--db", str(isso.db), "--dir", str(tmp_path / "backups"),
                    env=isso.env)
    assert ids(isso.db) == {first}
    (before_restore,) = [path for path in (tmp_path / "backups").iterdir() if "before-restore" in path.name]
    assert str(before_restore) in result.stdout
    assert ids(before_restore) == {first, later}  # nothing is lost: the replaced database is kept
    assert backup.integrity(isso.db) == ["ok"]

    # The running Isso goes on with the restored database.
    assert isso_post(isso, "/essays/after-restore/", "Life goes on.")["mode"] == 2
    assert isso_request(isso, "GET", "/?uri=%2Fessays%2Fafter-restore%2F")[0] == 200

    # And the restore can itself be undone.
    backup.restore(before_restore, isso.db, tmp_path / "backups")
    assert ids(isso.db) == {first, later}
