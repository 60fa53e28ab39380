"""A reader's comment, end to end, in a real browser against a real Isso.

Chromium (conftest.browser, driven by Playwright) opens the essay served by
kizuna.serve, built against an Isso of its own (conftest.live_comments). The
widget loads only when the reader nears the comments; the reader writes a
comment with a name and sends it, in the widget as ISSO_OPTIONS set it up
(our words, no votes, no avatars); Isso shows it to them as waiting for
moderation; another reader does not see it; the writer approves it with
`invoke comments.approve`; a fresh reader then sees it in the widget; a
rebuild bakes it into the page, where it reads without JavaScript; and when
the widget takes the baked list's place the section's heading does not move
at any frame (Isso's script is held back LATENCY_MS, as a real network would)
and no comment shows twice. axe-core finds nothing wrong in the section with
the widget in it. All of it in the light and the dark scheme.

Jumps and axe findings are collected and reported together at the end, so
one run names every problem; the steps of the comment's journey fail at once."""

import pytest
from axe_playwright_python.sync_playwright import Axe

axe = Axe()  # axe-core's default rules: WCAG 2.x A/AA (color contrast too) and best practices
EMBED = "/js/embed.min.js"
TEXT = "Reading this, I wrote to an old friend tonight. Thank you."
AUTHOR = "Mika Ōta"


def open_page(browser, scheme, contexts, **options):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 720}, **options)
    context.set_default_timeout(10_000)
    contexts.append(context)
    return context.new_page()


