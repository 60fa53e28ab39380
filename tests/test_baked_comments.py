"""plugins/baked_comments: approved comments and counts are written into the
pages at build time from a real Isso; pending ones are not; a build without
Isso still succeeds and says so once; every build lists the essays open to
comments in comment-threads.json, for the comment server.
(tests/test_baking_hardened.py: publishing, large threads, failing threads.)"""

import json
import os
import sqlite3
import urllib.parse
import urllib.request

from bs4 import BeautifulSoup

from conftest import invoke

THREAD = "/essays/unresolved-desire-to-connect/"


def post(isso, text, **fields):
    body = json.dumps({"text": text, "title": "Unresolved Desire to Connect", **fields}).encode()
    request = urllib.request.Request(f"{isso.url}/new?uri={urllib.parse.quote(THREAD, safe='')}", data=body,
                                     headers={"Content-Type": "application/json", "Origin": isso.site_origin})
    with urllib.request.urlopen(request) as response:
        assert response.status in (201, 202)
        return json.load(response)["id"]


def approve(isso, *ids):
    with sqlite3.connect(isso.db) as db:  # what Isso's own activate does
        db.executemany("UPDATE comments SET mode = 1 WHERE id = ?", [(i,) for i in ids])


def test_approved_comments_are_baked_escaped_and_counted(repo_copy, isso):
    shown = post(isso, "It *helped* to read this. <script>window.bad=1</script>",
                 author="Mika <i>", website="https://mika.example/")
    with sqlite3.connect(isso.db) as db:
        # Isso refuses a reply to your own comment while you may still edit it
        # (15 minutes); let that time pass.
        db.execute("UPDATE comments SET created = created - 3600 WHERE id = ?", (shown,))
    reply = post(isso, "Me too, quietly.", parent=shown)
    waiting = post(isso, "Still waiting for a person to read me.")
    approve(isso, shown, reply)

    result = invoke(repo_copy, "build", env={**os.environ, "KIZUNA_DEV_ISSO_URL": isso.url + "/"})
    assert "not baked" not in result.stdout

    page = BeautifulSoup((repo_copy / "output" / THREAD.strip("/") / "index.html").read_text(), "html.parser")
    baked = page.select_one("ol.thoughts[data-baked]")
    assert baked.select_one(f"#isso-{shown} em").get_text() == "helped"
    assert baked.select_one(f"#isso-{shown} ol #isso-{reply}")  # the reply sits under its parent
    assert baked.find(id=f"isso-{waiting}") is None
    assert "Still waiting" not in str(page)
    assert not baked.find("script") and "window.bad" not in str(baked.find_all("script"))
    author = baked.select_one(f"#isso-{shown} .meta a")
    assert author.get_text() == "Mika <i>" and author["href"] == "https://mika.example/"
    assert "nofollow" in author["rel"]
    assert page.select_one("#comments-heading span").get_text() == "(2)"

    home = BeautifulSoup((repo_copy / "output/index.html").read_text(), "html.parser")
    assert home.select_one("a[data-thoughts]").get_text() == "2 thoughts"


def test_build_without_isso_succeeds_and_says_so_once(repo_copy):
    env = {**os.environ, "KIZUNA_DEV_ISSO_URL": "http://127.0.0.1:9/"}  # nothing listens on port 9
    result = invoke(repo_copy, "build", env=env)
    assert result.stdout.count("Comments not baked") == 1
    page = (repo_copy / "output" / THREAD.strip("/") / "index.html").read_text()
    assert 'id="isso-thread"' in page and "data-baked" not in page


# --- comment-threads.json: the threads the comment server may accept -----------

NO_ISSO = {"KIZUNA_DEV_ISSO_URL": "http://127.0.0.1:9/", "KIZUNA_SITEURL": "http://127.0.0.1:9"}  # nothing listens


def threads(site) -> dict:
    return json.loads((site / "comment-threads.json").read_text(encoding="utf-8"))


def test_every_build_lists_the_essay_and_its_title(dev_site, prod_site):
    for site in (dev_site, prod_site):
        assert threads(site) == {"threads": {THREAD: "Unresolved Desire to Connect"}}, site


def test_threads_list_open_written_essays_with_plain_titles(repo_copy):
    content = repo_copy / "content"
    (content / "closed.md").write_text("Title: Closed for Now\nSlug: closed-for-now\nDate: 2026-11-01\n"
                                       "Comments: off\n\nNo answers to this one.\n")
    (content / "not-yet.md").write_text("Title: Not Yet\nSlug: not-yet\nDate: 2026-11-02\nStatus: draft\n\n"
                                        "A draft.\n")
    (content / "tea.md").write_text("Title: Tea &amp; <em>Quiet</em>\tEvenings\u2028\x1f at&nbsp;Home &lt;3\n"
                                    "Slug: tea\nDate: 2026-11-03\n\nA cup.\n", encoding="utf-8")
    env = {**os.environ, **NO_ISSO}
    expected = {THREAD: "Unresolved Desire to Connect", "/essays/tea/": "Tea & Quiet Evenings at Home <3"}

    invoke(repo_copy, "build", env=env)
    assert threads(repo_copy / "output") == {"threads": {**expected, "/essays/not-yet/": "Not Yet"}}

    invoke(repo_copy, "preview", env=env)  # drafts are not written in production, nor listed
    assert threads(repo_copy / "output") == {"threads": expected}


def test_threads_file_without_essays_is_empty(repo_copy):
    for essay in (repo_copy / "content").glob("*.md"):
        essay.unlink()
    invoke(repo_copy, "build", env={**os.environ, **NO_ISSO})
    assert threads(repo_copy / "output") == {"threads": {}}
