"""Privacy that is told and kept (issue 11): the privacy page and the note by
the comment form say what the settings say; a comment's e-mail and network
address go KIZUNA_ISSO_RETENTION_DAYS after the writer decided on it (the
comment server does it by itself, `invoke comments.purge` at once), while
comments decided since and comments still waiting keep theirs; both ways of
deciding (Isso's mail links, the terminal) note when. Real builds, real Isso
servers (the development server and gunicorn), a real SMTP server; time is
moved by moving the noted times in the database."""

import contextlib
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

from bs4 import BeautifulSoup

from support import (ROOT, _isso_running, free_port, invoke, isso_post, isso_request, isso_thread,
                     production_comment_environment, server, writer_env)
from kizuna.comments import backup, confirmations, retention
from kizuna.comments import server as comment_server

ESSAY = "/essays/unresolved-desire-to-connect/"
DAY = 86400
AIKO, BEN, CHIYO = "192.0.2.10", "198.51.100.20", "203.0.113.30"  # readers, as the proxy's X-Forwarded-For


def page(site: Path, path: str) -> BeautifulSoup:
    return BeautifulSoup((site / path / "index.html").read_text(encoding="utf-8"), "html.parser")


def words(soup) -> str:
    return " ".join(soup.get_text(" ").split())



def rows(db, sql, args=()):
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        return connection.execute(sql, args).fetchall()


def kept(db, *ids) -> dict[int, tuple]:
    """id → (email, remote_addr, notification) as stored."""
    return {id: tuple(rows(db, "SELECT email, remote_addr, notification FROM comments WHERE id = ?", (id,))[0])
            for id in ids}


def decided(db) -> dict[int, float]:
    return dict(rows(db, f"SELECT comment, decided FROM {retention.TABLE}"))


def decided_days_ago(db, id, days):
    rows(db, f"UPDATE {retention.TABLE} SET decided = ? WHERE comment = ?", (time.time() - days * DAY, id))


def task(isso, *args, check=True):
    return invoke(ROOT, *args, "--db", str(isso.db), check=check, env=isso.env)


# --- Told: the page and the note say what the settings say -------------------------------------

def test_the_privacy_page_and_the_note_say_what_the_settings_say(dev_site, repo_copy):
    told = words(page(dev_site, "privacy"))
    assert "It is removed 30 days after the writer approves or deletes your comment." in told  # the table's default
    assert "change or delete your comment for 15 minutes after sending it" in told
    assert "(a /24, such as 192.0.2.0)" in told and "(a /48)" in told
    assert "for 1 hour, the longest any limit looks back" in told  # kizuna/comments/senders.py
    assert "A comment not approved within 30 days is deleted" in told  # Isso's purge-after, comments/isso.cfg
    assert "This site sends no reply notices." in told  # no mail server while writing
    assert "only to addresses whose owners confirmed them" in told and "nothing is loaded from another server" in told
    assert "Copies older than 30 days are deleted, except the most recent one" in told
    for path in ("", "privacy", ESSAY.strip("/"), "archives"):  # every page's footer links to it
        assert page(dev_site, path).find("footer").find("a", href="/privacy/", string="Privacy"), path

    essay = page(dev_site, ESSAY.strip("/")).find(id="comments")
    intro, note = essay.find_all("p")[:2]
    assert "with your name or without it" in intro.get_text()
    assert note.find("a", href="/privacy/")
    assert "Your e-mail is never shown and not used to write to you" in words(note)
    assert "30 days after your comment is approved or deleted" in words(note)

    # Other settings, given as a writer gives them (the environment), are what the pages say.
    env = writer_env(KIZUNA_ISSO_RETENTION_DAYS="12", KIZUNA_ISSO_EDIT_WINDOW="1h30m", KIZUNA_SMTP_HOST="mail.example")
    invoke(repo_copy, "build", env=env)
    told = words(page(repo_copy / "output", "privacy"))
    assert "It is removed 12 days after the writer approves or deletes your comment." in told
    assert "change or delete your comment for 1 hour and 30 minutes after sending it" in told
    assert "If you tick “E-mail me when someone replies”" in told and "sends no reply notices" not in told
    assert "Copies older than 12 days are deleted" in told and "30 days after" not in told
    note = words(page(repo_copy / "output", ESSAY.strip("/")).find(id="comments").find_all("p")[1])
    assert "12 days after your comment is approved or deleted" in note
    assert "is used only for reply notices you confirm" in note

    refused = invoke(repo_copy, "build", check=False, env={**env, "KIZUNA_ISSO_RETENTION_DAYS": "a month"})
    assert refused.returncode != 0 and "KIZUNA_ISSO_RETENTION_DAYS must be a whole number of days" in refused.stdout


