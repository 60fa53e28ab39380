"""The built site in a real browser: Debian's chromium, driven by Playwright,
against the development build served by kizuna.serve.

Every page template loads without console or script errors; axe-core finds no
accessibility violations in light, dark and the toggle's remembered dark; the
theme toggle works, is remembered, and is applied before first paint; nothing
scrolls sideways on a 320 px phone; a keyboard reader can skip to the content
and use the toggle; every page has one h1 and a language.

One browser for the session (conftest.browser), a new context for each test."""

import pytest
from axe_playwright_python.sync_playwright import Axe

# Every page template, by a readable name: (path, expected HTTP status).
PAGES = {
    "home": ("/", 200),
    "essay": ("/essays/unresolved-desire-to-connect/", 200),
    "tag": ("/tags/superficial-connections/", 200),
    "category": ("/categories/essays/", 200),
    "archives": ("/archives/", 200),
    "year": ("/archives/2026/", 200),
    "tags": ("/tags/", 200),
    "categories": ("/categories/", 200),
    "authors": ("/authors/", 200),
    "author": ("/authors/kalt/", 200),
    "about": ("/about/", 200),
    "privacy": ("/privacy/", 200),
    "404": ("/no/such/page/", 404),
}
ESSAY = PAGES["essay"][0]
AXE_PAGES = ["home", "essay", "tag", "archives", "about", "privacy", "404"]
STORAGE_KEY = "kizuna-theme"
axe = Axe()  # axe-core's default rule set: WCAG 2.x A/AA (color-contrast too) and best practices


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (own storage, own color scheme);
    every context opened by the test is closed after it."""
    contexts = []

    def open_page(color_scheme="light", **options):
        context = browser.new_context(color_scheme=color_scheme, **options)
        context.set_default_timeout(5_000)  # a missing element fails in seconds, not 30
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def watch_for_errors(page) -> list[str]:
    """A list that fills with the page's console errors, uncaught exceptions and
    failed or refused sub-resources (the document's own status is checked apart)."""
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(
        f"console: {message.text} ({message.location.get('url')})"))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: errors.append(
        f"request failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400 and response.request.resource_type != "document"
            and errors.append(f"HTTP {response.status}: {response.url}"))
    return errors


def theme_state(page) -> dict:
    """What the reader gets: the chosen theme, the button's state, the painted background."""
    return page.evaluate("""() => ({
        theme: document.documentElement.dataset.theme ?? null,
        pressed: document.getElementById("theme-toggle")?.getAttribute("aria-pressed") ?? null,
        background: getComputedStyle(document.body).backgroundColor,
        stored: localStorage.getItem("kizuna-theme"),
    })""")


def axe_violations(page) -> list[dict]:
    return axe.run(page).response["violations"]


