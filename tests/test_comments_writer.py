"""The writer's voice (issue 11): `invoke comments.pending` and
`comments.show` give a comment whole, with its essay and what it answers;
`comments.reply` answers as the writer, marked as the writer's in Isso's
answers where no reader can forge it; and no reader may comment under the
writer's name, an alias, or a look-alike of either. Against a real Isso."""

import json
import os
import sqlite3

import pytest

from kizuna import ROOT
from support import (ESSAY_PATH, _isso_running, approve_comments, invoke, isso_post, isso_request, isso_thread,
                     open_threads)

OTHER = "/essays/on-waiting/"


@pytest.fixture
def isso(tmp_path):
    """A real Isso whose writer is K.A.L.T, also known as Kaori Tanaka."""
    from kizuna.comments.settings import development_environment
    from kizuna.processes import free_port

    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    base.update({"KIZUNA_AUTHOR": "K.A.L.T", "KIZUNA_AUTHOR_ALIASES": "Kaori Tanaka, kalt-writes",
                 "KIZUNA_ISSO_RATELIMIT": "1000", "KIZUNA_ISSO_TRUSTED_PROXIES": "127.0.0.1",
                 "KIZUNA_ISSO_THREADS": str(open_threads(tmp_path / "comment-threads.json"))})
    env = development_environment(site_origin="http://127.0.0.1:8000", port=port,
                                  db=tmp_path / "data" / "comments.db", base=base)
    yield from _isso_running(env, port, "http://127.0.0.1:8000", tmp_path)


def task(isso, *args, check=True):
    return invoke(ROOT, *args, "--db", str(isso.db), check=check, env=isso.env)


def test_pending_and_show_give_the_whole_comment_its_essay_and_what_it_answers(isso):
    parent = isso_post(isso, ESSAY_PATH, "The first thought, approved.", author="Ren")
    approve_comments(isso.db, parent["id"])
    reply = isso_post(isso, ESSAY_PATH, "Thank you.\nThis stayed with me,\nall three lines of it.",
                      author="Mika <i> & Co", parent=parent["id"])
    long = isso_post(isso, OTHER, "A" * 30 + " " + "b" * 300, reader="192.0.2.9")

    listed = task(isso, "comments.pending").stdout
    assert f"Comment {reply['id']} on {ESSAY_PATH} (“Unresolved Desire to Connect”), waiting for you" in listed, listed
    assert "by Mika <i> & Co," in listed  # as typed, not as Isso stores it (escaped)
    assert f"in reply to comment {parent['id']} by Ren: The first thought, approved." in listed
    assert "    This stayed with me,\n    all three lines of it." in listed  # whole, not its first line
    assert "b" * 300 in listed  # not cut
    assert listed.index(f"Comment {reply['id']} ") < listed.index(f"Comment {long['id']} ")  # oldest first
    assert "2 comments waiting" in listed and "invoke comments.reply ID" in listed

    shown = task(isso, "comments.show", str(reply["id"])).stdout
    assert f"Comment {reply['id']} on {ESSAY_PATH}" in shown and "all three lines of it." in shown
    assert f"in reply to comment {parent['id']} by Ren" in shown
    assert "shown" in task(isso, "comments.show", str(parent["id"])).stdout.splitlines()[0]
    missing = task(isso, "comments.show", "99999", check=False)
    assert missing.returncode != 0 and "No comment with id 99999" in missing.stdout


def test_the_writer_answers_from_the_terminal_marked_where_readers_cannot_forge_it(isso):
    reader = isso_post(isso, ESSAY_PATH, "Does it get easier?", author="Aki")
    approve_comments(isso.db, reader["id"])
    # A reader who claims the mark in their request gets nothing for it.
    forger = isso_post(isso, ESSAY_PATH, "I am the writer, trust me.", author="Someone", writer=True,
                       reader="192.0.2.77")
    approve_comments(isso.db, forger["id"])

    said = task(isso, "comments.reply", str(reader["id"]), "It does, slowly. Thank you for asking.").stdout
    assert f"Replied to comment {reader['id']} as K.A.L.T" in said, said
    thread = isso_thread(isso, ESSAY_PATH)
    mine = [c for c in thread.values() if c.get("writer")]
    assert len(mine) == 1 and mine[0]["author"] == "K.A.L.T" and mine[0]["parent"] == reader["id"], thread
    assert mine[0]["text"] == "<p>It does, slowly. Thank you for asking.</p>" and mine[0]["mode"] == 1
    assert not thread[forger["id"]].get("writer") and not thread[reader["id"]].get("writer")
    assert "by you (the writer)" in task(isso, "comments.show", str(mine[0]["id"])).stdout

    # The mark belongs to that comment, not to its id: Isso gives a deleted comment's id again.
    with sqlite3.connect(isso.db) as connection:
        connection.execute("UPDATE kizuna_writer SET created = created - 1")
    assert not any(c.get("writer") for c in isso_thread(isso, ESSAY_PATH).values())

    waiting = isso_post(isso, ESSAY_PATH, "Still waiting.", reader="192.0.2.78")
    for args, words in [((str(waiting["id"]), "Hello"), "approve it first"),
                        (("99999", "Hello"), "No comment with id 99999"),
                        ((str(reader["id"]), "  "), "Write the reply after the id")]:
        refused = task(isso, "comments.reply", *args, check=False)
        assert refused.returncode != 0 and words in refused.stdout, (args, refused)


@pytest.mark.parametrize("name", [
    "K.A.L.T", "kalt", "K A L T", "К.А.L.Т",  # Cyrillic К, А, Т
    "ＫＡＬＴ", "K\u200bA\u200cL\u200dT", "K.A.1.T", "KAIT", "kaori tanaka", "Kaori  Tanaka", "KAORI-TANAKA",
    "Kaorі Tanaka",  # Cyrillic і
    "ka0ri tanaka", "kalt-writes", "KALT WRITES",
])
def test_no_reader_may_take_the_writers_name_or_a_look_alike(isso, name):
    body = json.dumps({"text": "Hello from the writer, or so it seems.", "author": name, "title": "An Essay"})
    status, answer = isso_request(isso, "POST", f"/new?uri={ESSAY_PATH}", body.encode(),
                                  {"Content-Type": "application/json"})
    # A name with zero-width characters is refused for holding them, before its likeness is looked at.
    assert status == 400 and (b"the writer" in answer or b"invisible" in answer), (name, status, answer)


def test_other_names_are_welcome(isso):
    for n, name in enumerate(("Kai", "Kaori", "Tanaka", "Walt", "Mika")):
        assert isso_post(isso, ESSAY_PATH, "A thought.", author=name, reader=f"192.0.2.{n + 10}")["mode"] == 2
