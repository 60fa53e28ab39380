"""Essay images at their best (plugins/responsive_images): an essay with five
large photos, built for real, then read in real Chromium as phones and a desktop.

Each photo alone in its paragraph is a figure with its Markdown title as
caption; its <img> has width and height of the photo's shape (a photo turned
by its camera's EXIF too) and copies at 480, 800 and 1,200 pixels in AVIF,
WebP and JPEG, each a real file of that size (never wider than the photo; a
small image, a PNG of 300 pixels or an SVG, keeps its file and gets its size);
the first image loads at once, the others lazily; feeds get a plain <img>,
lists lazy ones. A browser picks
the copy its screen needs, not the original, shows it at the width `sizes`
promised, and nothing on the page shifts as the photos arrive. A second build
encodes nothing; an unreadable image stops the build naming it; the writing
loop's first render brings a new photo's copies with the page.

The photos are made here (bench/images.py's photograph(): detail at every
scale, as photographs have), 3000 x 2000 JPEGs at quality 90.
"""

import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urljoin, urlparse

import pytest
from bs4 import BeautifulSoup
from PIL import Image, features

from bench.images import photograph, save_photo
from kizuna import CONTENT, DEV_SETTINGS
from kizuna.build import BuildError, build
from kizuna.render_first import render_first
from support import serving
from test_html_and_links import nu_check

SLUG = "five-photographs"
ESSAY_URL = f"/essays/{SLUG}/"
WIDTHS = [480, 800, 1200]
SIZES = "(min-width: 40rem) 37.5rem, calc(100vw - 2.5rem)"
# (file, alt, caption or None): five 3000 x 2000 photos; TURNED is stored on its side, EXIF orientation 6
PHOTOS = [
    ("harbour.jpg", 'Boats & "nets" in a <small> harbour', "The harbour & its <boats>, \u201cat dawn\u201d"),
    ("market.jpg", "A covered market", "The market at noon"),
    ("hill.jpg", "A path up a hill", "Halfway up"),
    ("station.jpg", "An empty platform, the photo taken upright", "Turned by its camera"),
    ("window.jpg", "A lit window at night", None),
]
TURNED = "station.jpg"
NO_ISSO = {"ISSO_BAKE_URL": ""}


def essay_text() -> str:
    lines = ["Title: Five Photographs", f"Slug: {SLUG}", "Date: 2026-01-10 09:00", "",
             "Five photographs from one day.", ""]
    for name, alt, caption in PHOTOS:
        title = f' "{caption}"' if caption else ""
        lines += [f"![{alt}](images/{name}{title})", "", f"Some words after {name}, about the day.", ""]
    lines += ["A small mark ![The small mark](images/mark.png) and the site's own ![The site's mark](extra/favicon.svg)"
              " in a line of text, and a photo 1,000 pixels wide, ![A narrower photo](images/narrow.jpg).", ""]
    return "\n".join(lines)


def write_content(folder: Path) -> Path:
    content = folder / "content"
    shutil.copytree(CONTENT, content)
    for seed, (name, _, _) in enumerate(PHOTOS):
        save_photo(photograph(3000, 2000, seed), content / "images" / name, turned=name == TURNED)
    Image.new("RGBA", (300, 200), (40, 90, 160, 128)).save(content / "images" / "mark.png")
    save_photo(photograph(1000, 750, 50), content / "images" / "narrow.jpg")
    (content / f"{SLUG}.md").write_text(essay_text(), encoding="utf-8")
    return content


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("responsive-images")
    content = write_content(folder)
    cache = folder / "cache"
    settings = {**NO_ISSO, "IMAGE_CACHE_PATH": str(cache)}
    output = build(DEV_SETTINGS, folder / "output", content, quiet=True, extra_settings=settings)
    page = (output / "essays" / SLUG / "index.html").read_text(encoding="utf-8")
    return SimpleNamespace(folder=folder, content=content, cache=cache, output=output, settings=settings, page=page,
                           article=BeautifulSoup(page, "html.parser").select_one("article.essay"))


