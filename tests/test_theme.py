"""What the theme promises that can be read from the built files: metadata for
sharing and search, hashed asset names, precompressed copies, a light first
view, alt-text warnings and per-essay comment switches."""

import gzip
import hashlib
import io
import json
import re
import tokenize

from bs4 import BeautifulSoup

from support import invoke
from kizuna import DEV_SETTINGS, ROOT

ESSAY = "essays/unresolved-desire-to-connect/index.html"
SITE = "https://kizuna.example.org"


def soup(site, path):
    return BeautifulSoup((site / path).read_text(encoding="utf-8"), "html.parser")


def test_essay_metadata_for_sharing_and_search(prod_site):
    page = soup(prod_site, ESSAY)
    url = f"{SITE}/essays/unresolved-desire-to-connect/"
    assert page.find("link", rel="canonical")["href"] == url
    assert page.find("meta", property="og:url")["content"] == url
    assert page.find("meta", property="og:title")["content"] == "Unresolved Desire to Connect"
    assert page.find("meta", property="og:type")["content"] == "article"
    assert page.find("meta", attrs={"name": "twitter:card"})["content"] == "summary"
    data = json.loads(page.find("script", type="application/ld+json").string)
    assert data["@type"] == "BlogPosting"
    assert data["headline"] == "Unresolved Desire to Connect"
    assert data["author"]["name"] == "K.A.L.T"
    assert data["datePublished"].startswith("2026-11-28")
    assert data["mainEntityOfPage"] == url
    assert data["keywords"] == ["superficial connections"]
    feeds = {link["href"]: link["type"] for link in page.find_all("link", rel="alternate")}
    assert feeds == {f"{SITE}/feeds/all.atom.xml": "application/atom+xml",
                     f"{SITE}/feeds/all.rss.xml": "application/rss+xml",  # and its comments' (test_feeds_everywhere.py)
                     f"{SITE}/isso/feed?uri=/essays/unresolved-desire-to-connect/": "application/atom+xml"}


def sitemap_dates(site) -> dict[str, str]:
    """{address: lastmod} from a built sitemap.xml."""
    text = (site / "sitemap.xml").read_text(encoding="utf-8")
    return dict(re.findall(r"<loc>([^<]+)</loc>\s*<lastmod>([^<]+)</lastmod>", text))


def test_sitemap_and_robots(prod_site):
    dates = sitemap_dates(prod_site)
    assert dates[f"{SITE}/essays/unresolved-desire-to-connect/"]
    # Lists are dated by their newest essay, not by the build's clock (a new sitemap.xml, to
    # publish again, with every build): the same date on every list, the newest an essay has.
    essays = {loc: date for loc, date in dates.items() if "/essays/" in loc}
    assert dates[f"{SITE}/"] == dates[f"{SITE}/archives/"] == max(essays.values())
    assert "User-agent: *" in (prod_site / "robots.txt").read_text()


def test_assets_carry_a_hash_of_their_content(dev_site):
    page = soup(dev_site, ESSAY)
    stylesheet = page.find("link", rel="stylesheet")["href"]
    script = page.find("script", src=True)["src"]
    for url in (stylesheet, script):
        stem, version, suffix = re.fullmatch(r"/(theme/\S+)\.([0-9a-f]{10})\.(css|js)", url).groups()
        plain = (dev_site / f"{stem}.{suffix}").read_bytes()  # Pelican's copy of the theme's file
        assert hashlib.sha256(plain).hexdigest()[:10] == version
        assert (dev_site / url.lstrip("/")).read_bytes() == plain  # the copy under its content's name
    assert page.find("script", src=True).has_attr("defer")  # never render-blocking


def test_production_build_writes_gzip_and_brotli_copies(prod_site):
    stylesheet = soup(prod_site, ESSAY).find("link", rel="stylesheet")["href"].removeprefix(SITE + "/")
    for path in (ESSAY, stylesheet, "feeds/all.atom.xml"):
        assert gzip.decompress((prod_site / (path + ".gz")).read_bytes()) == (prod_site / path).read_bytes()
        assert (prod_site / (path + ".br")).stat().st_size > 0


