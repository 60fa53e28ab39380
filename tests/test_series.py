"""Series: essays in parts (`Series:`, plugins/series_pages, pelican-series'
order). Each part shows its place ("Part 2 of 3 in Letters home") with every
part in order and the parts before and after it; a part not yet published (a
draft, a scheduled essay) is never counted or named on a published page; a
series has a page and a list of every series; the writing loop renders a part
as the whole build does; a wrong Series field fails the build naming its file
and line; and in Chromium a reader goes from part 1 to part 3 by keyboard and
by clicks, with no accessibility violation on the way."""

import re
from datetime import datetime, timedelta

import pytest
from bs4 import BeautifulSoup

from kizuna import DEV_SETTINGS, PROD_SETTINGS
from kizuna.build import BuildError, build
from kizuna.render_first import LOOP_FILE, render_first
from support import serving

NO_ISSO = {"ISSO_BAKE_URL": ""}  # no comment server here: nothing to bake
SERIES = "Letters home"
PARTS = {  # file → (title, date, extra fields): published out of file order, to be put in date order
    "letters-b.md": ("The second letter", "2026-02-10 09:00", ""),
    "letters-a.md": ("The first letter", "2026-01-10 09:00", ""),
    "letters-c.md": ("The last letter", "2026-03-10 09:00", ""),
}
DRAFT = ("A letter not yet sent", "2026-02-20 09:00", "Status: draft\n")  # between parts 2 and 3, by date
SCHEDULED = "A letter for next year"  # dated after the build's clock: a draft until then (plugins/scheduled_essays)
# A second series whose order is set by Series_index, against the dates.
NUMBERED = {"steps-1.md": ("Step one", "2026-04-02 09:00", "Series_index: 1\n"),
            "steps-2.md": ("Step two", "2026-04-01 09:00", "Series_index: 2\n")}


def essay(title: str, date: str, extra: str = "", series: str | None = SERIES, tags: str = "letters, rain") -> str:
    return (f"Title: {title}\nDate: {date}\nCategory: Essays\nTags: {tags}\n"
            + (f"Series: {series}\n" if series else "") + extra
            + f"Summary: The summary of {title.lower()}.\n\n"
              f"The opening of {title.lower()}.\n\nThe whole of {title.lower()}, to its very last line.\n")


def write_site(content, extra_parts: dict | None = None):
    """A content folder: three published parts of Letters home, a draft part,
    a scheduled part, two numbered Steps, one essay in no series, a page."""
    (content / "pages").mkdir(parents=True, exist_ok=True)
    (content / "pages" / "about.md").write_text("Title: About\n\nWho writes here.\n", encoding="utf-8")
    for name, (title, date, extra) in {**PARTS, **(extra_parts or {})}.items():
        (content / name).write_text(essay(title, date, extra), encoding="utf-8")
    (content / "letters-draft.md").write_text(essay(*DRAFT), encoding="utf-8")
    next_year = (datetime.now() + timedelta(days=400)).strftime("%Y-%m-%d 09:00")
    (content / "letters-scheduled.md").write_text(essay(SCHEDULED, next_year), encoding="utf-8")
    for name, (title, date, extra) in NUMBERED.items():
        (content / name).write_text(essay(title, date, extra, series="Steps", tags="steps"), encoding="utf-8")
    (content / "alone.md").write_text(essay("On its own", "2026-02-01 09:00", series=None, tags="rain"),
                                      encoding="utf-8")
    return content


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """The same content built for production and for writing (drafts shown)."""
    folder = tmp_path_factory.mktemp("series")
    content = write_site(folder / "content")
    return {"prod": build(PROD_SETTINGS, folder / "prod", content, quiet=True, extra_settings=NO_ISSO),
            "dev": build(DEV_SETTINGS, folder / "dev", content, quiet=True, extra_settings=NO_ISSO)}


def soup(site, path: str) -> BeautifulSoup:
    return BeautifulSoup((site / path.strip("/") / "index.html").read_text(encoding="utf-8"), "html.parser")


def local(href: str) -> str:
    """A link's path on the site, production's address taken off."""
    return re.sub(r"^https?://[^/]+", "", href)


TITLES = ["The first letter", "The second letter", "The last letter"]
URLS = ["/essays/the-first-letter/", "/essays/the-second-letter/", "/essays/the-last-letter/"]