def served(output: Path, address: str, page: str = ESSAY_URL) -> Path:
    """The file a browser on `page` gets for `address` (failing if none)."""
    path = output / unquote(urlparse(urljoin("http://127.0.0.1" + page, address)).path).lstrip("/")
    assert path.is_file(), f"{address} on {page}: no such file"
    return path


def candidates(srcset: str) -> list[tuple[str, int]]:
    return [(address, int(width.rstrip("w"))) for address, width in (c.split() for c in srcset.split(", "))]


def shape(name: str) -> tuple[int, int]:
    return (2000, 3000) if name == TURNED else (3000, 2000)


# --- The markup, and the files it names ------------------------------------------------

def test_each_photo_is_a_figure_with_its_copies_size_and_caption(site):
    figures = site.article.find_all("figure")
    assert len(figures) == len(PHOTOS)
    assert features.check("avif"), "the pinned Pillow writes AVIF"
    for figure, (name, alt, caption) in zip(figures, PHOTOS):
        img = figure.picture.img
        width, height = shape(name)
        # The photo's own shape (rounded to whole pixels at 1,200 wide), turned as its camera said.
        assert abs(int(img["width"]) / int(img["height"]) - width / height) < 0.002, (name, img)
        assert img["alt"] == alt
        assert img["sizes"] == SIZES
        sources = figure.picture.find_all("source")
        assert [source["type"] for source in sources] == ["image/avif", "image/webp"]
        for kind, srcset in [("AVIF", sources[0]["srcset"]), ("WEBP", sources[1]["srcset"]), ("JPEG", img["srcset"])]:
            assert [w for _, w in candidates(srcset)] == WIDTHS, srcset
            for address, copy_width in candidates(srcset):
                with Image.open(served(site.output, address)) as copy:
                    assert copy.format == kind
                    assert copy.size == (copy_width, round(copy_width * height / width)), address
                    assert "exif" not in copy.info, f"{address} carries the camera's EXIF"
        assert img["src"] == candidates(img["srcset"])[-1][0], "the fallback is the largest JPEG"
        if caption:
            assert figure.figcaption.get_text() == caption
            assert not figure.figcaption.find_all(True), "the caption's words stay words"
            assert not img.has_attr("title"), "the caption is said once"
        else:
            assert figure.figcaption is None
    # The writer's words, escaped where they stand: nothing in them is markup.
    assert 'alt="Boats &amp; &quot;nets&quot; in a &lt;small&gt; harbour"' in site.page
    assert "<figcaption>The harbour &amp; its &lt;boats&gt;, \u201cat dawn\u201d</figcaption>" in site.page


def test_the_first_image_loads_at_once_the_others_when_near(site):
    images = site.article.find_all("img")
    assert len(images) == len(PHOTOS) + 3
    first, *later = images
    assert not first.has_attr("loading")
    for img in later:
        assert img["loading"] == "lazy", img
    assert all(img["decoding"] == "async" for img in images)


def test_originals_are_published_and_small_images_kept_with_their_size(site):
    for name, _, _ in PHOTOS:
        assert (site.output / "images" / name).read_bytes() == (site.content / "images" / name).read_bytes()
    mark = site.article.find("img", alt="The small mark")
    assert mark.parent.name == "p", "narrower than 480: no copies, no figure"
    assert served(site.output, mark["src"]).read_bytes() == (site.content / "images" / "mark.png").read_bytes()
    assert (mark["width"], mark["height"]) == ("300", "200")
    narrow = site.article.find("img", alt="A narrower photo")
    assert [w for _, w in candidates(narrow["srcset"])] == [480, 800, 1000], "never wider than the photo"
    assert (narrow["width"], narrow["height"]) == ("1000", "750")
    assert not list(site.output.glob("images/narrow-1200w.*"))
    svg = site.article.find("img", alt="The site's mark")
    assert (svg["width"], svg["height"]) == ("32", "32")  # its viewBox
    assert svg["src"].endswith("favicon.svg")


