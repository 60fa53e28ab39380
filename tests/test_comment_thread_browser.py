"""In the thread, as readers on a phone and on a desktop see it, through the
staged production stack (nginx + gunicorn Isso) in Chromium (issue 11):
a refused comment says why beside the form and keeps its words; a reader's
own waiting comment stays on their screen, marked, across reloads, until the
writer approves or removes it; nothing in the console, and axe finds nothing."""

import json
import time
import urllib.parse

import pytest
from axe_playwright_python.sync_playwright import Axe

from support import ESSAY_PATH, approve_comments
from test_comment_promises import db_rows
from test_stage import CACHE_PASSED, CLIENTS, fresh, open_watched, settled_problems, show_comments, staged

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """The site built and staged with production's limit of 3 conversations per reader and essay an hour."""
    yield from staged(tmp_path_factory.mktemp("thread"), {"KIZUNA_ISSO_RATELIMIT": "1000"}, workers=2,
                      unset=["KIZUNA_ISSO_DIRECT_REPLY"])


@pytest.fixture
def fresh_hour(stage):
    """Each test starts as if an hour had passed: the browser is one reader (127.0.0.1) in all of them."""
    yield
    db_rows(stage, "UPDATE comments SET created = created - 7200")


@pytest.fixture(params=sorted(VIEWPORTS))
def reader(request, stage, browser, fresh_hour):
    contexts = []
    page, problems = open_watched(browser, contexts)
    page.set_viewport_size(VIEWPORTS[request.param])
    yield page, problems
    for context in contexts:
        context.close()


def send(page, text, expect_status):
    textarea = page.locator("#isso-thread .isso-postbox .isso-textarea").first
    textarea.fill(text)
    with page.expect_response(lambda r: "/isso/new?" in r.url and r.request.method == "POST") as answered:
        page.locator("#isso-thread .isso-postbox .isso-post-action input[type=submit]").first.click()
    assert answered.value.status == expect_status, answered.value.text()
    return answered.value


def expected_refusal_noise(problems) -> list:
    """What a refused post leaves in the console by design: the browser's note of the 403, and Isso's own
    console.error of the answer. Anything else is a problem."""
    return [p for p in problems if not ("403" in p and "/isso/new" in p) and "Failed to load resource" not in p
            and "not sent" not in p and "conversations on this essay" not in p]


def test_a_refusal_is_said_beside_the_form_and_the_words_stay(stage, reader):
    page, problems = reader
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    for n in range(3):
        send(page, f"Conversation number {n}, from one reader.", 202)
    words = "A fourth conversation, one too many this hour."
    send(page, words, 403)
    said = page.locator("#isso-thread .isso-postbox .kizuna-refusal")
    said.wait_for()
    assert said.get_attribute("role") == "alert"
    text = said.inner_text()
    assert text.startswith("Your comment was not sent: you have started 3 conversations on this essay"), text
    assert "You can still reply to a comment" in text and "still in the box" in text, text
    assert page.locator("#isso-thread .isso-postbox .isso-textarea").first.input_value() == words
    violations = Axe().run(page, context="#comments").response["violations"]
    assert violations == [], json.dumps(violations, indent=1)[:3000]
    assert expected_refusal_noise(settled_problems(page, problems)) == []


@pytest.mark.parametrize("name, text, words", [
    ("Κ.Α.L.Τ", "I am the writer, honestly.", "is the writer's name, or looks like it"),  # Greek Κ, Α, Τ
    ("k a l t", "Me again, the writer.", "is the writer's name, or looks like it"),
    ("Mika", "word " * 4001, "text is too long (at most 20,000 characters)"),
])
def test_every_refusal_is_said_in_words(stage, reader, name, text, words):
    page, problems = reader
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    page.locator("#isso-thread .isso-postbox input[name=author]").first.fill(name)
    send(page, text, 400)
    said = page.locator("#isso-thread .isso-postbox .kizuna-refusal")
    said.wait_for()
    assert said.inner_text().startswith("Your comment was not sent: ") and words in said.inner_text(), said.inner_text()
    assert page.locator("#isso-thread .isso-postbox .isso-textarea").first.input_value() == text
    # Sent again, right, the message goes.
    page.locator("#isso-thread .isso-postbox input[name=author]").first.fill("Mika")
    send(page, "A shorter thought, under my own name.", 202)
    page.wait_for_function("() => document.querySelector('#isso-thread .isso-postbox .kizuna-refusal').hidden")
    assert [p for p in expected_refusal_noise(settled_problems(page, problems)) if "400" not in p] == []


def challenges_settled(page):
    """A function that waits until every bot-check challenge the page has asked
    for has arrived: the widget fetches the next one as a comment is sent, and a
    reload in the middle would cut that request short (a "failed request")."""
    asked, arrived = [], []
    page.on("request", lambda request: "/kizuna/challenge" in request.url and asked.append(request))
    page.on("requestfinished", lambda request: "/kizuna/challenge" in request.url and arrived.append(request))

    def settled(seconds: float = 10):
        deadline = time.monotonic() + seconds
        while len(arrived) < len(asked) and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert len(arrived) == len(asked), f"{len(asked) - len(arrived)} challenges still on their way"

    return settled


