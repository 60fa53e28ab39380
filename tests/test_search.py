"""Site search (plugins/site_search, templates/search.html, js/search.js) in a
real browser: Debian's chromium, driven by Playwright.

Two builds of the same content, made once for the module: the repository's
essays and About page, with a few more essays beside them (one a draft, one
hidden, one with a content note). The production build is served by Debian's
nginx with the rendered production configuration (kizuna.stage, without the
comment server), so its Content-Security-Policy, caching and compressed
copies are the real ones; the development build is served by kizuna.serve,
as `invoke serve` serves it, drafts and all.

A reader types a word and finds the essay, with its title, date and a
snippet; moves through the results with the keyboard and opens one; sees
what they typed as text, however it looks; without JavaScript is told so and
sent to the archives. Nothing but published essays and pages is found; an
essay page asks for nothing of search's; the browser reports no CSP
violation; and a failed build leaves the old index in place."""

import gzip
import json
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from kizuna import CONTENT, DEV_SETTINGS, PROD_SETTINGS, ROOT
from kizuna.build import BuildError, build
from kizuna.processes import running, wait_until_listening
from kizuna.stage import Stage, prepare
from support import free_port, require_tool, serving, watch

SEED = "/essays/unresolved-desire-to-connect/"
SEED_WORD = "Kiznaiver"  # in the seed essay's epigraph, and nowhere else
SHARED = "harbour"  # in three published essays
DRAFT_WORD = "zephyrine"  # only in a draft
HIDDEN_WORD = "quillwort"  # only in a hidden essay
TAG_ONLY = "marginalia"  # a tag's name, in no essay's words
PRIVACY_WORD = "cookie"  # on the privacy page only

ESSAYS = {
    "harbour-lights.md": f"""Title: Harbour Lights
Date: 2026-10-01 09:00
Tags: {TAG_ONLY}
Summary: Lights.

The {SHARED} lights came on one by one, and nobody spoke.
""",
    "the-long-pier.md": f"""Title: The Long Pier
Date: 2026-10-02 09:00
Tags: walking
Summary: A pier.
Content-Note: grief

We walked the length of the {SHARED} wall, remembering someone.
""",
    "tides.md": f"""Title: Tides
Date: 2026-10-03 09:00
Tags: walking
Summary: Tides.

At low tide the {SHARED} smells of salt and of waiting.
""",
    "unfinished.md": f"""Title: Unfinished
Date: 2026-10-04 09:00
Status: draft
Summary: Not yet.

A {DRAFT_WORD} morning, not ready to be read.
""",
    "tucked-away.md": f"""Title: Tucked Away
Date: 2026-10-05 09:00
Status: hidden
Summary: Hidden.

A {HIDDEN_WORD} by the door, for those given the link.
""",
}
PUBLISHED = 5  # the seed essay, three essays above and the About page

RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
window.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
}, true);
"""
axe = Axe()


@pytest.fixture(scope="module")
def content(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("search-content") / "content"
    shutil.copytree(CONTENT, folder)
    for name, text in ESSAYS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def staged(tmp_path_factory, content):
    """The production build behind the production nginx configuration, on
    loopback (the comment server is not started: search does not need it).
    Yields (the site's URL, its built folder); nginx is stopped by pid afterwards."""
    require_tool("nginx")
    prefix = tmp_path_factory.mktemp("search-stage")
    port = free_port()
    isso_port = free_port()
    while isso_port == port:
        isso_port = free_port()
    stage = Stage(port=port, isso_port=isso_port, prefix=prefix)
    commands = prepare(stage)
    site = build(PROD_SETTINGS, prefix / "www", content, quiet=True, extra_settings={
        "SITEURL": stage.url, "FEED_DOMAIN": stage.url, "ISSO_BAKE_URL": ""})
    with running({"nginx": commands["nginx"]}, cwd=ROOT) as processes:
        wait_until_listening(port, processes["nginx"])
        yield stage.url, site


@pytest.fixture(scope="module")
def stage(staged) -> str:
    return staged[0]


@pytest.fixture(scope="module")
def stage_build(staged) -> Path:
    return staged[1]


@pytest.fixture(scope="module")
def dev(tmp_path_factory, content):
    """The development build (drafts are written there), served by kizuna.serve: (output folder, URL)."""
    output = build(DEV_SETTINGS, tmp_path_factory.mktemp("search-dev") / "output", content, quiet=True,
                   extra_settings={"ISSO_BAKE_URL": ""})
    for url in serving(output):
        yield output, url


@pytest.fixture
def new_page(browser):
    """A page in a fresh context that records CSP violations; contexts closed after the test."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(**{"viewport": {"width": 1024, "height": 800}, **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.add_init_script(RECORD_CSP_VIOLATIONS)
        return page

    yield open_page
    for context in contexts:
        context.close()


def results(page) -> list[dict]:
    return page.locator("#search-results > li").evaluate_all("""items => items.map(item => ({
        title: item.querySelector("h2 a").textContent,
        href: new URL(item.querySelector("h2 a").href).pathname,
        date: item.querySelector("time")?.textContent ?? null,
        datetime: item.querySelector("time")?.getAttribute("datetime") ?? null,
        note: item.querySelector(".content-note")?.textContent ?? null,
        marked: Array.from(item.querySelectorAll("mark"), mark => mark.textContent),
        snippet: item.querySelector("article > p:last-child").textContent,
    }))""")


def search(page, words: str) -> None:
    """Type as a reader does, key by key, and wait for the answer."""
    box = page.locator("#search-words")
    box.fill("")
    box.press_sequentially(words)
    page.locator("#search-status", has_text=f"for “{words}”").wait_for()


def status(page) -> str:
    return page.locator("#search-status").inner_text()


# --- Finding -----------------------------------------------------------------------

def test_typing_a_word_finds_the_essay_with_its_title_date_and_a_snippet(stage, new_page):
    page = new_page()
    problems = watch(page)
    page.goto(stage + "/search/")
    assert page.evaluate("document.activeElement.id") == "search-words"  # ready to type
    search(page, SEED_WORD)
    assert status(page) == f"1 result for “{SEED_WORD}”."
    [found] = results(page)
    assert found["title"] == "Unresolved Desire to Connect"
    assert found["href"] == SEED
    assert found["date"] == "28 November 2026" and found["datetime"].startswith("2026-11-28T09:00")
    assert [SEED_WORD in marked for marked in found["marked"]] == [True]  # Pagefind marks "(Kiznaiver)"
    assert "Noriko Sonozaki" in found["snippet"]
    # The search is in the address, to share, reload or come back to.
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query) == {"q": [SEED_WORD]}
    page.reload()
    page.locator("#search-results > li").first.wait_for()
    assert page.locator("#search-words").input_value() == SEED_WORD and len(results(page)) == 1
    assert problems == []


def test_the_header_box_on_an_essay_leads_to_the_results(stage, new_page):
    page = new_page()
    page.goto(stage + SEED)
    box = page.get_by_role("search").get_by_role("searchbox", name="Search the essays")
    box.fill(SHARED)
    box.press("Enter")
    page.wait_for_url(f"**/search/?q={SHARED}")
    page.locator("#search-status", has_text=f"3 results for “{SHARED}”").wait_for()
    found = {item["title"]: item for item in results(page)}
    assert set(found) == {"Harbour Lights", "The Long Pier", "Tides"}
    assert found["The Long Pier"]["note"] == "Content note: grief"  # as every list of essays shows it
    assert all(item["marked"] and SHARED in item["marked"][0].lower() for item in found.values())
    # The search page has one search form: its own.
    assert page.get_by_role("search").count() == 1


def test_keyboard_moves_through_the_results_opens_one_and_escape_clears(stage, new_page):
    page = new_page()
    page.goto(stage + "/search/")
    search(page, SHARED)
    titles = [item["title"] for item in results(page)]
    assert len(titles) == 3

    def focused():
        return page.evaluate("document.activeElement.id || document.activeElement.textContent")

    page.keyboard.press("ArrowDown")
    assert focused() == titles[0]
    page.keyboard.press("ArrowDown")
    assert focused() == titles[1]
    page.keyboard.press("Tab")  # Tab goes on through the links, as anywhere
    assert focused() == titles[2]
    page.keyboard.press("ArrowDown")  # the last stays the last
    assert focused() == titles[2]
    for title in reversed(titles[:2]):
        page.keyboard.press("ArrowUp")
        assert focused() == title
    page.keyboard.press("ArrowUp")
    assert focused() == "search-words"

    page.keyboard.press("Escape")  # clears the search, its results and the address's ?q=
    assert page.locator("#search-words").input_value() == ""
    assert page.locator("#search-results").is_hidden() and status(page) == ""
    assert "q=" not in page.url

    search(page, SHARED)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == titles[1]


def test_what_the_reader_types_is_shown_as_text(stage, new_page):
    page = new_page()
    problems = watch(page)
    hostile = '<img src=x onerror="window.__pwned=1">'
    page.goto(stage + "/search/?q=" + urllib.parse.quote(hostile))
    page.locator("#search-status", has_text="for “").wait_for()
    assert status(page).endswith(f" for “{hostile}”.")
    search(page, '"><script>window.__pwned=2</script>')
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script").count() == 0
    assert problems == []


def test_only_published_essays_and_pages_are_in_the_index(dev, new_page):
    output, url = dev
    assert (output / "drafts" / "unfinished" / "index.html").exists()  # drafts are built while writing
    entry = json.loads((output / "pagefind" / "pagefind-entry.json").read_text())
    assert [language["page_count"] for language in entry["languages"].values()] == [PUBLISHED]
    page = new_page()
    problems = watch(page)  # kizuna.serve serves Pagefind's files as it must
    page.goto(url + "/search/")
    for word in (DRAFT_WORD, HIDDEN_WORD, TAG_ONLY, PRIVACY_WORD):
        search(page, word)
        assert status(page) == f"Nothing found for “{word}”.", word
    search(page, "bonds between people")  # words of the About page: pages are essays' companions
    assert [item["href"] for item in results(page)] == ["/about/"]
    assert problems == []


def test_a_site_with_nothing_published_finds_nothing(tmp_path, new_page):
    """A new site, its first essay still a draft: an index without pages, which Pagefind calls an error."""
    content = tmp_path / "content"
    content.mkdir()
    (content / "soon.md").write_text(ESSAYS["unfinished.md"], encoding="utf-8")
    output = build(DEV_SETTINGS, tmp_path / "output", content, quiet=True, extra_settings={"ISSO_BAKE_URL": ""})
    page = new_page()
    problems = watch(page)
    for url in serving(output):
        page.goto(url + "/search/")
        search(page, DRAFT_WORD)
    assert status(page) == f"Nothing found for “{DRAFT_WORD}”."
    # Pagefind itself still says so on the console (and falls back from its worker); nothing else does.
    assert [problem for problem in problems if "No language indexes found" not in problem
            and "falling back to main thread" not in problem] == []


def test_without_javascript_the_page_says_so_and_offers_the_archives(stage, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(stage + f"/search/?q={SHARED}")
    assert "Search needs JavaScript" in status(page)
    links = {link.inner_text(): link.get_attribute("href") for link in page.locator("main a").all()}
    assert links == {"the archives": stage + "/archives/", "tags": stage + "/tags/"}
    assert page.locator("#search-results").is_hidden()


def test_the_search_page_is_not_offered_to_search_engines(stage_build):
    page = (stage_build / "search" / "index.html").read_text(encoding="utf-8")
    assert '<meta name="robots" content="noindex">' in page
    assert "/search/" not in (stage_build / "sitemap.xml").read_text(encoding="utf-8")


def test_the_search_page_with_results_passes_axe_in_both_themes(stage, new_page):
    for scheme in ("light", "dark"):
        page = new_page(color_scheme=scheme)
        page.goto(stage + "/search/")
        search(page, SHARED)
        violations = axe.run(page).response["violations"]
        assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]


# --- What it costs, and what it is allowed --------------------------------------------

def test_an_essay_page_asks_for_nothing_of_search(stage, new_page):
    page = new_page()
    asked = []
    page.on("request", lambda request: asked.append(urllib.parse.urlsplit(request.url).path))
    page.goto(stage + SEED, wait_until="networkidle")
    assert not [path for path in asked if "pagefind" in path or "search" in path], asked
    assert len(asked) <= 3, asked


def test_search_runs_under_the_production_csp_without_violations(stage, new_page):
    page = new_page()
    problems = watch(page)
    workers = []
    page.on("worker", lambda worker: workers.append(worker.url))
    page.goto(stage + "/search/")
    search(page, SEED_WORD)
    search(page, SHARED)
    assert page.evaluate("window.__cspViolations") == []
    assert problems == []  # Pagefind warns on the console when it falls back from its worker
    assert [urllib.parse.urlsplit(url).path for url in workers] == ["/pagefind/pagefind-worker.js"]

    # The recorder sees violations: WebAssembly is refused on an essay page.
    essay = new_page()
    essay.goto(stage + SEED)
    essay.evaluate("WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).catch(() => {})")
    essay.wait_for_function("window.__cspViolations.length > 0")
    assert essay.evaluate("window.__cspViolations[0]").startswith("script-src")


def get(url: str, **headers):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        return answer.headers, answer.read()


def policy(headers) -> dict:
    [header] = headers.get_all("Content-Security-Policy")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_webassembly_is_allowed_only_where_search_runs_and_the_index_is_cached_and_compressed(stage):
    page, _ = get(stage + "/search/")
    script, body = get(stage + "/pagefind/pagefind.js", **{"Accept-Encoding": "gzip"})
    essay, _ = get(stage + SEED)
    assert "'wasm-unsafe-eval'" in policy(page)["script-src"]
    assert "'wasm-unsafe-eval'" in policy(script)["script-src"]  # its worker compiles the WebAssembly
    assert "'wasm-unsafe-eval'" not in policy(essay)["script-src"]
    assert policy(page)["frame-ancestors"] == ["'none'"] and policy(page)["object-src"] == ["'none'"]

    # Pagefind's script keeps its name from build to build: checked again each time, sent compressed.
    assert script["Cache-Control"] == "no-cache"
    assert script["Content-Encoding"] == "gzip" and gzip.decompress(body).startswith(b"const ")
    # The index's parts are named by their content: kept a year.
    entry = json.loads(get(stage + "/pagefind/pagefind-entry.json")[1])
    [language] = entry["languages"].values()
    meta, _ = get(stage + f"/pagefind/pagefind.{language['hash']}.pf_meta")
    assert meta["Cache-Control"] == "public, max-age=31536000, immutable"


def test_what_a_reader_searched_for_stays_out_of_the_servers_log(stage, stage_build, new_page):
    """The words are in the search page's address (?q=): nginx logs that page
    without them, and nothing the page asks for, nor the essay a reader opens
    from it, is told the address (Referrer-Policy: no-referrer)."""
    page = new_page()
    page.goto(stage + "/search/?q=salt")  # in the essay Tides, and in no address
    page.locator("#search-results a").first.wait_for()
    with page.expect_navigation():
        page.locator("#search-results a").first.click()
    assert page.locator("h1").inner_text() == "Tides"
    headers, _ = get(stage + "/search/?q=salt")
    assert headers["Referrer-Policy"] == "no-referrer"
    access_log = stage_build.parent / "access.log"
    deadline = time.monotonic() + 10  # nginx logs a request once it has answered it
    while "/essays/tides/" not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = access_log.read_text()
    assert '"GET /search/' in log and "/essays/tides/" in log
    assert "salt" not in log


# --- Building --------------------------------------------------------------------

def tree(folder: Path) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_the_same_essays_make_the_same_index(stage_build, tmp_path, content):
    """Pelican reads files in no set order; Pagefind numbers pages as they
    come. A publish of an unchanged site must send no part of the index again."""
    again = build(PROD_SETTINGS, tmp_path / "output", content, quiet=True, extra_settings={"ISSO_BAKE_URL": ""})
    assert tree(again / "pagefind") == tree(stage_build / "pagefind")


def test_a_failed_build_leaves_the_old_index(dev, tmp_path):
    output, _ = dev
    site = shutil.copytree(output, tmp_path / "output")
    before = tree(site / "pagefind")
    content = shutil.copytree(CONTENT, tmp_path / "content")
    (content / "broken.md").write_text("Title: Broken\nDate: 11/12/2026\n\nA new harbour essay.\n", encoding="utf-8")
    with pytest.raises(BuildError, match="broken.md"):
        build(DEV_SETTINGS, site, content, quiet=True, extra_settings={"ISSO_BAKE_URL": ""})
    after = tree(site / "pagefind")
    assert after == before and len(before) > 5
    assert not site.with_name("output.new").exists()
