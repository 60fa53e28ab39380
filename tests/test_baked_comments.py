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

from support import invoke

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
    baked = page.select_one("ol.comments-list[data-baked]")
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
    assert home.select_one("a[data-comments]").get_text() == "2 thoughts"


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

    invoke(repo_copy, "preview", "--build-only", env=env)  # drafts are not written in production, nor listed
    assert threads(repo_copy / "output") == {"threads": expected}


def test_threads_file_without_essays_is_empty(repo_copy):
    for essay in (repo_copy / "content").glob("*.md"):
        essay.unlink()
    invoke(repo_copy, "build", env={**os.environ, **NO_ISSO})
    assert threads(repo_copy / "output") == {"threads": {}}


# --- One home for the comment rules and the widget's options ----------------

SITE_CHANGES = '''
COMMENTS_THREAD_ID = "/thread/{slug}/"
ISSO_OPTIONS = {**ISSO_OPTIONS, "vote": True, "reply-to-self": True, "max-comments-top": 10,
                "postbox-submit-text-en": 'Send "now" & <later>'}
del ISSO_OPTIONS["avatar"]
'''


def isso_attributes(page) -> dict:
    thread = page.find(id="isso-thread")
    return {name.removeprefix("data-isso-"): value for name, value in thread.attrs.items()
            if name.startswith("data-isso-") and name != "data-isso-id"}


def as_attributes(options: dict) -> dict:
    return {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in options.items()}


def test_the_thread_carries_isso_options_as_data_attributes(dev_site):
    from pelican.settings import read_settings

    from kizuna import DEV_SETTINGS

    options = read_settings(str(DEV_SETTINGS))["ISSO_OPTIONS"]
    assert options["css"] is False and options["max-comments-nested"] == "inf"
    page = BeautifulSoup((dev_site / THREAD.strip("/") / "index.html").read_text(), "html.parser")
    assert isso_attributes(page) == {"lang": "en", **as_attributes(options)}


def test_comment_rules_and_widget_options_follow_the_settings(repo_copy):
    """COMMENTS_THREAD_ID is read once, by the plugin: the page's thread, the
    count link and comment-threads.json all follow it; ISSO_OPTIONS changes the
    thread's data-isso-* attributes, escaped; a draft with its comments off
    shows none, and an essay in French gives the widget its language."""
    with open(repo_copy / "pelicanconf.py", "a", encoding="utf-8") as settings:
        settings.write(SITE_CHANGES)
    content = repo_copy / "content"
    (content / "closed-draft.md").write_text("Title: Closed Draft\nDate: 2026-11-04\nStatus: draft\n"
                                             "Comments: off\n\nNot yet, and never answered.\n")
    (content / "francais.md").write_text("Title: En français\nSlug: en-francais\nDate: 2026-11-05\nLang: fr\n\n"
                                         "Un essai.\n", encoding="utf-8")
    invoke(repo_copy, "build", env={**os.environ, **NO_ISSO})
    output = repo_copy / "output"

    def page(path):
        return BeautifulSoup((output / path).read_text(encoding="utf-8"), "html.parser")

    essay = page("essays/unresolved-desire-to-connect/index.html")
    assert essay.find(id="isso-thread")["data-isso-id"] == "/thread/unresolved-desire-to-connect/"
    assert page("index.html").select_one('a[href$="/unresolved-desire-to-connect/#comments"]')["data-comments"] \
        == "/thread/unresolved-desire-to-connect/"
    assert threads(output)["threads"] == {"/thread/unresolved-desire-to-connect/": "Unresolved Desire to Connect",
                                          "/thread/en-francais/": "En français"}
    attributes = isso_attributes(essay)
    assert "avatar" not in attributes
    assert attributes["vote"] == "true" and attributes["reply-to-self"] == "true"
    assert attributes["max-comments-top"] == "10" and attributes["lang"] == "en"
    assert attributes["postbox-submit-text-en"] == 'Send "now" & <later>'
    assert 'data-isso-postbox-submit-text-en="Send &#34;now&#34; &amp; &lt;later&gt;"' in \
        (output / "essays/unresolved-desire-to-connect/index.html").read_text(encoding="utf-8")

    french = [path for path in output.rglob("*.html") if "en-francais" in str(path)]  # where Lang: puts it
    assert len(french) == 1 and isso_attributes(page(french[0]))["lang"] == "fr"
    draft = page("drafts/closed-draft/index.html")
    assert draft.find(id="comments") is None and draft.find("a", href="#comments") is None


def test_an_option_name_that_is_not_an_attribute_name_stops_the_build(repo_copy):
    with open(repo_copy / "pelicanconf.py", "a", encoding="utf-8") as settings:
        settings.write("ISSO_OPTIONS = {**ISSO_OPTIONS, 'x\" onload=\"alert(1)': 1}\n")
    result = invoke(repo_copy, "build", check=False, env={**os.environ, **NO_ISSO})
    assert result.returncode != 0
    assert "ISSO_OPTIONS" in result.stdout and "is not an option name" in result.stdout, result.stdout


def test_the_writers_reply_is_baked_with_its_mark_and_a_look_alike_name_is_not(repo_copy, isso):
    from kizuna import ROOT

    theirs = post(isso, "Does it get easier?", author="Aki")
    approve(isso, theirs)
    said = invoke(ROOT, "comments.reply", str(theirs), "Slowly, yes.", "--db", str(isso.db), env=isso.env).stdout
    mine = int(said.split("comment ")[-1].split(",")[0])
    # A comment the writer did not make is not marked, whatever it says of itself.
    with sqlite3.connect(isso.db) as db:
        db.execute("UPDATE comments SET author = 'K.A.L.T' WHERE id = ?", (theirs,))  # e.g. from before the rule

    invoke(repo_copy, "build", env={**os.environ, "KIZUNA_DEV_ISSO_URL": isso.url + "/"})
    page = BeautifulSoup((repo_copy / "output" / THREAD.strip("/") / "index.html").read_text(), "html.parser")
    marks = page.select("ol.comments-list .writer")
    assert [mark.get_text() for mark in marks] == ["the writer"]
    assert marks[0].find_parent("li")["id"] == f"isso-{mine}"