def test_durations_are_read_as_isso_reads_them():
    from isso.config import timedelta

    for text in ("15m", "1h30m", "2d", "3w", "1h 30m", "45s"):
        assert retention.duration(text) == timedelta(text).total_seconds(), text
    assert retention.duration("900") == 900  # plain seconds, as Isso's getint
    assert retention.in_words(retention.duration("1d1h1m")) == "1 day, 1 hour and 1 minute"


# --- Kept: decisions are noted, and addresses go when their days are up ------------------------

def admin_mail_link(isso, comment_id, action):
    """The moderation link in the writer's mail about a comment, as a path on the server."""
    import re

    mail = isso.mailbox.wait_for(lambda m, body: m["To"] == isso.writer and f"#isso-{comment_id}\n" in body)
    found = re.search(rf"^{action.capitalize()} comment: (\S+)$", mail.get_body().get_content(), re.M)
    assert found, mail.get_body().get_content()
    return found.group(1).removeprefix(f"http://localhost:{isso.port}")


def test_both_ways_of_deciding_note_when(isso_with_smtp, tmp_path):
    isso = isso_with_smtp
    linked = isso_post(isso, ESSAY, "Approved by link.", reader=AIKO, email="aiko@example.org")["id"]
    unlinked = isso_post(isso, ESSAY, "Deleted by link, with a reply.", reader=BEN, email="ben@example.org")["id"]
    answer = isso_post(isso, ESSAY, "Approved from the terminal.", reader=CHIYO, parent=unlinked)["id"]
    dropped = isso_post(isso, ESSAY, "Deleted from the terminal, with a reply.", reader=CHIYO)["id"]
    waiting = isso_post(isso, ESSAY, "Still waiting.", reader=AIKO, parent=dropped)["id"]
    approve_link, delete_link = admin_mail_link(isso, linked, "activate"), admin_mail_link(isso, unlinked, "delete")
    assert decided(isso.db) == {}

    before = time.time()
    assert isso_request(isso, "POST", approve_link) == (200, b"Comment has been activated")
    assert isso_request(isso, "POST", delete_link) == (200, b"Comment has been deleted")
    after = time.time()
    noted = decided(isso.db)
    assert set(noted) == {linked, unlinked} and all(before <= noted[id] <= after for id in noted), noted
    assert isso_request(isso, "POST", approve_link) == (200, b"Already activated")  # decides nothing again
    assert decided(isso.db)[linked] == noted[linked]

    before = time.time()
    task(isso, "comments.approve", str(answer))
    task(isso, "comments.delete", str(dropped), "--dir", str(tmp_path / "backups"))
    after = time.time()
    noted = decided(isso.db)
    assert set(noted) == {linked, unlinked, answer, dropped}, noted  # not the one still waiting
    assert all(before <= noted[id] <= after for id in (answer, dropped)), noted
    assert rows(isso.db, "SELECT mode FROM comments WHERE id IN (?, ?)", (unlinked, dropped)) == [(4,), (4,)]
    assert waiting not in noted


@contextlib.contextmanager
def started_again(isso, folder: Path, **settings):
    """The development comment server, started anew on the same database
    (as after a restart), with these settings; stopped by pid afterwards."""
    port = free_port()
    folder.mkdir()
    running = _isso_running({**isso.env, "KIZUNA_ISSO_LISTEN": f"http://127.0.0.1:{port}", **settings}, port,
                            isso.site_origin, folder)
    try:
        yield next(running)
    finally:
        running.close()


def test_the_comment_server_removes_addresses_when_their_days_are_up(isso, tmp_path):
    old = isso_post(isso, ESSAY, "Approved eleven days ago.", reader=AIKO, email="aiko@example.org",
                    notification=1)["id"]
    recent = isso_post(isso, ESSAY, "Approved yesterday.", reader=BEN, email="ben@example.org", notification=1)["id"]
    waiting = isso_post(isso, ESSAY, "Waiting for eleven days.", reader=CHIYO, email="chiyo@example.org")["id"]
    task(isso, "comments.approve", f"{old},{recent}")
    decided_days_ago(isso.db, old, 11)
    decided_days_ago(isso.db, recent, 1)
    rows(isso.db, "UPDATE comments SET created = created - ? WHERE id = ?", (11 * DAY, waiting))
    rows(isso.db, f"CREATE TABLE IF NOT EXISTS {confirmations.TABLE} (address TEXT PRIMARY KEY, asked REAL,"
                  " confirmed REAL)")  # as kizuna/comments/confirmations.py makes it when mail is on
    rows(isso.db, f"INSERT INTO {confirmations.TABLE} VALUES ('aiko@example.org', 1, 2), ('ben@example.org', 1, 2)")
    rows(isso.db, "UPDATE kizuna_senders SET created = created - 7200 WHERE comment = ?", (old,))
    before = kept(isso.db, old, recent, waiting)
    assert all(email and address for email, address, _ in before.values()), before

    with started_again(isso, tmp_path / "again", KIZUNA_ISSO_RETENTION_DAYS="10") as again:
        shown = isso_thread(again, ESSAY)  # the first request: the server purges first
        assert set(shown) == {old, recent} and shown[old]["text"] == "<p>Approved eleven days ago.</p>"
        after = kept(isso.db, old, recent, waiting)
        assert after[old] == (None, "", 0)  # no address to mail replies to, so no wish for them either
        assert after[recent] == before[recent] and after[waiting] == before[waiting]
        assert rows(isso.db, f"SELECT address FROM {confirmations.TABLE}") == [("ben@example.org",)]
        assert [id for (id,) in rows(isso.db, "SELECT comment FROM kizuna_senders ORDER BY comment")] == [recent, waiting]

        # At most once an hour: days that end now wait for the next purge (or invoke comments.purge).
        decided_days_ago(isso.db, recent, 11)
        assert set(isso_thread(again, ESSAY)) == {old, recent}
        assert kept(isso.db, recent) == {recent: before[recent]}


