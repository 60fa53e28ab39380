"""Moderation from the terminal against a real, running Isso: `invoke
comments.pending / approve / delete --db` act on Isso's database while Isso
serves it, and readers see the result through Isso's own API."""

import re
import sqlite3

from support import invoke, isso_post, isso_thread
from kizuna import ROOT

ESSAY = "/essays/unresolved-desire-to-connect/"
OTHER = "/essays/on-waiting/"


def rows(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT id, mode, text, author FROM comments ORDER BY id").fetchall()


def task(isso, *args, check=True):
    return invoke(ROOT, *args, "--db", str(isso.db), check=check, env=isso.env)


def test_pending_lists_what_waits_and_approve_publishes_it(isso):
    named = isso_post(isso, ESSAY, "Thank you.\nThis stayed with me.", author="Mika <i> & Co")
    long = isso_post(isso, ESSAY, "A" * 30 + " " + "b" * 80)
    other = isso_post(isso, OTHER, "Waiting, too.", author="Eve")
    assert {named["mode"], long["mode"], other["mode"]} == {2}  # moderation: nothing appears unseen
    with sqlite3.connect(isso.db) as connection:  # the server now refuses these; an older database may hold them
        connection.execute("UPDATE comments SET text = ?, author = ? WHERE id = ?",
                           ("Waiting, \x1b[2J\x1b]0;pwned\x07too.", "\x1b[31mEve", other["id"]))

    listed = task(isso, "comments.pending").stdout
    blocks = {block.split()[1]: block for block in re.split(r"\n\n(?=Comment \d+ on )", listed)
              if block.startswith("Comment ")}
    assert list(blocks) == [str(named["id"]), str(long["id"]), str(other["id"])]  # oldest first
    assert f"on {ESSAY} " in blocks[str(named["id"])] and f"on {OTHER} " in blocks[str(other["id"])]
    assert "by Mika <i> & Co," in blocks[str(named["id"])]  # as typed, not as Isso stores it (escaped)
    assert "by anonymous," in blocks[str(long["id"])]
    assert "    Thank you.\n    This stayed with me." in blocks[str(named["id"])]  # the whole text
    assert "b" * 80 in blocks[str(long["id"])]  # not cut
    assert "3 comments waiting" in listed
    assert "\x1b" not in listed and "\x07" not in listed  # a comment cannot drive the writer's terminal
    assert "Waiting, �[2J�]0;pwned�too." in blocks[str(other["id"])]
    assert "by �[31mEve," in blocks[str(other["id"])]
    assert isso_thread(isso, ESSAY) == {}

    result = task(isso, "comments.approve", f"{named['id']},{other['id']}")
    assert f"Approved comment {named['id']}." in result.stdout
    shown = isso_thread(isso, ESSAY)
    assert set(shown) == {named["id"]} and shown[named["id"]]["text"] == "<p>Thank you.<br>\nThis stayed with me.</p>"
    assert set(isso_thread(isso, OTHER)) == {other["id"]}

    again = task(isso, "comments.approve", str(named["id"]))
    assert "already public" in again.stdout
    listed = task(isso, "comments.pending").stdout
    assert str(long["id"]) in listed and "1 comment waiting" in listed

    # Isso, still running, goes on taking comments after the task wrote to its database.
    assert isso_post(isso, ESSAY, "After the approval.")["mode"] == 2


def test_unknown_or_bad_ids_are_refused_and_change_nothing(isso, tmp_path):
    waiting = isso_post(isso, ESSAY, "Please let me in.")["id"]
    before = rows(isso.db)
    backups = tmp_path / "backups"
    for args, named in [(("comments.approve", f"{waiting},999"), "999"), (("comments.approve", "12x"), "12x"),
                        (("comments.delete", f"998,{waiting}"), "998")]:
        result = task(isso, *args, "--dir", str(backups), check=False) if args[0] == "comments.delete" \
            else task(isso, *args, check=False)
        assert result.returncode != 0, result.stdout
        assert named in result.stdout and "Nothing was changed" in result.stdout
        assert rows(isso.db) == before
    assert not backups.exists()  # a refused delete makes no backup either
    assert isso_thread(isso, ESSAY) == {}


def test_delete_backs_up_first_and_removes_the_comment(isso, tmp_path):
    spam = isso_post(isso, ESSAY, "Buy cheap things at example.com")["id"]
    kept = isso_post(isso, ESSAY, "A real thought.")["id"]
    backups = tmp_path / "backups"

    result = task(isso, "comments.delete", str(spam), "--dir", str(backups))
    assert f"Deleted comment {spam}." in result.stdout
    (saved,) = backups.iterdir()
    assert str(saved) in result.stdout
    with sqlite3.connect(saved) as copy:
        assert copy.execute("SELECT text FROM comments WHERE id = ?", (spam,)).fetchone() == ("Buy cheap things at example.com",)
    assert [row[0] for row in rows(isso.db)] == [kept]
    assert "No comment with id" in task(isso, "comments.approve", str(spam), check=False).stdout

    task(isso, "comments.approve", str(kept))
    assert set(isso_thread(isso, ESSAY)) == {kept}
    assert "No comments are waiting." in task(isso, "comments.pending").stdout


def test_moderating_with_only_what_production_requires(isso, tmp_path):
    """On the server the tasks read the service's environment file, which need
    not spell out the defaults the server fills in itself."""
    waiting = isso_post(isso, ESSAY, "Hello from production.")["id"]
    defaults = ("KIZUNA_ISSO_REPLY_NOTIFICATIONS", "KIZUNA_ISSO_RATELIMIT", "KIZUNA_ISSO_TRUSTED_PROXIES",
                "KIZUNA_SMTP_PORT", "KIZUNA_SMTP_SECURITY", "KIZUNA_SMTP_USERNAME", "KIZUNA_SMTP_PASSWORD")
    env = {k: v for k, v in isso.env.items() if k not in defaults}
    result = invoke(ROOT, "comments.approve", str(waiting), env=env)  # no --db: $KIZUNA_ISSO_DB
    assert f"Approved comment {waiting}." in result.stdout
    assert set(isso_thread(isso, ESSAY)) == {waiting}

    unsafe = {**env, "KIZUNA_ISSO_ADMIN_PASSWORD": ""}
    refused = invoke(ROOT, "comments.delete", str(waiting), "--dir", str(tmp_path / "b"), check=False, env=unsafe)
    assert refused.returncode != 0 and "KIZUNA_ISSO_ADMIN_PASSWORD is not set" in refused.stdout
    assert set(isso_thread(isso, ESSAY)) == {waiting}
