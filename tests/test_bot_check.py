"""Bots stay out without third parties (issue 11): the comment server asks
every new comment for a solved, signed, unexpired, unused ALTCHA challenge
and an empty trap field (kizuna/comments/bot_check.py), and the reader's
browser provides them unnoticed (theme/static/js/check.js).

Through the staged production stack (nginx + 3 gunicorn workers) with the
check on, as production has it: what scripts send is refused with a 4xx
(never a 5xx) and never reaches the database; readers in Chromium, on a phone
and on a desktop, by mouse and by keyboard alone, send as before, with no
console error and no CSP violation."""

import base64
import contextlib
import datetime
import gzip
import hashlib
import hmac
import html
import json
import re
import sqlite3
import threading
import time

import altcha
import pytest
from axe_playwright_python.sync_playwright import Axe

from support import ESSAY_PATH, ROOT, bot_check_answer
from test_stage import comment_ids, form_headers, new_path, open_watched, settled_problems, show_comments, staged
from kizuna.comments import bot_check
from kizuna.comments import settings as comment_settings

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
ESSAYS = {f"/essays/bots-{name}/": "A staged essay" for name in ("refused", "once", "race", "trap", "pruned")}
CHECK_ON = {"KIZUNA_ISSO_BOT_CHECK": "on", "KIZUNA_ISSO_RATELIMIT": "100000", "KIZUNA_ISSO_DIRECT_REPLY": "100000"}


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """The site built and staged with the bot check on (the tests' own environment has it off)."""
    yield from staged(tmp_path_factory.mktemp("bots"), CHECK_ON, essays=ESSAYS)


# --- Talking to it as a script would ---------------------------------------------------

def challenge(stage, source="127.0.0.1") -> dict:
    status, headers, body = stage.request("GET", "/isso/kizuna/challenge", source=source)
    assert status == 200, body[:300]
    assert headers["Cache-Control"] == "no-store"
    return json.loads(body)


def post(stage, uri, source="127.0.0.1", **fields):
    """POST /isso/new from `source` as the widget does; (status, words or JSON)."""
    body = json.dumps({"text": "A thought, sent by a script.", "title": "A staged essay", **fields}).encode()
    status, _, answer = stage.request("POST", new_path(uri), body, form_headers(stage.url), source=source)
    try:
        answer = json.loads(answer)
    except ValueError:
        answer = answer.decode(errors="replace")
    return status, answer


def words(answer) -> str:
    """What the reader is shown: the message of Isso's error page (JSON, or HTML's one paragraph)."""
    if isinstance(answer, dict):
        return answer.get("message", "")
    found = re.search(r"<p>(.*?)</p>", answer, re.S)
    return html.unescape(found.group(1)) if found else answer


def server_key(stage) -> str:
    """The key the stage signs its challenges with (from its database, as the server derives it)."""
    with contextlib.closing(sqlite3.connect(stage.db, timeout=10)) as connection:
        session_key = connection.execute("SELECT value FROM preferences WHERE key = 'session-key'").fetchone()[0]
    return bot_check.signing_key(session_key)


def encoded(payload: dict) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def signed_elsewhere(key: str, expires: float | None) -> str:
    """A solved challenge signed with `key`, expiring at `expires` (None: never)."""
    made = altcha.create_challenge_v1(algorithm="SHA-256", max_number=1000, hmac_key=key,
                                      expires=None if expires is None else datetime.datetime.fromtimestamp(
                                          expires, datetime.timezone.utc))
    return bot_check_answer({"algorithm": made.algorithm, "challenge": made.challenge, "maxnumber": 1000,
                             "salt": made.salt, "signature": made.signature})


