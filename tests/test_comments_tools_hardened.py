"""The writer's comment tools when things go wrong, with real parts: a hot
journal left by a writer killed mid-transaction, a disk that will not take
another byte (a lowered file-size limit on the real subprocess), reader
addresses and thread titles holding CR/LF from old data (a real SMTP server),
and `invoke publish` with real rsync. Each ends in words, never a traceback."""

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from support import invoke, isso_post, isso_thread, require_tool
from test_comments_mail import confirm_address
from kizuna import ROOT
from kizuna.comments import backup

ESSAY = "/essays/unresolved-desire-to-connect/"
TITLE = "Unresolved Desire to Connect"
AIKO, BEN, CHIYO, DAN = "192.0.2.10", "198.51.100.20", "203.0.113.30", "198.18.0.40"


def rows(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT id, tid, mode, text, author, email FROM comments ORDER BY id").fetchall()


def sound(db) -> bool:
    with sqlite3.connect(db) as connection:
        return connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def task(isso, *args, **kwargs):
    return invoke(ROOT, *args, "--db", str(isso.db), env=isso.env, **kwargs)


# --- 1. A writer killed mid-transaction leaves a hot journal --------------------

WRITER_KILLED_MID_WRITE = textwrap.dedent("""
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("PRAGMA cache_size = 1")  # changed pages spill into the file before COMMIT
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("UPDATE comments SET mode = 1, text = 'rewritten ' || text")
    tid = connection.execute("SELECT id FROM threads").fetchone()[0]
    for n in range(3000):
        connection.execute("INSERT INTO comments (tid, created, mode, remote_addr, text, voters, notification)"
                           " VALUES (?, 0, 2, '0.0.0.0', ?, x'00', 0)", (tid, f"half-written {n} " + "x" * 400))
    print("mid-write", flush=True)
    time.sleep(600)
""")


def _kill_mid_write(db):
    """A real writer, SIGKILLed with its transaction open, as Isso can be."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER_KILLED_MID_WRITE, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "mid-write"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()
    journal = db.with_name(db.name + "-journal")
    assert journal.is_file() and journal.stat().st_size > 0, "no hot journal was left"
    # What the tools did before: a mode=ro connection may not roll it back.
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as reader:
            reader.execute("SELECT count(*) FROM comments").fetchone()
    return journal


def test_pending_and_backup_work_after_a_writer_was_killed_mid_transaction(isso, tmp_path):
    waiting = [isso_post(isso, ESSAY, f"Waiting thought {n}.", reader=f"192.0.2.{n}")["id"] for n in (1, 2, 3)]
    # A hot journal is left in rollback mode, which a database is in until a
    # comment server opens it (a backup, one imported, one from an older
    # Kizuna); the comment server runs it in WAL mode, where a killed writer
    # leaves frames the next reader ignores (tests/test_comments_replica.py).
    db = backup.backup(isso.db, tmp_path / "rollback-mode")
    isso = SimpleNamespace(db=db, env=isso.env)
    before = rows(isso.db)

    journal = _kill_mid_write(isso.db)
    listed = task(isso, "comments.pending")
    assert "Traceback" not in listed.stdout and "readonly" not in listed.stdout
    assert "3 comments waiting" in listed.stdout and "half-written" not in listed.stdout
    assert all(f"Waiting thought {n}." in listed.stdout for n in (1, 2, 3))
    assert not journal.exists()  # rolled back, as SQLite's first opener must
    assert rows(isso.db) == before and sound(isso.db)

    journal = _kill_mid_write(isso.db)
    made = task(isso, "comments.backup", "--dir", str(tmp_path / "backups"))
    (saved,) = (tmp_path / "backups").iterdir()
    assert str(saved) in made.stdout and "Traceback" not in made.stdout
    assert not journal.exists()
    assert rows(saved) == before and sound(saved)  # the data from before the killed transaction
    assert rows(isso.db) == before and sound(isso.db)
    assert {comment_id for comment_id, *_ in before} == set(waiting)


# --- 2. A disk that is full ----------------------------------------------------

def _limited(size: int):
    """Run the child with a file-size limit: writes beyond `size` bytes fail
    with EFBIG (Python ignores SIGXFSZ), as on a disk that is full."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _big_database(isso, path, readers: int = 2500):
    """A real Isso database (a backup of the live one) grown well past 1 MB."""
    made = backup.backup(isso.db, path.parent)
    made.rename(path)
    with sqlite3.connect(path) as connection:
        tid = connection.execute("SELECT id FROM threads").fetchone()[0]
        connection.executemany(
            "INSERT INTO comments (tid, created, mode, remote_addr, text, voters, notification)"
            " VALUES (?, 0, 1, '0.0.0.0', ?, x'00', 0)", [(tid, f"thought {n} " + "y" * 1000) for n in range(readers)])
    assert path.stat().st_size > 2_000_000
    return path


LIMIT = 1_000_000
NO_BYTECODE = {"PYTHONDONTWRITEBYTECODE": "1"}


def test_restore_onto_a_full_disk_says_so_and_leaves_the_database_as_it_was(isso, tmp_path):
    kept = [isso_post(isso, ESSAY, f"A thought to keep, {n}.", reader=f"192.0.2.{n}")["id"] for n in (1, 2)]
    before = rows(isso.db)
    assert isso.db.stat().st_size < LIMIT / 4
    big = _big_database(isso, tmp_path / "big-backup.db")
    backups = tmp_path / "backups"

    result = invoke(ROOT, "comments.restore", str(big), "--db", str(isso.db), "--dir", str(backups), check=False,
                    env={**isso.env, **NO_BYTECODE}, preexec_fn=_limited(LIMIT))
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stdout
    assert f"Could not restore {big} into {isso.db}" in result.stdout
    assert "the disk is full" in result.stdout and "the comment database was not changed" in result.stdout
    assert rows(isso.db) == before and sound(isso.db)
    assert not isso.db.with_name(isso.db.name + "-journal").exists()
    assert set(isso_thread(isso, ESSAY)) == set()  # the running Isso reads the old database still
    assert isso_post(isso, ESSAY, "After the failed restore.")["mode"] == 2
    for saved in backups.iterdir():  # whatever was kept is whole
        assert sound(saved) and {row[0] for row in rows(saved)} == set(kept)


def test_backup_onto_a_full_disk_removes_the_unfinished_file(isso, tmp_path):
    isso_post(isso, ESSAY, "Something to back up.")
    (tmp_path / "live").mkdir()
    big = _big_database(isso, tmp_path / "live" / "comments.db")  # a live database larger than the room left
    before = rows(big)
    backups = tmp_path / "backups"

    result = invoke(ROOT, "comments.backup", "--db", str(big), "--dir", str(backups), check=False,
                    env={**isso.env, **NO_BYTECODE}, preexec_fn=_limited(LIMIT))
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stdout
    assert "Could not write the backup" in result.stdout and str(backups) in result.stdout
    assert "the disk is full" in result.stdout and "the comment database" in result.stdout
    assert "was not changed" in result.stdout and "unfinished file was removed" in result.stdout
    assert list(backups.iterdir()) == []  # no half-written backup to mistake for a good one
    assert rows(big) == before and sound(big)

    # A restore that cannot even keep a copy of the current database stops before touching it.
    live_before = rows(isso.db)
    result = invoke(ROOT, "comments.restore", str(big), "--db", str(isso.db), "--dir", str(backups), check=False,
                    env={**isso.env, **NO_BYTECODE}, preexec_fn=_limited(4096))
    assert result.returncode == 1 and "Traceback" not in result.stdout, result.stdout
    assert "the disk is full" in result.stdout and "was not changed" in result.stdout
    assert list(backups.iterdir()) == []
    assert rows(isso.db) == live_before and sound(isso.db)


# --- 3. Reader addresses and titles with CR/LF from old data --------------------

def test_plain_addresses_and_one_line_subjects():
    from kizuna.comments.notify import one_line, plain_address

    for good in ("aiko@example.org", "a.b+c@sub.example.org", "川@例え.jp"):
        assert plain_address(good), good
    for bad in (None, "", "aiko@example.org\r\nBcc: eve@evil.test", "a@b@c", "a b@c.org", "a@b.org, c@d.org",
                "Aiko <aiko@example.org>", "@example.org", "aiko@", "x" * 250 + "@b.org", "a@b.org\x00",
                "g:a@b.org;", '"a"@b.org', "a@b.org\t"):
        assert not plain_address(bad), bad
    assert one_line("Re: New comment posted on One\r\nX-Injected: yes\x1b") == \
        "Re: New comment posted on One X-Injected: yes"


BAD_EMAIL = "chiyo@example.org\r\nBcc: eve@evil.test"


def _old_data_conversation(isso):
    """Aiko and Chiyo ask to hear of replies and are approved; then Chiyo's
    address and the thread's title gain CR/LF, as an old database could hold;
    four replies wait."""
    aiko = isso_post(isso, ESSAY, "I felt this too.", reader=AIKO, author="Aiko", email="aiko@example.org",
                     notification=1, title=TITLE)["id"]
    chiyo = isso_post(isso, ESSAY, "Me as well.", reader=CHIYO, author="Chiyo", email="chiyo@example.org",
                      notification=1)["id"]
    confirm_address(isso, "aiko@example.org")  # reply notices go only to addresses their owners confirmed
    task(isso, "comments.approve", f"{aiko},{chiyo}")
    replies = [isso_post(isso, ESSAY, text, reader=reader, author=author, parent=parent)["id"]
               for text, reader, author, parent in [("Aiko, you are not alone.", BEN, "Ben", aiko),
                                                    ("Chiyo, same here.", BEN, "Ben", chiyo),
                                                    ("Aiko, me too.", DAN, "Dan", aiko),
                                                    ("Chiyo, hello again.", DAN, "Dan", chiyo)]]
    for reply in replies:  # Isso's own mail to the writer, sent before the data turns bad
        isso.mailbox.wait_for(lambda m, body, reply=reply: m["To"] == isso.writer and f"#isso-{reply}\n" in body)
    with sqlite3.connect(isso.db) as connection:
        connection.execute("UPDATE comments SET email = ? WHERE id = ?", (BAD_EMAIL, chiyo))
        connection.execute("UPDATE threads SET title = ? WHERE uri = ?", ("Unresolved\r\nX-Injected: yes", ESSAY))
    return replies


def test_approve_goes_on_past_a_bad_address_and_reports_each_id(isso_with_smtp):
    isso = isso_with_smtp
    to_aiko, to_chiyo, again_to_aiko, again_to_chiyo = _old_data_conversation(isso)

    result = task(isso, "comments.approve", f"{to_aiko},{to_chiyo},{again_to_aiko}", check=False)
    out = result.stdout
    assert result.returncode == 1, out  # something was not done: a failing exit, after the whole report
    assert "Traceback" not in out and "ValueError" not in out
    for approved in (to_aiko, to_chiyo, again_to_aiko):
        assert f"Approved comment {approved}." in out
    assert set(isso_thread(isso, ESSAY)) >= {to_aiko, to_chiyo, again_to_aiko}  # all three, in order, none left
    chiyo_part = out.split(f"Approved comment {to_chiyo}.")[1].split(f"Approved comment {again_to_aiko}.")[0]
    assert "but the reply notice to chiyo@example.org\\r\\nBcc: eve@evil.test was not sent" in chiyo_part
    assert "not a plain e-mail address" in chiyo_part
    assert f"Not everything went through for comment {to_chiyo} " in out
    assert out.count("told aiko@example.org of this reply") == 2

    replies = [m for m in isso.mailbox.messages if m["Subject"].startswith("Re:")]
    assert [m["To"] for m in replies] == ["aiko@example.org", "aiko@example.org"]  # none to Chiyo, none to Eve
    assert not [m for m in isso.mailbox.messages if "eve@" in (m["To"] or "") or m["Bcc"]]
    for message in replies:
        assert message["Subject"] == "Re: New comment posted on Unresolved X-Injected: yes"  # one line
        assert message["X-Injected"] is None and message["Bcc"] is None

    # The one id whose only notice cannot go: approved, said so, exit 1, no mail, no traceback.
    sent = len(isso.mailbox.messages)
    alone = task(isso, "comments.approve", str(again_to_chiyo), check=False)
    assert alone.returncode == 1 and "Traceback" not in alone.stdout, alone.stdout
    assert f"Approved comment {again_to_chiyo}." in alone.stdout and "not a plain e-mail address" in alone.stdout
    assert again_to_chiyo in isso_thread(isso, ESSAY)
    assert len(isso.mailbox.messages) == sent


# --- 4. `invoke publish` and a tag called "comments" ----------------------------

def test_publish_ships_a_tag_called_comments_and_keeps_comment_data(repo_copy, tmp_path, isso):
    require_tool("rsync")
    (repo_copy / "content" / "on-comments.md").write_text(
        "Title: On Comments\nDate: 2026-11-28 10:00\nTags: comments\nSummary: About answering.\n\n"
        "What it means to answer a stranger.\n")
    (repo_copy / "content" / "extra" / "old-comments.db").write_bytes(b"built, yet never shipped")
    www = tmp_path / "www"
    (www / "comments" / "data").mkdir(parents=True)
    (www / "comments" / "data" / "comments.db").write_bytes(b"precious")
    (www / "comments" / "README.txt").write_text("the server's own notes")
    (www / "backups").mkdir()
    (www / "backups" / "comments-old.db").write_bytes(b"a backup")
    (www / "tags" / "comments").mkdir(parents=True)
    (www / "tags" / "comments" / "stale.html").write_text("from an older publish")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    # The publishing build bakes comments in: from a real Isso that takes the site's origin.
    env.update({"KIZUNA_SITEURL": isso.site_origin, "KIZUNA_ISSO_BAKE_URL": isso.url + "/",
                "KIZUNA_DEPLOY_TARGET": str(www)})

    invoke(repo_copy, "publish", "--allow-http", env=env)
    assert (repo_copy / "output" / "tags" / "comments" / "index.html").is_file()
    shipped = www / "tags" / "comments" / "index.html"
    assert shipped.is_file() and "On Comments" in shipped.read_text()
    assert not (www / "tags" / "comments" / "stale.html").exists()  # managed like every other page now
    assert (repo_copy / "output" / "extra" / "old-comments.db").is_file()
    assert not list(www.rglob("old-comments.db"))  # database files never travel
    assert (www / "comments" / "data" / "comments.db").read_bytes() == b"precious"  # --delete spares them
    assert (www / "comments" / "README.txt").is_file()
    assert (www / "backups" / "comments-old.db").read_bytes() == b"a backup"
