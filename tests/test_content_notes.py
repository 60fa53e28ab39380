"""A content note (`Content-Note: grief, self-harm`) reaches the reader before
the essay does, wherever the essay is met: on its page above the first
paragraph (once), beside it in the lists, and at the start of its feed entry.
An essay without one shows none; an empty one stops the build."""

import feedparser
import pytest
from bs4 import BeautifulSoup

from support import copy_repository, invoke, serving
from test_browser import STORAGE_KEY, SCHEMES, axe_violations, describe, new_page  # noqa: F401 (new_page: a fixture)
from test_content_checks import essay, failed_build
from test_html_and_links import nu_check

NOTE = "grief, self-harm"
NOTE_HTML = f'<p class="content-note"><strong>Content note:</strong> {NOTE}</p>'
NOTED = "/essays/on-loss/"
PLAIN = "/essays/unresolved-desire-to-connect/"  # the site's first essay, which has no note


def noted_essay(note_line: str, title: str = "On Loss", slug: str = "on-loss") -> str:
    """The fields of content/unresolved-desire-to-connect.md, with a note."""
    return essay(
        f"Title: {title}", "Subtitle: what stays", f"Slug: {slug}", "Date: 2026-11-28 10:00", "Author: K.A.L.T",
        "Category: Essays", "Tags: superficial connections", "Status: published", note_line,
        "Summary: What a loss leaves behind.",
        body="The first paragraph of the essay.\n\nThe second paragraph.")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """output/ of `invoke build` with one noted essay, one whose note holds
    markup, and the first essay (no note)."""
    copy = copy_repository(tmp_path_factory.mktemp("notes") / "site")
    (copy / "content" / "on-loss.md").write_text(noted_essay(f"Content-Note: {NOTE}"), encoding="utf-8")
    (copy / "content" / "marked-up.md").write_text(
        noted_essay("Content-Note: war & <script>alert(1)</script>", title="Marked Up", slug="marked-up"),
        encoding="utf-8")
    invoke(copy, "build")
    return copy / "output"


def page(site, path: str) -> BeautifulSoup:
    return BeautifulSoup((site / path.strip("/") / "index.html").read_text(encoding="utf-8"), "html.parser")


def test_the_essay_page_shows_the_note_once_before_the_first_paragraph(site):
    soup = page(site, NOTED)
    (note,) = soup.select(".content-note")  # exactly once in the whole page
    assert note.name == "p" and note.strong.get_text() == "Content note:"
    assert " ".join(note.get_text().split()) == f"Content note: {NOTE}"
    # In the essay, after its header, and right before the first paragraph of the body.
    paragraphs = soup.find("article", class_="essay").find_all("p", recursive=False)
    assert paragraphs[0] is note, paragraphs[:2]
    assert paragraphs[1].get_text() == "The first paragraph of the essay."


def test_the_note_is_escaped(site):
    (note,) = page(site, "/essays/marked-up/").select(".content-note")
    assert note.find("script") is None
    assert note.get_text() == "Content note: war & <script>alert(1)</script>"


def test_an_essay_without_a_note_shows_none(site):
    assert page(site, PLAIN).select(".content-note") == []


@pytest.mark.parametrize("path", ["/", "/tags/superficial-connections/", "/categories/essays/",
                                  "/authors/kalt/", "/archives/"])
def test_lists_show_the_note_beside_the_essay(site, path):
    items = {item.find("a")["href"]: item for item in page(site, path).select("ol.essays > li, ul.dated > li")}
    assert {NOTED, PLAIN} <= set(items), sorted(items)
    (note,) = items[NOTED].select(".content-note")
    assert " ".join(note.get_text().split()) == f"Content note: {NOTE}"
    assert items[PLAIN].select(".content-note") == []


@pytest.mark.parametrize("name", ["feeds/all.atom.xml", "feeds/all.rss.xml"])
def test_feed_entries_start_with_the_note(site, name):
    feed = feedparser.parse((site / name).read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    entries = {entry.link.rpartition("/essays/")[2]: entry for entry in feed.entries}
    noted, plain = entries["on-loss/"], entries["unresolved-desire-to-connect/"]
    texts = [noted.summary] + ([noted.content[0].value] if "content" in noted else [])
    if name.endswith("atom.xml"):
        assert len(texts) == 2  # Atom has both: the whole essay and its summary
    for text in texts:
        assert text.startswith(NOTE_HTML), text[:200]
        assert text.count("Content note:") == 1
    assert "The first paragraph of the essay." in texts[-1]
    for text in [plain.summary] + ([plain.content[0].value] if "content" in plain else []):
        assert "Content note:" not in text


def test_an_empty_content_note_fails_the_build_naming_the_file_and_line(repo_copy):
    shown = failed_build(repo_copy, {
        "on-loss.md": noted_essay("Content-Note:"),
        "misspelt.md": essay("Title: Misspelt", "Date: 2026-01-02", "Content-Notes: grief"),
    })
    assert "content/on-loss.md, line 9: Content-Note is empty" in shown, shown
    assert "content/misspelt.md, line 3: unknown field `Content-Notes` — did you mean `Content-Note`?" in shown


# --- Still valid and readable with a note --------------------------------------

def test_pages_with_notes_are_valid_html5(site):
    result = nu_check(site)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def noted_site_url(site):
    yield from serving(site)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", [NOTED, "/", "/archives/"])
def test_axe_finds_no_violations_around_the_note(new_page, noted_site_url, path, scheme):
    """Contrast included: the note is read in light, dark and the chosen dark."""
    system, stored = SCHEMES[scheme]
    page = new_page(color_scheme=system)
    if stored:
        page.context.add_init_script(f"localStorage.setItem({STORAGE_KEY!r}, {stored!r})")
    page.goto(noted_site_url + path)
    assert page.locator(".content-note").first.is_visible()
    violations = axe_violations(page)
    assert violations == [], f"axe on {path} ({scheme}):\n{describe(violations)}"