def forged(stage, kind: str):
    """What bots send instead of a solution."""
    fresh = challenge(stage)
    solved = json.loads(base64.b64decode(bot_check_answer(fresh)))
    return {
        "no solution": None,
        "fetched, not solved": encoded({**solved, "number": (solved["number"] + 1) % (fresh["maxnumber"] + 1)}),
        "a signature made up": encoded({**solved, "signature": hashlib.sha256(b"made up").hexdigest()}),
        "a challenge made up": encoded({**solved, "challenge": hashlib.sha256(b"made up").hexdigest()}),
        "signed with another key": signed_elsewhere("another key", time.time() + 600),
        "expired": signed_elsewhere(server_key(stage), time.time() - 1),
        "never expires": signed_elsewhere(server_key(stage), None),
        "another algorithm": encoded({**solved, "algorithm": "SHA-1"}),
        "number as text": encoded({**solved, "number": str(solved["number"])}),
        "salt not text": encoded({**solved, "salt": 12}),
        "not base64": "%%% not base64 %%%",
        "base64 of a list": encoded([solved]),
        "a number": 12,
        "an object": solved,
        "huge": "A" * 30_000,
    }[kind]


FORGERIES = ["no solution", "fetched, not solved", "a signature made up", "a challenge made up",
             "signed with another key", "expired", "never expires", "another algorithm", "number as text",
             "salt not text", "not base64", "base64 of a list", "a number", "an object", "huge"]


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_comment_without_a_good_solution_is_refused_before_isso(stage, kind):
    uri = "/essays/bots-refused/"
    before = comment_ids(stage.db)
    fields = {} if kind == "no solution" else {"altcha": forged(stage, kind)}
    status, answer = post(stage, uri, **fields)
    assert status == 403 and words(answer) == bot_check.NOT_CHECKED, (status, answer)
    assert comment_ids(stage.db) == before


def test_a_solution_works_once(stage):
    uri = "/essays/bots-once/"
    solution = bot_check_answer(challenge(stage))
    status, comment = post(stage, uri, altcha=solution)
    assert status == 202, comment
    assert comment_ids(stage.db, uri) == {comment["id"]}
    status, answer = post(stage, uri, source="127.0.0.9", altcha=solution)  # a copy, from elsewhere
    assert status == 403 and words(answer) == bot_check.NOT_CHECKED, answer
    assert comment_ids(stage.db, uri) == {comment["id"]}
    # What the widget sends besides the comment is not stored with it.
    with contextlib.closing(sqlite3.connect(stage.db)) as connection:
        text = " ".join(map(str, connection.execute("SELECT * FROM comments WHERE id = ?", (comment["id"],)).fetchone()))
    assert solution not in text


def test_a_solution_sent_to_every_worker_at_once_is_taken_once(stage):
    uri = "/essays/bots-race/"
    solution = bot_check_answer(challenge(stage))
    statuses, start = [], threading.Barrier(16)

    def send(n):
        start.wait()
        statuses.append(post(stage, uri, source=f"127.0.0.{20 + n}", altcha=solution)[0])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [202] + [403] * 15, statuses
    assert len(comment_ids(stage.db, uri)) == 1


@pytest.mark.parametrize("filled", ["Buy now", " ", 1, True, ["x"], {"a": 1}])
def test_a_filled_trap_is_refused_quietly(stage, filled):
    uri = "/essays/bots-trap/"
    before = comment_ids(stage.db)
    status, answer = post(stage, uri, altcha=bot_check_answer(challenge(stage)), subject=filled)
    assert status == 403 and words(answer) == bot_check.TRAPPED, answer
    assert "trap" not in words(answer).lower() and "bot" not in words(answer).lower()
    assert comment_ids(stage.db) == before
    status, answer = post(stage, uri, altcha=bot_check_answer(challenge(stage)), subject="")  # what the page sends
    assert status == 202, answer


def test_used_solutions_are_kept_only_until_they_expire(stage):
    with contextlib.closing(sqlite3.connect(stage.db, timeout=10)) as connection, connection:
        connection.execute("INSERT INTO kizuna_used_solutions (challenge, expires) VALUES ('old', 1)")
    status, answer = post(stage, "/essays/bots-pruned/", altcha=bot_check_answer(challenge(stage)))
    assert status == 202, answer
    with contextlib.closing(sqlite3.connect(stage.db, timeout=10)) as connection:
        kept = connection.execute("SELECT challenge, expires FROM kizuna_used_solutions").fetchall()
    assert ("old", 1) not in kept and kept and all(expires > time.time() for _, expires in kept)