def test_gunicorn_workers_remove_addresses_too(isso, tmp_path):
    old = isso_post(isso, ESSAY, "Approved long ago.", reader=AIKO, email="aiko@example.org")["id"]
    recent = isso_post(isso, ESSAY, "Approved today.", reader=BEN, email="ben@example.org")["id"]
    task(isso, "comments.approve", f"{old},{recent}")
    decided_days_ago(isso.db, old, 30)  # the default, KIZUNA_ISSO_RETENTION_DAYS=30: its days are up
    decided_days_ago(isso.db, recent, 29)

    port = free_port()
    env = {**production_comment_environment(tmp_path / "production", port), "KIZUNA_ISSO_DB": str(isso.db)}
    command = comment_server.gunicorn_command(f"127.0.0.1:{port}", workers=2)
    with (tmp_path / "gunicorn.log").open("w") as log, server(command, port, env, ROOT, log):
        gunicorn = SimpleNamespace(port=port, site_origin=env["KIZUNA_ISSO_HOST"])
        assert set(isso_thread(gunicorn, ESSAY)) == {old, recent}
    stored = kept(isso.db, old, recent)
    assert stored[old] == (None, "", 0) and stored[recent][0] == "ben@example.org", stored


def backup_made_days_ago(db, folder: Path, days: float) -> Path:
    """A real backup, named as if made `days` ago (backups are dated by their names)."""
    made = backup.backup(db, folder)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - days * DAY))
    return made.rename(folder / f"comments-{stamp}.db")


def test_invoke_comments_purge_clears_old_addresses_and_old_backups(isso, tmp_path):
    old = isso_post(isso, ESSAY, "Approved 31 days ago.", reader=AIKO, email="aiko@example.org")["id"]
    recent = isso_post(isso, ESSAY, "Approved 29 days ago.", reader=BEN, email="ben@example.org")["id"]
    waiting = isso_post(isso, ESSAY, "Waiting.", reader=CHIYO, email="chiyo@example.org")["id"]
    task(isso, "comments.approve", f"{old},{recent}")
    decided_days_ago(isso.db, old, 31)
    decided_days_ago(isso.db, recent, 29)
    backups = tmp_path / "backups"
    oldest, older = backup_made_days_ago(isso.db, backups, 40), backup_made_days_ago(isso.db, backups, 35)
    (backups / "notes.txt").write_text("not a backup: left alone")

    result = task(isso, "comments.purge", "--dir", str(backups))
    assert "Removed the e-mail and network addresses of 1 comment(s)" in result.stdout, result.stdout
    stored = kept(isso.db, old, recent, waiting)
    assert stored[old] == (None, "", 0)
    assert stored[recent][0] == "ben@example.org" and stored[waiting][0] == "chiyo@example.org"
    assert str(oldest) in result.stdout
    assert sorted(path.name for path in backups.iterdir()) == [older.name, "notes.txt"]  # the newest stays

    fresh = backup.backup(isso.db, backups)
    result = task(isso, "comments.purge", "--dir", str(backups))
    assert "of 0 comment(s)" in result.stdout and str(older) in result.stdout
    assert sorted(path.name for path in backups.iterdir()) == [fresh.name, "notes.txt"]
    with contextlib.closing(sqlite3.connect(fresh)) as copy:  # made after the purge: the address is not in it
        assert copy.execute("SELECT email FROM comments WHERE id = ?", (old,)).fetchone() == (None,)

    # A reader's own deletion, an old database: the days start when a purge first sees the comment.
    rows(isso.db, f"DELETE FROM {retention.TABLE} WHERE comment = ?", (recent,))
    before = time.time()
    task(isso, "comments.purge", "--dir", str(backups))
    assert decided(isso.db)[recent] >= before and kept(isso.db, recent)[recent][0] == "ben@example.org"

    refused = invoke(ROOT, "comments.purge", "--db", str(tmp_path / "none.db"), check=False, env=isso.env)
    assert refused.returncode != 0 and "There is no comment database" in refused.stdout