def test_first_view_is_under_ten_kilobytes_compressed(prod_site):
    """HTML, CSS and JS before the comments: the bytes a reader waits for."""
    page = soup(prod_site, ESSAY)
    assets = [page.find("link", rel="stylesheet")["href"], page.find("script", src=True)["src"]]
    files = [ESSAY] + [re.sub(r"^https?://[^/]+/|\?.*$", "", url) for url in assets]
    total = sum((prod_site / (path + ".gz")).stat().st_size for path in files)
    assert len(files) <= 3 and total <= 10 * 1024, (files, total)


def test_one_h1_and_a_language_on_every_page(dev_site):
    for path in dev_site.rglob("*.html"):
        page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        assert len(page.find_all("h1")) == 1, path
        assert page.html.get("lang"), path


IMAGE_ESSAY = """Title: Pictures
Date: 2026-02-01
Comments: off

![](/images/street.png)

![A rainy street at night](/images/street.png)
"""


def test_image_without_alt_text_is_named_and_comments_can_be_off(repo_copy):
    (repo_copy / "content" / "pictures.md").write_text(IMAGE_ESSAY)
    result = invoke(repo_copy, "build")
    warnings = [line for line in result.stdout.splitlines() if "has no alt text" in line]
    assert len(warnings) == 1 and "content/pictures.md" in warnings[0] and "/images/street.png" in warnings[0]
    page = soup(repo_copy / "output", "essays/pictures/index.html")
    assert page.find(id="comments") is None
    assert not page.find("a", href="#comments")
    essay = soup(repo_copy / "output", ESSAY)
    assert essay.find(id="comments") and essay.find("a", href="#comments")


# --- The theme reads the comment rules and options; it does not make them ------

THEME = ROOT / "theme"


def test_templates_read_the_comment_rules_the_plugin_decided():
    """Whether comments are open and the thread's id come from
    plugins/baked_comments (article.comments_open, article.comments_thread)."""
    for path in (THEME / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "COMMENTS_THREAD_ID" not in text, path
        assert not re.search(r"\.comments\b(?!_)", text), f"{path} reads the Comments: field itself"
        assert not re.search(r"""["']off["']""", text), path


def test_kizuna_js_names_no_isso_option():
    """The widget's options live in ISSO_OPTIONS; kizuna.js copies whatever
    data-isso-* attributes the thread carries."""
    from pelican.settings import read_settings

    script = (THEME / "static/js/kizuna.js").read_text(encoding="utf-8")
    options = read_settings(str(DEV_SETTINGS))["ISSO_OPTIONS"]
    names = {"lang", *options, *(re.sub(r"-text-[a-z_-]+$", "", name) for name in options)}
    for name in names:
        assert f'"{name}"' not in script and f"'{name}'" not in script and f"data-isso-{name}" not in script, name
    assert "-text-" not in script
    for value in options.values():
        assert not isinstance(value, str) or len(value) < 6 or value not in script, value


def code_outside_strings(path):
    """A file's identifiers and markup, without its comments and quoted text."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return " ".join(token.string for token in tokenize.generate_tokens(io.StringIO(text).readline)
                        if token.type == tokenize.NAME)
    if path.suffix == ".html":  # what Jinja reads: inside {{ }} and {% %}, and attribute names
        tags = re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text, flags=re.S)
        return " ".join(tags + re.findall(r"\s([\w-]+)=", text) + re.findall(r'class="([^"]*)"', text))
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"(?m)^\s*//.*$|\s//\s.*$", " ", text)
    return re.sub(r'"(?:\\.|[^"\\])*"' if path.suffix == ".js" else r"(?!)", '""', text)


def test_code_says_comments():
    """Readers read "Thoughts"; the code says comments (identifiers, template
    variables, attributes, CSS classes). Reader-facing words are left as they are."""
    sources = [*THEME.rglob("*.html"), *THEME.rglob("*.js"), *THEME.rglob("*.css"),
               *(ROOT / "plugins").rglob("*.py"), *(ROOT / "kizuna").rglob("*.py"), *(ROOT / "tests").glob("*.py"),
               ROOT / "tasks.py", ROOT / "pelicanconf.py", ROOT / "publishconf.py"]
    offenders = [str(path.relative_to(ROOT)) for path in sources
                       if re.search(r"thought", code_outside_strings(path), flags=re.I)]
    assert not offenders