def test_each_part_shows_its_place_and_every_part_in_order(sites):
    site = sites["prod"]
    for number, (title, url) in enumerate(zip(TITLES, URLS), 1):
        page = soup(site, url)
        box = page.find("nav", class_="series")
        place = box.find(id="series-place")
        assert " ".join(place.get_text().split()) == f"Part {number} of 3 in {SERIES}"
        assert local(place.a["href"]) == "/series/letters-home/"
        listed = box.ol.find_all("a")
        assert [a.get_text() for a in listed] == TITLES
        assert [local(a["href"]) for a in listed] == URLS
        assert [a.get_text() for a in listed if a.get("aria-current") == "page"] == [title]
        # After the essay: the parts just before and after it.
        steps = page.find("nav", class_="series-steps")
        words = " ".join(steps.get_text(" ").split())
        if number > 1:
            assert f"Previous part: {TITLES[number - 2]}" in words
        if number < 3:
            assert f"Next part: {TITLES[number]}" in words
        else:
            assert words.endswith(f"The last part of {SERIES}")
    # Each link leads to a page of the build.
    for a in soup(site, URLS[1]).select("nav.series a, nav.series-steps a"):
        assert (site / local(a["href"]).strip("/") / "index.html").is_file(), a["href"]


def test_a_part_not_yet_published_is_never_counted_nor_named(sites):
    every_file = [path for path in sites["prod"].rglob("*") if path.is_file() and path.suffix in (".html", ".xml")]
    for path in every_file:
        text = path.read_text(encoding="utf-8")
        assert DRAFT[0] not in text and SCHEDULED not in text, path
        assert "of 4" not in text and "of 5" not in text, path
    # While writing, the draft's own page shows where it will stand; the published parts still count three.
    draft = soup(sites["dev"], "/drafts/a-letter-not-yet-sent/")
    assert " ".join(draft.find(id="series-place").get_text().split()) == f"Part 3 of 4 in {SERIES}"
    assert [a.get_text() for a in draft.select("nav.series ol a")] == [*TITLES[:2], DRAFT[0], TITLES[2]]
    for url in URLS:
        assert "of 3 in" in soup(sites["dev"], url).find(id="series-place").get_text()


def test_series_index_sets_the_order_before_dates(sites):
    page = soup(sites["prod"], "/essays/step-two/")
    assert " ".join(page.find(id="series-place").get_text().split()) == "Part 2 of 2 in Steps"
    assert [a.get_text() for a in page.select("nav.series ol a")] == ["Step one", "Step two"]


def test_the_series_page_lists_the_parts_in_order_with_dates_and_summaries(sites):
    page = soup(sites["prod"], "/series/letters-home/")
    assert page.h1.get_text() == SERIES
    assert page.find("link", rel="canonical")["href"] == "https://kizuna.example.org/series/letters-home/"
    parts = page.select("ol.essays > li")
    assert [li.h2.get_text() for li in parts] == TITLES
    assert [li.select_one(".part").get_text() for li in parts] == ["Part 1", "Part 2", "Part 3"]
    assert [li.time["datetime"][:10] for li in parts] == ["2026-01-10", "2026-02-10", "2026-03-10"]
    assert [li.select_one(".summary").get_text().strip() for li in parts] == [
        f"The summary of {title.lower()}." for title in TITLES]
    follow = page.select_one("p.follow a")
    assert local(follow["href"]) == "/feeds/series/letters-home.atom.xml"
    # Every series, with its number of parts.
    every = soup(sites["prod"], "/series/")
    assert [" ".join(li.get_text().split()) for li in every.select("ul.groups li")] == [
        "Letters home (3)", "Steps (2)"]