def test_challenges_are_signed_fresh_and_short_lived(stage):
    first, second = challenge(stage), challenge(stage)
    assert first["salt"] != second["salt"] and first["algorithm"] == "SHA-256"
    assert first["maxnumber"] == bot_check.MAX_NUMBER and first["lifetime"] == bot_check.LIFETIME
    expires = float(first["salt"].split("expires=")[1].split("&")[0])
    assert time.time() < expires <= time.time() + bot_check.LIFETIME + 1
    key = server_key(stage)
    assert hmac.compare_digest(altcha.hmac_hex("SHA-256", first["challenge"].encode(), key), first["signature"])
    # The key is not the database's session key itself (which signs Isso's cookies).
    with contextlib.closing(sqlite3.connect(stage.db)) as connection:
        session_key = connection.execute("SELECT value FROM preferences WHERE key = 'session-key'").fetchone()[0]
    assert key != session_key
    status, _, _ = stage.request("POST", "/isso/kizuna/challenge", b"{}", form_headers(stage.url))
    assert status == 405


def test_the_check_is_on_unless_a_writer_turns_it_off():
    development = comment_settings.development_environment(base={})
    given = {"KIZUNA_ISSO_DB": "x", "KIZUNA_ISSO_THREADS": "x", "KIZUNA_ISSO_HOST": "https://a.example",
             "KIZUNA_ISSO_LISTEN": "http://127.0.0.1:1", "KIZUNA_ISSO_PUBLIC_ENDPOINT": "https://a.example/isso",
             "KIZUNA_ISSO_ADMIN_PASSWORD": "x" * 16, "KIZUNA_ISSO_SALT": "y" * 16, "KIZUNA_ISSO_NOTIFY": "stdout"}
    production = comment_settings.production_environment(given)
    assert bot_check.required(development) and bot_check.required(production)
    assert all(not bot_check.required({"KIZUNA_ISSO_BOT_CHECK": value}) for value in ("off", "OFF", "false", "0"))
    assert bot_check.required({"KIZUNA_ISSO_BOT_CHECK": "of"}), "a typo must not turn it off"


def test_the_check_weighs_under_ten_kilobytes_compressed():
    script = (ROOT / "theme" / "static" / "js" / "check.js").read_bytes()
    assert len(gzip.compress(script, 9)) <= 10 * 1024


# --- Readers in a browser ---------------------------------------------------------------

@pytest.fixture(params=sorted(VIEWPORTS))
def reader(request, stage, browser):
    contexts = []
    page, problems = open_watched(browser, contexts)
    page.set_viewport_size(VIEWPORTS[request.param])
    scripts = []
    page.on("request", lambda r: re.search(r"/theme/js/check\.[0-9a-f]{10}\.js$", r.url) and scripts.append(r.url))
    yield page, problems, scripts
    for context in contexts:
        context.close()


def sent(page, action):
    """Do `action` (which sends the comment); the POST's request and response."""
    with page.expect_response(lambda r: "/isso/new?" in r.url and r.request.method == "POST") as answered:
        action()
    return answered.value.request, answered.value


def test_a_reader_writes_and_sends_without_noticing(stage, reader):
    page, problems, scripts = reader
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    assert scripts == [], "check.js must not load with the page"
    textarea = page.locator("#isso-thread .isso-postbox .isso-textarea").first
    textarea.click()
    textarea.press_sequentially("Typed by a person, at a person's pace.")
    request, response = sent(page, lambda: page.locator("#isso-thread .isso-post-action input[type=submit]")
                             .first.click())
    assert response.status == 202, response.text()
    assert len(scripts) == 1
    body = request.post_data_json
    assert body["altcha"] and body["subject"] == ""
    page.locator(f"#isso-root #isso-{response.json()['id']}").wait_for()
    assert settled_problems(page, problems) == []
    # A second comment gets a fresh solution of its own.
    textarea.fill("And a second thought, a little later.")
    request, response = sent(page, lambda: page.locator("#isso-thread .isso-post-action input[type=submit]")
                             .first.click())
    assert response.status == 202, response.text()
    assert request.post_data_json["altcha"] != body["altcha"]
    assert settled_problems(page, problems) == []