def test_a_waiting_comment_stays_with_its_reader_until_the_writer_acts(stage, reader, browser):
    page, problems = reader
    settled = challenges_settled(page)
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    kept = send(page, "Waiting, and still here after a reload.", 202).json()
    dropped = send(page, "Waiting, and then removed by the writer.", 202).json()
    assert kept["waiting"] and dropped["waiting"]

    settled()
    page.reload()
    show_comments(page, stage)
    for comment in (kept, dropped):
        waiting = page.locator(f"#waiting-{comment['id']}")
        waiting.wait_for()
        assert "Waiting for the writer to read it" in waiting.inner_text()
    assert "still here after a reload" in page.locator(f"#waiting-{kept['id']}").inner_text()
    violations = Axe().run(page, context="#comments").response["violations"]
    assert violations == [], json.dumps(violations, indent=1)[:3000]

    # Nobody else sees it.
    other_contexts = []
    other, _ = open_watched(browser, other_contexts)
    other.goto(stage.url + ESSAY_PATH)
    show_comments(other, stage)
    assert other.locator(".kizuna-waiting").count() == 0
    other_contexts[0].close()

    approve_comments(stage.db, kept["id"])
    db_rows(stage, "DELETE FROM comments WHERE id = ?", (dropped["id"],))
    time.sleep(CACHE_PASSED)
    fresh(stage, "GET", "/isso/?uri=" + urllib.parse.quote(ESSAY_PATH, safe=""), clients=CLIENTS)
    settled()
    page.reload()
    show_comments(page, stage)
    page.locator(f"#isso-root #isso-{kept['id']}").wait_for()
    assert page.locator(".kizuna-waiting").count() == 0
    page.wait_for_function("() => JSON.parse(localStorage.getItem('kizuna-waiting') || '[]').length === 0")
    assert settled_problems(page, problems) == []


def test_the_writers_reply_is_marked_and_the_counts_follow_moderation(stage, reader):
    from support import invoke
    from kizuna import ROOT
    from test_stage import form_headers, new_path

    page, problems = reader
    body = json.dumps({"text": "Thank you for writing this.", "author": "Aki", "title": "x"}).encode()
    status, _, answer = stage.request("POST", new_path(ESSAY_PATH), body, form_headers(stage.url), source="127.0.0.9")
    assert status == 202, answer
    theirs = json.loads(answer)["id"]
    approve_comments(stage.db, theirs)
    said = invoke(ROOT, "comments.reply", str(theirs), "Thank you for reading it.", "--db", str(stage.db)).stdout
    mine = int(said.split("comment ")[-1].split(",")[0])
    time.sleep(CACHE_PASSED)
    fresh(stage, "GET", "/isso/?uri=" + urllib.parse.quote(ESSAY_PATH, safe=""), clients=CLIENTS)
    _, _, counted = fresh(stage, "POST", "/isso/count", json.dumps([ESSAY_PATH]).encode(), form_headers(stage.url))
    (count,) = json.loads(counted)
    assert count >= 2

    # The page's own count request (every count on it, one body), as nginx keeps it, made fresh:
    # the read just past the micro-cache's second may still be the one from before.
    settled = challenges_settled(page)
    with page.expect_response(lambda r: r.url == stage.url + "/isso/count") as counted_here:
        page.goto(stage.url + ESSAY_PATH)
    counted_here.value.finished()  # a reload while it is on its way would cut it short
    fresh(stage, "POST", "/isso/count", counted_here.value.request.post_data_buffer, form_headers(stage.url))
    settled()
    page.reload()
    # The essay's header was baked before these comments: its count follows them live.
    page.wait_for_function("n => document.querySelector('article.essay a[data-comments]').textContent.trim()"
                           " === n + ' thoughts'", arg=count)
    show_comments(page, stage)
    marked = page.locator(f"#isso-{mine} .writer")
    marked.wait_for()
    assert marked.inner_text() == "the writer"
    assert page.locator(f"#isso-{theirs}").get_attribute("class").find("kizuna-by-writer") == -1
    assert page.locator("#isso-thread .writer").count() == 1
    violations = Axe().run(page, context="#comments").response["violations"]
    assert violations == [], json.dumps(violations, indent=1)[:3000]
    assert settled_problems(page, problems) == []


def test_the_form_lines_up_and_preview_and_edit_are_quiet(stage, reader):
    """Its fields line up along their bottom (their labels wrap to different heights), its buttons are
    buttons, not bars, and previewing and editing leave nothing in the console."""
    page, problems = reader
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    box = page.evaluate("""() => {
        const form = document.querySelector('#isso-thread .isso-postbox');
        const inputs = [...form.querySelectorAll('.isso-input-wrapper input')].map(i => i.getBoundingClientRect());
        const send = form.querySelector('.isso-post-action input[type=submit]').getBoundingClientRect();
        return {bottoms: inputs.map(r => Math.round(r.bottom)), lefts: inputs.map(r => Math.round(r.left)),
                send: send.width, form: form.getBoundingClientRect().width};
    }""")
    assert len(box["bottoms"]) == 3, box
    if len(set(box["lefts"])) == 3:  # side by side (desktop): one line
        assert max(box["bottoms"]) - min(box["bottoms"]) <= 1, box
    assert box["send"] < box["form"] / 2, box
    page.locator("#isso-thread .isso-postbox .isso-textarea").first.fill("A *preview*, then an edit.")
    page.locator("#isso-thread .isso-postbox input[name=preview]").first.click()
    page.locator("#isso-thread .isso-postbox .isso-preview em").wait_for()
    page.locator("#isso-thread .isso-postbox input[name=edit]").first.click()
    page.locator("#isso-thread .isso-postbox .isso-textarea").first.wait_for(state="visible")
    assert settled_problems(page, problems) == []
