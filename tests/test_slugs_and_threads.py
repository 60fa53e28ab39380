"""Slugs in the title's own script, and comment threads that outlive a
renamed essay. Observed before: `絆` got the slug `ban` and the tag `手紙` the
page /tags/shou-zhi/; changing an essay's slug cut it off from its comments
(threads are keyed on /essays/<slug>/) and broke every link to it."""

import json
import os
import sqlite3

from bs4 import BeautifulSoup

from support import invoke, isso_post, open_threads

ESSAY = """Title: {title}
Date: 2026-11-20 08:00
Category: Essays
Tags: {tags}
Summary: A short essay for a test.
{extra}
A paragraph of the essay, long enough to read as one.
"""


def write(copy, name, title, tags="memory", extra=""):
    (copy / "content" / f"{name}.md").write_text(ESSAY.format(title=title, tags=tags, extra=extra), encoding="utf-8")


def page(output, *parts):
    return BeautifulSoup((output.joinpath(*parts) / "index.html").read_text(encoding="utf-8"), "html.parser")


def test_titles_and_tags_in_any_script_keep_their_words(repo_copy):
    write(repo_copy, "kizuna-ja", "絆", tags="手紙, 記憶")
    write(repo_copy, "privet", "Привет, мир")
    invoke(repo_copy, "build")
    output = repo_copy / "output"
    assert page(output, "essays", "絆").find("h1").get_text() == "絆"
    assert (output / "essays" / "привет-мир" / "index.html").is_file()
    assert (output / "tags" / "手紙" / "index.html").is_file() and (output / "tags" / "記憶" / "index.html").is_file()
    assert not (output / "essays" / "ban").exists() and not (output / "tags" / "shou-zhi").exists()
    threads = json.loads((output / "comment-threads.json").read_text(encoding="utf-8"))["threads"]
    assert threads["/essays/絆/"] == "絆"


def test_a_renamed_essay_keeps_its_thread_and_its_old_address(repo_copy, isso):
    # Comments written while the essay lived at /essays/on-waiting/ …
    open_threads(isso.env["KIZUNA_ISSO_THREADS"], {"/essays/on-waiting/": "On Waiting"})
    cid = isso_post(isso, "/essays/on-waiting/", "Written when it was still called On Waiting.")["id"]
    with sqlite3.connect(isso.db) as db:
        db.execute("UPDATE comments SET mode = 1 WHERE id = ?", (cid,))
    # … then the writer renamed it, keeping the thread.
    write(repo_copy, "waiting", "What Waiting Taught Me", extra="Slug: what-waiting-taught-me\nThread: /essays/on-waiting/\n")
    invoke(repo_copy, "build", env={**os.environ, "KIZUNA_DEV_ISSO_URL": isso.url + "/"})
    output = repo_copy / "output"

    essay = page(output, "essays", "what-waiting-taught-me")
    assert essay.select_one("#isso-thread")["data-isso-id"] == "/essays/on-waiting/"
    assert "Written when it was still called On Waiting." in essay.select_one("#comments").get_text()
    threads = json.loads((output / "comment-threads.json").read_text(encoding="utf-8"))["threads"]
    assert threads["/essays/on-waiting/"] == "What Waiting Taught Me"
    assert "/essays/what-waiting-taught-me/" not in threads

    old = page(output, "essays", "on-waiting")  # old links (and links in old mail) still arrive
    assert old.find("link", rel="canonical")["href"].endswith("/essays/what-waiting-taught-me/")
    assert "url=/essays/what-waiting-taught-me/" in old.find("meta", attrs={"http-equiv": "refresh"})["content"]


def test_a_thread_that_is_not_an_address_stops_the_build(repo_copy):
    before = sorted(p.name for p in (repo_copy / "content").iterdir())
    write(repo_copy, "bad-thread", "A Bad Thread", extra="Thread: on waiting\n")
    result = invoke(repo_copy, "build", check=False)
    assert result.returncode != 0
    assert "bad-thread.md" in result.stdout and "Thread: 'on waiting' is not an address" in result.stdout
    assert sorted(p.name for p in (repo_copy / "content").iterdir()) == sorted(before + ["bad-thread.md"])


def test_new_makes_the_slug_pelican_makes(repo_copy):
    result = invoke(repo_copy, "new", "絆 と 手紙")
    path = repo_copy / "content" / "絆-と-手紙.md"
    assert path.is_file(), result.stdout
    assert "Slug: 絆-と-手紙" in path.read_text(encoding="utf-8")


def test_two_essays_cannot_share_a_thread(repo_copy):
    write(repo_copy, "copycat", "A Copycat", extra="Thread: /essays/unresolved-desire-to-connect/\n")
    result = invoke(repo_copy, "build", check=False)
    assert result.returncode != 0
    assert "copycat.md" in result.stdout and "is already" in result.stdout and "unresolved-desire-to-connect.md" \
        in result.stdout
