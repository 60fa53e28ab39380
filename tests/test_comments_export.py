"""`invoke comments.export` writes what Isso's own `isso import -t generic`
reads back: comments posted through a real Isso survive export → import into
a fresh database → export, every field identical."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support import invoke, isso_post, isso_thread
from kizuna import ROOT
from kizuna.comments import moderation
from kizuna.comments.settings import CONFIG, development_environment

ESSAY = "/essays/unresolved-desire-to-connect/"
OTHER = "/essays/on-waiting/"
MARKDOWN = "絆 — «quotes», a <b>tag</b> & an *emphasis*.\n\nSecond paragraph: `code`, 🌸, ü."


def test_export_round_trips_through_isso_import(isso, tmp_path):
    full = isso_post(isso, ESSAY, MARKDOWN, title="Unresolved Desire to Connect", author="Mika <i> & Co",
                     email="mika@example.org", website="https://mika.example/kizuna?x=1&y=2")
    anonymous = isso_post(isso, ESSAY, "Just passing by.")
    elsewhere = isso_post(isso, OTHER, "A reader of few words.", title="On Waiting", author="Jōji", website="jo.example")
    assert isso_post(isso, OTHER, "Still pending.")["mode"] == 2
    moderation.approve([full["id"], anonymous["id"], elsewhere["id"]], isso.db, env=isso.env)

    # The API serves rendered HTML; the database keeps the reader's Markdown,
    # and that is what an export must carry.
    assert isso_thread(isso, ESSAY)[full["id"]]["text"].startswith("<p>")
    first = tmp_path / "first.json"
    result = invoke(ROOT, "comments.export", "--out", str(first), "--db", str(isso.db), env=isso.env)
    assert "4 comments in 2 threads (1 still pending" in result.stdout
    exported = json.loads(first.read_text(encoding="utf-8"))

    assert [thread["id"] for thread in exported] == [OTHER, ESSAY]  # by thread, then by time
    assert [thread["title"] for thread in exported] == ["On Waiting", "Unresolved Desire to Connect"]
    mika = exported[1]["comments"][0]
    assert mika["text"] == MARKDOWN
    assert mika["author"] == "Mika &lt;i&gt; &amp; Co"  # as Isso stores it: escaped on the way in
    assert mika["email"] == "mika@example.org"
    assert mika["website"] == "https://mika.example/kizuna?x=1&amp;y=2"
    assert mika["remote_addr"] == "127.0.0.0"  # Isso keeps addresses anonymised
    assert set(mika) == {"id", "author", "email", "website", "remote_addr", "created", "text"}
    with sqlite3.connect(isso.db) as db:
        created = db.execute("SELECT created FROM comments WHERE id = ?", (full["id"],)).fetchone()[0]
    assert mika["created"] == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
    assert [c["text"] for c in exported[0]["comments"]] == ["A reader of few words.", "Still pending."]
    assert [c["id"] for c in exported[0]["comments"]] == [1, 2]  # the format's ids order a thread
    assert exported[0]["comments"][0]["website"] == "http://jo.example"  # Isso adds the scheme

    fresh = tmp_path / "fresh" / "comments.db"
    env = development_environment(db=fresh, base={k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")})
    imported = subprocess.run([str(Path(sys.executable).parent / "isso"), "-c", str(CONFIG), "import", "-t", "generic",
                               str(first)], env=env, cwd=ROOT, stdin=subprocess.DEVNULL, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert imported.returncode == 0, imported.stdout

    second = tmp_path / "second.json"
    invoke(ROOT, "comments.export", "--out", str(second), "--db", str(fresh), env=env)
    assert json.loads(second.read_text(encoding="utf-8")) == exported
    with sqlite3.connect(fresh) as db:  # what the format cannot carry: Isso imports everything as public
        assert db.execute("SELECT DISTINCT mode FROM comments").fetchall() == [(1,)]


def test_export_to_stdout_approved_only_and_never_over_a_file(isso, tmp_path):
    shown = isso_post(isso, ESSAY, "Approved words.")
    isso_post(isso, ESSAY, "Pending words.")
    moderation.approve(shown["id"], isso.db, env=isso.env)

    printed = invoke(ROOT, "comments.export", "--approved-only", "--db", str(isso.db), env=isso.env).stdout
    assert "Approved words." in printed and "Pending words." not in printed

    existing = tmp_path / "old.json"
    existing.write_text("precious")
    result = invoke(ROOT, "comments.export", "--out", str(existing), "--db", str(isso.db), check=False, env=isso.env)
    assert result.returncode != 0 and "already exists" in result.stdout
    assert existing.read_text() == "precious"