def test_feeds_get_plain_images_and_lists_lazy_ones(site):
    import feedparser

    parsed = feedparser.parse((site.output / "feeds" / "all.atom.xml").read_bytes(), sanitize_html=False,
                              resolve_relative_uris=False)
    (entry,) = [e for e in parsed.entries if e.title == "Five Photographs"]
    html = BeautifulSoup(entry.content[0].value, "html.parser")
    assert not html.find_all(["picture", "source"])
    photos = [img for img in html.find_all("img") if "narrow" not in img["src"]
              and not img["src"].endswith((".png", ".svg"))]
    assert len(photos) == len(PHOTOS)
    for img in photos:
        assert re.search(r"-1200w\.\w+\.jpg$", img["src"]), img
        assert served(site.output, img["src"], "/feeds/all.atom.xml").is_file()
        assert not img.has_attr("srcset") and img["width"] == "1200"
    home = BeautifulSoup((site.output / "index.html").read_text(encoding="utf-8"), "html.parser")
    summary_images = home.select(".summary img")
    assert summary_images, "the summary shows the first photo"
    assert all(img["loading"] == "lazy" for img in summary_images)


def test_the_essay_page_is_valid_html(site, tmp_path):
    """figure, picture, source, srcset, sizes, as the Nu HTML Checker reads them."""
    shutil.copy(site.output / "essays" / SLUG / "index.html", tmp_path / "essay.html")
    result = nu_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- The cache -------------------------------------------------------------------------

def snapshot(cache: Path) -> dict:
    return {path: (path.stat().st_mtime_ns, path.stat().st_ino) for path in cache.rglob("*") if path.is_file()}


def test_a_second_build_encodes_nothing(site, tmp_path):
    before = snapshot(site.cache)
    copies = [path for path in before if path.suffix in (".avif", ".webp", ".jpg")]
    assert len(copies) == (len(PHOTOS) + 1) * len(WIDTHS) * 3  # and the narrower photo's, at 480, 800, 1000
    again = build(DEV_SETTINGS, tmp_path / "output", site.content, quiet=True, extra_settings=site.settings)
    assert snapshot(site.cache) == before, "a copy was made again"
    page = (again / "essays" / SLUG / "index.html").read_text(encoding="utf-8")
    assert page == (site.output / "essays" / SLUG / "index.html").read_text(encoding="utf-8")


def test_an_unreadable_image_stops_the_build_naming_it(site, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "images").mkdir(exist_ok=True)
    (content / "images" / "broken.jpg").write_bytes(b"<html>not a photo, a saved error page</html>")
    (content / "images" / "cut.jpg").write_bytes((site.content / "images" / "harbour.jpg").read_bytes()[:5000])
    (content / "lost.md").write_text("Title: Lost\nSlug: lost\nDate: 2026-01-11 09:00\n\nWords.\n\n"
                                     "![A photo](images/broken.jpg)\n\n![Another](images/cut.jpg)\n")
    with pytest.raises(BuildError) as failed:
        build(DEV_SETTINGS, tmp_path / "output", content, quiet=True,
              extra_settings={**NO_ISSO, "IMAGE_CACHE_PATH": str(tmp_path / "cache")})
    message = str(failed.value)
    assert re.search(r"lost\.md, line 7: image \S*images/broken\.jpg cannot be read", message), message
    assert re.search(r"lost\.md, line 9: image \S*images/cut\.jpg cannot be read \(image file is truncated", message)
    assert not (tmp_path / "output").exists()


def test_the_writing_loop_brings_a_new_photos_copies(site, tmp_path):
    """kizuna/render_first.py: a saved essay with a photo never built before is
    on screen with its copies, before the whole-site build."""
    content, output = tmp_path / "content", tmp_path / "output"
    shutil.copytree(site.content, content)
    shutil.copytree(site.output, output)
    save_photo(photograph(1600, 1200, 99), content / "images" / "new.jpg")
    essay = content / "new.md"
    essay.write_text("Title: New\nSlug: new\nDate: 2026-01-12 09:00\n\nWords.\n\n![A new photo](images/new.jpg)\n")
    assert render_first(essay, DEV_SETTINGS, output, content, extra_settings=site.settings) == ["essays/new/index.html"]
    page = BeautifulSoup((output / "essays" / "new" / "index.html").read_text(encoding="utf-8"), "html.parser")
    picture = page.select_one("article.essay figure picture")
    srcsets = [source["srcset"] for source in picture.find_all("source")] + [picture.img["srcset"]]
    for address, _ in (c for srcset in srcsets for c in candidates(srcset)):
        served(output, address, "/essays/new/")