def test_a_long_series_folds_its_list_of_parts_away(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    for number in range(1, 7):
        (content / f"long-{number}.md").write_text(essay(f"Long part {number}", f"2026-05-0{number} 09:00",
                                                         series="A long one"), encoding="utf-8")
    site = build(PROD_SETTINGS, tmp_path / "output", content, quiet=True, extra_settings=NO_ISSO)
    box = soup(site, "/essays/long-part-4/").find("nav", class_="series")
    assert " ".join(box.find(id="series-place").get_text().split()) == "Part 4 of 6 in A long one"
    folded = box.find("details")
    assert folded is not None and not folded.has_attr("open") and folded.summary.get_text() == "All 6 parts"
    assert [a.get_text() for a in folded.select("ol a[aria-current=page]")] == ["Long part 4"]


def test_the_writing_loop_renders_a_part_as_the_whole_build_does(tmp_path):
    """The first render (kizuna/render_first.py) reads the other parts too,
    as plugins/writing_loop lists them: the page is the whole build's, byte for byte."""
    content = tmp_path / "content"
    content.mkdir()
    # Parts with no tag in common, other essays between them: only the series links them.
    for number, (name, (title, date, extra)) in enumerate(sorted(PARTS.items())):
        (content / name).write_text(essay(title, date, tags=f"alone-{number}"), encoding="utf-8")
        for day in (1, 2):
            (content / f"between-{number}-{day}.md").write_text(
                essay(f"Between {number} {day}", date.replace("-10 ", f"-1{day} "), series=None, tags="other"),
                encoding="utf-8")
    loop = {**NO_ISSO, "WRITING_LOOP_FILE": LOOP_FILE}
    output = build(DEV_SETTINGS, tmp_path / "output", content, quiet=True, extra_settings=loop)
    changed = content / "letters-b.md"
    changed.write_text(essay(*PARTS["letters-b.md"], tags="alone-1") + "\nA sentence added while writing.\n",
                       encoding="utf-8")
    assert render_first(changed, output=output, content=content,
                        extra_settings=NO_ISSO) == ["essays/the-second-letter/index.html"]
    first = (output / "essays" / "the-second-letter" / "index.html").read_bytes()
    assert b"A sentence added while writing." in first and b"Part 2 of 3" in first
    whole = build(DEV_SETTINGS, tmp_path / "whole", content, quiet=True, extra_settings=loop)
    assert (whole / "essays" / "the-second-letter" / "index.html").read_bytes() == first


def test_a_wrong_series_field_fails_the_build_naming_file_and_line(tmp_path):
    content = write_site(tmp_path / "content")
    wrong = {
        "empty.md": ("Title: Empty\nDate: 2026-01-02\nSeries:\n", "line 3: Series is empty"),
        "index.md": (f"Title: Index\nDate: 2026-01-02\nSeries: {SERIES}\nSeries_index: two\n",
                     "line 4: Series_index 'two' is not a part's number"),
        "zero.md": (f"Title: Zero\nDate: 2026-01-02\nSeries: {SERIES}\nSeries_index: 0\n",
                    "line 4: Series_index '0' is not a part's number"),
        "serie.md": (f"Title: Serie\nDate: 2026-01-02\nSerie: {SERIES}\n",
                     "line 3: unknown field `Serie` — did you mean `Series`?"),
        "dash.md": (f"Title: Dash\nDate: 2026-01-02\nSeries: {SERIES}\nSeries-Index: 2\n",
                    "line 4: unknown field `Series-Index` — did you mean `Series_index`?"),
        "no-words.md": ("Title: No words\nDate: 2026-01-02\nSeries: ???\n",
                        "line 3: Series '???' has no letter or digit"),
    }
    for name, (fields, _) in wrong.items():
        (content / name).write_text(fields + "\nBody.\n", encoding="utf-8")
    with pytest.raises(BuildError) as failed:
        build(DEV_SETTINGS, tmp_path / "output", content, quiet=True, extra_settings=NO_ISSO)
    said = str(failed.value)
    assert "Traceback" not in said
    for name, (_, problem) in wrong.items():
        assert re.search(rf"{re.escape(name)}(, |: ).*{re.escape(problem)}", said), (name, said)


# --- In a real browser -----------------------------------------------------------

@pytest.fixture(scope="module")
def served(sites):
    yield from serving(sites["dev"])


def test_a_reader_follows_the_series_from_part_one_to_three(browser, served):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context()
    context.set_default_timeout(5_000)
    try:
        page = context.new_page()
        page.goto(served + URLS[0])
        series = page.get_by_role("navigation", name=f"Part 1 of 3 in {SERIES}")
        assert series.get_by_role("link", name=TITLES[0]).get_attribute("aria-current") == "page"
        # By keyboard: Tab from the top of the page to part 2 in the list, then Enter.
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == TITLES[1]:
                break
        else:
            raise AssertionError("part 2 is not reachable by Tab")
        page.keyboard.press("Enter")
        page.wait_for_url(served + URLS[1])
        assert page.get_by_role("navigation", name=f"Part 2 of 3 in {SERIES}").is_visible()
        violations = Axe().run(page).response["violations"]
        assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
        # By a click on "Next part" after the essay.
        page.get_by_role("navigation", name=f"Parts of {SERIES}").get_by_role("link", name=TITLES[2]).click()
        page.wait_for_url(served + URLS[2])
        last = page.get_by_role("navigation", name=f"Part 3 of 3 in {SERIES}")
        assert last.get_by_role("link", name=TITLES[2]).get_attribute("aria-current") == "page"
        assert "The last part of" in page.locator("nav.series-steps").inner_text()
        # The series page, from the essay's series box.
        last.get_by_role("link", name=SERIES).click()
        page.wait_for_url(served + "/series/letters-home/")
        assert page.get_by_role("heading", level=1).inner_text() == SERIES
        violations = Axe().run(page).response["violations"]
        assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
    finally:
        context.close()
