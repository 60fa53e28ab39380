"""What the theme promises that can be read from the built files: metadata for
sharing and search, hashed asset names, precompressed copies, a light first
view, alt-text warnings and per-essay comment switches."""

import gzip
import hashlib
import json
import re

import pytest
from bs4 import BeautifulSoup

from conftest import invoke

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
    feeds = {link["type"]: link["href"] for link in page.find_all("link", rel="alternate")}
    assert feeds == {"application/atom+xml": f"{SITE}/feeds/all.atom.xml",
                     "application/rss+xml": f"{SITE}/feeds/all.rss.xml"}


def test_sitemap_and_robots(prod_site):
    sitemap = (prod_site / "sitemap.xml").read_text()
    assert f"<loc>{SITE}/essays/unresolved-desire-to-connect/</loc>" in sitemap
    assert "User-agent: *" in (prod_site / "robots.txt").read_text()


def test_assets_carry_a_hash_of_their_content(dev_site):
    page = soup(dev_site, ESSAY)
    stylesheet = page.find("link", rel="stylesheet")["href"]
    script = page.find("script", src=True)["src"]
    for url in (stylesheet, script):
        path, version = re.fullmatch(r"/(theme/\S+)\?v=([0-9a-f]{10})", url).groups()
        assert hashlib.sha256((dev_site / path).read_bytes()).hexdigest()[:10] == version
    assert page.find("script", src=True).has_attr("defer")  # never render-blocking


def test_production_build_writes_gzip_and_brotli_copies(prod_site):
    for path in (ESSAY, "theme/css/kizuna.css", "feeds/all.atom.xml"):
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