def describe(violations: list[dict]) -> str:
    """Each violation with its rule, what it means, and which elements break it."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            checks = node.get("any", []) + node.get("all", []) + node.get("none", [])
            detail = checks[0]["message"] if checks else node.get("failureSummary", "")
            lines.append(f"    {' '.join(map(str, node['target']))}: {detail}")
    return "\n".join(lines)


# --- Every page loads cleanly -------------------------------------------------

@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_errors(new_page, site_url, name):
    path, status = PAGES[name]
    page = new_page()
    errors = watch_for_errors(page)
    response = page.goto(site_url + path)
    assert response.status == status
    if status == 404:
        assert "This page is not here" in page.locator("h1").inner_text()
        # Chromium reports the document's own 404 on the console; that one is expected.
        errors = [e for e in errors if not (e.startswith("console: Failed to load resource")
                                            and e.endswith(f"({site_url + path})"))]
    assert page.locator("#theme-toggle").is_visible(), "kizuna.js did not run and show the toggle"
    assert errors == []


@pytest.mark.parametrize("name", PAGES)
def test_page_has_one_h1_and_a_language(new_page, site_url, name):
    page = new_page()
    page.goto(site_url + PAGES[name][0])
    assert page.locator("h1").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("main#main").count() == 1
    assert page.locator("header nav").count() == 1


# --- Accessibility: axe-core ---------------------------------------------------

# light / dark: the reader's system setting, no stored choice.
# chosen-dark: a light system, but the reader picked dark with the toggle earlier.
SCHEMES = {"light": ("light", None), "dark": ("dark", None), "chosen-dark": ("light", "dark")}


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("name", AXE_PAGES)
def test_axe_finds_no_violations(new_page, site_url, name, scheme):
    system, stored = SCHEMES[scheme]
    page = new_page(color_scheme=system)
    if stored:
        page.context.add_init_script(f"localStorage.setItem({STORAGE_KEY!r}, {stored!r})")
    page.goto(site_url + PAGES[name][0])
    if stored:
        assert theme_state(page)["theme"] == stored
    violations = axe_violations(page)
    assert violations == [], f"axe on {name} ({scheme}):\n{describe(violations)}"


def test_axe_harness_reports_a_bad_page(new_page):
    """The zero-violation checks above mean something only if this one fails them."""
    page = new_page()
    page.set_content("""<!doctype html><html lang="en"><title>Bad</title><body><main>
        <h1>Bad page</h1>
        <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
        <p style="color:#bbb;background:#fff">Pale grey text on white.</p>
        </main></body></html>""")
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"image-alt", "color-contrast"} <= found, found


# --- The theme toggle ----------------------------------------------------------

def test_toggle_chooses_dark_and_light_and_remembers(new_page, site_url):
    page = new_page(color_scheme="light")
    page.goto(site_url + ESSAY)
    toggle = page.locator("#theme-toggle")
    light = theme_state(page)
    assert light["theme"] is None and light["pressed"] == "false" and light["stored"] is None

    toggle.click()
    dark = theme_state(page)
    assert dark["theme"] == "dark" and dark["pressed"] == "true" and dark["stored"] == "dark"
    assert dark["background"] != light["background"], "the page did not actually turn dark"

    page.reload()
    assert theme_state(page) == dark, "the dark choice did not survive a reload"

    toggle.click()
    chosen_light = theme_state(page)
    assert chosen_light["theme"] == "light" and chosen_light["pressed"] == "false"
    assert chosen_light["background"] == light["background"]
    page.reload()
    assert theme_state(page) == chosen_light, "the light choice did not survive a reload"


def test_the_toggle_says_its_state_in_words(new_page, site_url):
    """Not only by its fill: "Dark theme: on" / "Dark theme: off" (observed before: "Dark theme" both ways)."""
    page = new_page(color_scheme="light")
    page.goto(site_url + ESSAY)
    toggle = page.locator("#theme-toggle")

    def words():
        return toggle.evaluate("b => b.textContent.trim() + getComputedStyle(b, '::after').content")

    # Shown after the name; heard once, from aria-pressed: the added words have empty alternative text.
    assert words() == 'Dark theme": off" / ""', words()
    toggle.click()
    assert words() == 'Dark theme": on" / ""', words()


def test_stored_choice_is_applied_by_the_head_script_alone(new_page, site_url):
    """The inline <head> script sets the theme before first paint: it works with
    kizuna.js (the deferred script) blocked, so it cannot be kizuna.js doing it."""
    page = new_page(color_scheme="light")
    page.goto(site_url + ESSAY)
    light_background = theme_state(page)["background"]
    page.evaluate(f"localStorage.setItem({STORAGE_KEY!r}, 'dark')")

    page.route("**/kizuna.*.js", lambda route: route.abort())
    page.reload()
    state = theme_state(page)
    assert state["theme"] == "dark"
    assert state["background"] != light_background
    # Without kizuna.js the toggle could not work, so it stays out of sight.
    assert page.locator("#theme-toggle").is_hidden()


def test_toggle_on_a_dark_system_starts_pressed_and_chooses_light(new_page, site_url):
    page = new_page(color_scheme="dark")
    page.goto(site_url + ESSAY)
    dark = theme_state(page)
    assert dark["theme"] is None and dark["pressed"] == "true"

    page.locator("#theme-toggle").click()
    light = theme_state(page)
    assert light["theme"] == "light" and light["pressed"] == "false" and light["stored"] == "light"
    assert light["background"] != dark["background"]


# --- Small screens --------------------------------------------------------------

@pytest.mark.parametrize("width", [320, 375])
@pytest.mark.parametrize("name", PAGES)
def test_no_sideways_scrolling_on_a_phone(new_page, site_url, name, width):
    page = new_page(viewport={"width": width, "height": 740}, is_mobile=True, has_touch=True)
    page.goto(site_url + PAGES[name][0])
    widths = page.evaluate("""() => {
        const root = document.documentElement;
        const wide = [...document.body.querySelectorAll("*")]
            .filter(e => e.getBoundingClientRect().right > root.clientWidth + 0.5)
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "")
                      + " (right edge " + Math.round(e.getBoundingClientRect().right) + "px)");
        return {scroll: root.scrollWidth, client: root.clientWidth, wide};
    }""")
    assert widths["scroll"] <= widths["client"], f"{name} at {width}px overflows: {widths}"


# --- Keyboard -------------------------------------------------------------------

def active_element(page) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement;
        return {tag: e.tagName.toLowerCase(), id: e.id, cls: e.className,
                inMain: !!e.closest("main"), outline: getComputedStyle(e).outlineStyle,
                top: e.getBoundingClientRect().top};
    }""")


