"""plugins/baked_comments: approved comments and counts are written into the
pages at build time from a real Isso; pending ones are not; a build without
Isso still succeeds and says so once."""

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