def watch(page):
    """Page errors, failed requests and every request for Isso's embed script."""
    seen = {"embed": [], "errors": []}
    page.on("request", lambda request: request.url.split("?")[0].endswith(EMBED) and seen["embed"].append(request.url))
    page.on("pageerror", lambda error: seen["errors"].append(f"page error: {error}"))
    page.on("requestfailed", lambda request: seen["errors"].append(f"request failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400
            and seen["errors"].append(f"HTTP {response.status}: {response.request.method} {response.url}"))
    return seen


LATENCY_MS = 300  # a reader's network: Isso's script arrives a moment after it is asked for

TRACK = """() => {
    // Scroll so the comments heading is at the top (as following a link to
    // #comments would, without the hash that loads the widget at once), measure
    // it in this same task, before the lazy loader can react, then keep
    // measuring at every frame until told to stop.
    const heading = document.getElementById("comments-heading");
    heading.scrollIntoView({block: "start", behavior: "instant"});
    const where = () => ({scrollY: window.scrollY, top: heading.getBoundingClientRect().top,
                          height: document.documentElement.scrollHeight});
    const track = window.__headingTrack = [];
    const tick = () => { track.push(where()); if (!window.__stopTrack) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    return where();
}"""


def hold_embed(page) -> list:
    """Hold Isso's script when asked for, to release it after LATENCY_MS."""
    held = []
    page.route("**/js/embed.min.js", lambda route: held.append(route))
    return held


def heading_jumps(page, held, ready: str) -> list[str]:
    """Bring the comments into view and let the widget load (LATENCY_MS late)
    and render `ready`: at no frame in between may the heading move. Returns
    what moved (nothing, when all is well)."""
    before = page.evaluate(TRACK)
    for _ in range(250):
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the widget was not asked for when the comments came into view"
    page.wait_for_timeout(LATENCY_MS)
    for route in held:
        route.continue_()
    page.locator(ready).wait_for()
    settle(page)
    track = page.evaluate("() => { window.__stopTrack = true; return window.__headingTrack; }")
    track.append(page.evaluate("""() => ({scrollY: window.scrollY, height: document.documentElement.scrollHeight,
        top: document.getElementById("comments-heading").getBoundingClientRect().top})"""))
    moved = [frame for frame in track if (frame["scrollY"], frame["top"]) != (before["scrollY"], before["top"])]
    if not moved:
        return []
    positions = ", ".join(str(dict(frame)) for frame in dict.fromkeys(tuple(f.items()) for f in moved))
    return [f"the comments heading moved while the widget took over: at first {before}; "
            f"then, in {len(moved)} of {len(track)} frames: {positions}"]


def settle(page):
    """Let layout, fonts and stylesheets finish before measuring again."""
    page.wait_for_load_state("networkidle")
    page.evaluate("() => document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))))")


def assert_lazy_until_scrolled(page, seen):
    """Nothing of Isso is fetched while the comments are far below."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # room for an IntersectionObserver callback that should not come
    far = page.evaluate("""() => document.getElementById("comments").getBoundingClientRect().top
                                 - window.innerHeight""")
    assert far > 600, f"the comments start only {far}px below the viewport: laziness cannot be observed here"
    assert seen["embed"] == [], f"embed.min.js loaded before the reader came near the comments: {seen['embed']}"


def axe_violations(page) -> list[dict]:
    """axe-core's violations within the comments section only."""
    return axe.run(page, context="#comments").response["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}")
            lines.append(f"        html: {node.get('html', '')[:300]}")
            for check in node.get("any", []) + node.get("all", []) + node.get("none", []):
                lines.append(f"        {check['id']}: {check['message']}")
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_comment_is_written_moderated_shown_and_baked(browser, live_comments, scheme):
    site = live_comments
    contexts = []
    try:
        # --- The author: the widget waits until they come near ----------------
        page = open_page(browser, scheme, contexts)
        seen = watch(page)
        held = hold_embed(page)
        page.goto(site.essay_url)
        assert page.locator("#comments ol.comments-list").count() == 0  # nothing approved yet
        assert_lazy_until_scrolled(page, seen)
        problems = [f"author's page, no comments yet: {jump}"
                    for jump in heading_jumps(page, held, "#isso-thread .isso-postbox .isso-textarea")]
        assert seen["embed"] == [site.isso.url + EMBED]

        textarea = page.locator("#isso-thread .isso-textarea")
        assert textarea.evaluate("e => e.tagName") == "TEXTAREA"
        textarea.click()
        textarea.press_sequentially(TEXT)
        page.locator("#isso-postbox-author").fill(AUTHOR)
        with page.expect_response(lambda r: "/new?" in r.url and r.request.method == "POST") as posted:
            page.locator("#isso-thread .isso-post-action input[type=submit]").click()
        response = posted.value
        assert response.status == 202, response.text()  # accepted, waiting for moderation
        comment = response.json()
        assert comment["mode"] == 2 and comment["author"] == AUTHOR
        cid = comment["id"]
        mine = page.locator(f"#isso-root #isso-{cid}")
        mine.wait_for()
        assert TEXT in mine.locator(".isso-text").inner_text()
        assert mine.locator(".isso-author").inner_text() == AUTHOR
        note = mine.locator(".isso-note")
        assert note.is_visible() and "waiting for the writer" in note.inner_text().lower(), note.inner_text()
        assert seen["errors"] == []
        # ISSO_OPTIONS reached the widget: our words, no votes, no avatars, no Isso stylesheet.
        assert page.locator("#isso-postbox-author").get_attribute("placeholder") == "Anonymous"
        assert textarea.get_attribute("placeholder") == "Your thoughts (at least 3 characters)"
        assert page.locator("#isso-thread .isso-post-action input[type=submit]").get_attribute("value") == "Send"
        assert mine.locator(".isso-upvote, .isso-avatar").count() == 0
        assert page.locator("#isso-style").count() == 0
        findings = {"the author's page, comment awaiting moderation": axe_violations(page)}

        # --- Another reader, before approval, sees nothing ---------------------
        other = open_page(browser, scheme, contexts)
        other.goto(site.essay_url)
        with other.expect_response(lambda r: "/?uri=" in r.url and r.request.method == "GET"):
            other.locator("#comments").scroll_into_view_if_needed()
        other.wait_for_selector("#isso-thread .isso-postbox")
        settle(other)
        assert other.locator(f"#isso-{cid}").count() == 0
        assert TEXT not in other.locator("#comments").inner_text()

        # --- The writer approves; a fresh reader sees it in the widget ---------
        site.approve(cid)
        reader = open_page(browser, scheme, contexts)
        reader_seen = watch(reader)
        reader.goto(site.essay_url)
        assert_lazy_until_scrolled(reader, reader_seen)
        reader.locator("#comments").scroll_into_view_if_needed()
        shown = reader.locator(f"#isso-root #isso-{cid}")
        shown.wait_for()
        assert TEXT in shown.locator(".isso-text").inner_text()
        assert shown.locator(".isso-author").inner_text() == AUTHOR
        assert shown.locator(".isso-note").inner_text().strip() == ""
        assert reader_seen["errors"] == []

        # --- Rebuilt: baked into the page, readable without JavaScript ---------
        site.rebuild()
        static = open_page(browser, scheme, contexts, java_script_enabled=False)
        static.goto(site.essay_url)
        baked = static.locator(f"#comments ol.comments-list[data-baked] > li#isso-{cid}")
        assert baked.count() == 1
        baked.scroll_into_view_if_needed()
        assert baked.is_visible()
        assert TEXT in baked.locator("article").inner_text()
        assert baked.locator(".meta").inner_text().startswith(AUTHOR)
        assert static.locator("#comments-heading").inner_text() == "Thoughts (1)"

        # --- The widget takes the baked list's place without a jump ------------
        page = open_page(browser, scheme, contexts)
        seen = watch(page)
        held = hold_embed(page)
        page.goto(site.essay_url)
        assert_lazy_until_scrolled(page, seen)
        assert page.locator(f"ol.comments-list[data-baked] #isso-{cid}").count() == 1
        problems += [f"reader's page, one baked comment: {jump}"
                     for jump in heading_jumps(page, held, f"#isso-root #isso-{cid}")]
        assert seen["embed"] == [site.isso.url + EMBED]
        assert page.locator("ol.comments-list[data-baked]").count() == 0, "the baked list stayed beside the widget"
        assert page.locator(f'[id="isso-{cid}"]').count() == 1, "the comment shows twice"
        assert page.locator("#comments").get_by_text(TEXT).count() == 1
        assert seen["errors"] == []

        # --- axe-core on the section, widget and approved comment in place ----
        findings["a reader's page, approved comment in the widget"] = axe_violations(page)
        problems += [f"axe in #comments, {state}:\n{describe(found)}" for state, found in findings.items() if found]
        report = "\n".join(f"[{scheme}] {problem}" for problem in problems)
        if report:
            print("\n" + report)
        assert not problems, report
    finally:
        for context in contexts:
            context.close()