def test_first_tab_reaches_the_skip_link_which_moves_to_main(new_page, site_url):
    page = new_page(reduced_motion="reduce")  # no smooth scrolling to wait for
    page.goto(site_url + ESSAY)

    page.keyboard.press("Tab")
    skip = active_element(page)
    assert skip["tag"] == "a" and "skip" in skip["cls"].split()
    assert skip["top"] >= 0, "the focused skip link is still off screen"
    assert skip["outline"] != "none", "the focused skip link shows no focus outline"

    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    assert active_element(page)["id"] == "main"
    assert abs(page.locator("#main").bounding_box()["y"]) <= 1, "the page did not scroll to the content"
    page.keyboard.press("Tab")
    assert active_element(page)["inMain"], "the next Tab after skipping left the content"


def test_keyboard_reaches_and_works_the_theme_toggle(new_page, site_url):
    page = new_page(color_scheme="light")
    page.goto(site_url + ESSAY)
    for _ in range(15):
        page.keyboard.press("Tab")
        if active_element(page)["id"] == "theme-toggle":
            break
    else:
        pytest.fail("15 Tab presses did not reach #theme-toggle")
    assert active_element(page)["outline"] != "none", "the focused toggle shows no focus outline"

    page.keyboard.press("Enter")
    assert theme_state(page)["theme"] == "dark"
    page.keyboard.press("Space")
    assert theme_state(page)["theme"] == "light"
    assert theme_state(page)["pressed"] == "false"


def test_print_shows_just_the_essay(new_page, site_url):
    page = new_page()
    page.goto(f"{site_url}/essays/unresolved-desire-to-connect/")
    page.emulate_media(media="print")
    shown = page.evaluate("""() => Object.fromEntries(
        ["header.site", "footer.site", "#comments", ".related", ".neighbours", "article.essay", ".signoff", ".invitation"]
          .map(s => [s, document.querySelector(s) ? getComputedStyle(document.querySelector(s)).display !== "none" : null]))""")
    assert shown["article.essay"] and shown[".signoff"] and shown[".invitation"]
    # Hidden in print, or (related, neighbours: one essay has none) not there at all.
    assert not any(shown[s] for s in ["header.site", "footer.site", "#comments", ".related", ".neighbours"])