def focused(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {tag: e.tagName, type: e.type || "", name: e.name || "", cls: e.className || "",
                trap: !!(e.closest && e.closest('.kizuna-trap'))}; }""")


def tab_until(page, wanted, passed, most=400):
    for _ in range(most):
        page.keyboard.press("Tab")
        now = focused(page)
        passed.append(now)
        if wanted(now):
            return
    raise AssertionError(f"never reached it by Tab; passed {passed[-10:]}")


def test_a_keyboard_reader_tabs_types_and_sends(stage, reader):
    page, problems, scripts = reader
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    passed = []
    tab_until(page, lambda e: e["tag"] == "TEXTAREA", passed)
    page.keyboard.type("Written with the keyboard alone.")
    tab_until(page, lambda e: e["type"] == "submit", passed)
    request, response = sent(page, lambda: page.keyboard.press("Enter"))
    assert response.status == 202, (response.text(), request.post_data)
    assert request.post_data_json["altcha"]
    assert not any(e["trap"] or e["name"] == bot_check.TRAP for e in passed), "the trap was reached by Tab"
    assert settled_problems(page, problems) == []


def test_the_trap_is_out_of_sight_reach_and_hearing(stage, reader):
    page, problems, scripts = reader
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    page.locator("#isso-thread .isso-postbox .isso-textarea").first.focus()
    trap = page.locator(f"#isso-thread .isso-postbox input[name={bot_check.TRAP}]").first
    trap.wait_for(state="attached")
    assert trap.get_attribute("tabindex") == "-1" and trap.get_attribute("autocomplete") == "off"
    assert trap.evaluate("e => e.closest('[aria-hidden=true]') !== null && e.closest('[inert]') !== null")
    box = trap.bounding_box()
    assert box is None or box["x"] + box["width"] <= 0, box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the trap widened the page"
    violations = Axe().run(page, context="#comments").response["violations"]
    assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    assert settled_problems(page, problems) == []


def test_a_comment_sent_before_the_check_has_loaded_waits_for_it(stage, reader):
    """A quick reader (words pasted, Send at once) on a slow network: the widget's
    POST is held until check.js has come and solved its challenge."""
    page, problems, scripts = reader
    slow = []
    page.route("**/theme/js/check.*.js", lambda route: slow.append(route))  # held until let go below
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    page.locator("#isso-thread .isso-postbox .isso-textarea").first.fill("Pasted, and sent at once.")
    for _ in range(100):
        if slow:
            break
        page.wait_for_timeout(50)
    assert slow, "check.js was not asked for when the reader began to write"
    posted = []
    page.on("request", lambda r: "/isso/new?" in r.url and posted.append(r))
    with page.expect_response(lambda r: "/isso/new?" in r.url and r.request.method == "POST") as answered:
        page.locator("#isso-thread .isso-post-action input[type=submit]").first.click()
        page.wait_for_timeout(500)
        assert posted == [], "the comment left before the check had loaded"
        slow[0].continue_()
    assert answered.value.status == 202, answered.value.text()
    assert answered.value.request.post_data_json["altcha"]
    assert settled_problems(page, problems) == []


def test_a_reader_whose_check_failed_is_told_and_can_send_again(stage, reader):
    page, problems, scripts = reader
    page.goto(stage.url + ESSAY_PATH)
    show_comments(page, stage)
    page.route("**/isso/kizuna/challenge", lambda route: route.abort())
    textarea = page.locator("#isso-thread .isso-postbox .isso-textarea").first
    words_kept = "Words that must not be lost."
    textarea.fill(words_kept)
    submit = page.locator("#isso-thread .isso-post-action input[type=submit]").first
    _, response = sent(page, submit.click)
    assert response.status == 403
    said = page.locator("#isso-thread .isso-postbox .kizuna-refusal").first
    said.wait_for()
    assert "your browser did not finish its check" in said.inner_text().lower()
    assert textarea.input_value() == words_kept
    page.unroute("**/isso/kizuna/challenge")
    _, response = sent(page, submit.click)
    assert response.status == 202, response.text()