# --- In a real browser -----------------------------------------------------------------

@pytest.fixture(scope="module")
def site_url(site):
    yield from serving(site.output)


# Layout shift as the page itself measures it (the Layout Instability API), from
# the first paint on. Every shift counts: nothing here is a reader's input (and
# Chromium marks some shifts of a driven page as "after input" all the same).
WATCH_SHIFTS = """window.__shift = 0;
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) window.__shift += entry.value;
}).observe({type: "layout-shift", buffered: true});"""
SCROLL_TO_THE_END = """async () => {
  for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight / 2) {
    scrollTo(0, y);
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  }
  await Promise.all([...document.querySelectorAll("article img")].map(image => image.decode()));
  return [...document.querySelectorAll("article figure img")].map(image => ({
    src: image.currentSrc, width: image.getBoundingClientRect().width, natural: image.naturalWidth}));
}"""


def read_essay(browser, url: str, width: int, height: int, scale: float):
    """Open the essay as a reader on this screen would, the photos arriving
    only after the text is painted (as on a slow connection: held back until
    then, through the DevTools protocol), then scroll to its end. Returns each
    figure's image as shown, every address requested, and the layout shift."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale,
                                  is_mobile=width < 800)
    try:
        context.set_default_timeout(15_000)
        page = context.new_page()
        requested, held = [], []
        page.on("request", lambda request: requested.append(request.url))
        page.add_init_script(WATCH_SHIFTS)
        devtools = context.new_cdp_session(page)
        devtools.on("Fetch.requestPaused", lambda event: held.append(event["requestId"]))
        devtools.send("Fetch.enable", {"patterns": [{"urlPattern": "*/images/*"}]})
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length > 0")
        for _ in range(500):
            if held:
                break
            page.wait_for_timeout(20)
        assert held, "the first photo was never asked for"
        for request in held:
            devtools.send("Fetch.continueRequest", {"requestId": request})
        devtools.send("Fetch.disable")
        shown = page.evaluate(SCROLL_TO_THE_END)
        return shown, requested, page.evaluate("() => window.__shift")
    finally:
        context.close()


@pytest.mark.parametrize("width, height, scale, column, chosen", [
    (390, 844, 3, 350, 1200),  # an iPhone: 350 CSS px x 3 = 1,050 device px
    (390, 844, 1, 350, 480),
    (412, 823, 1.75, 372, 800),  # Lighthouse's phone (Moto G Power): 651 device px
    (1280, 800, 1, 600, 800),  # a desktop: the column at its widest
], ids=["phone-3x", "phone-1x", "moto-1.75x", "desktop"])
def test_the_browser_takes_the_copy_its_screen_needs_and_nothing_shifts(browser, site_url, width, height, scale,
                                                                         column, chosen):
    shown, requested, shift = read_essay(browser, site_url + ESSAY_URL, width, height, scale)
    assert len(shown) == len(PHOTOS)
    for image in shown:
        assert re.search(rf"-{chosen}w\.\w+\.avif$", image["src"]), image
        assert image["natural"] > 0, "the copy did not decode"
        # `sizes` says what the stylesheet does: the browser chose for the width it then shows.
        assert abs(image["width"] - column) < 1, image
    originals = [url for url in requested if re.search(r"/images/\w+\.jpg$", url)]
    assert originals == [], "a phone downloaded an original"
    assert shift == 0, "the page moved as the photos arrived"


def test_the_shift_is_seen_when_images_have_no_size(browser, site, site_url):
    """The check above can fail: the same page without width and height moves."""
    page = (site.output / "essays" / SLUG / "index.html").read_text(encoding="utf-8")
    unsized = site.output / "essays" / "unsized" / "index.html"
    unsized.parent.mkdir()
    unsized.write_text(re.sub(r' (width|height)="\d+"', "", page), encoding="utf-8")
    try:
        shown, _, shift = read_essay(browser, site_url + "/essays/unsized/", 390, 844, 3)
    finally:
        shutil.rmtree(unsized.parent)
    assert len(shown) == len(PHOTOS)
    assert shift > 0.05
