"""`invoke import wordpress EXPORT.xml` on WordPress's own theme unit test
export (shared/fixtures/imports): the result builds with every check on, shows
what was published and nothing else, reads right, and a second run (or an
edited essay) is safe. Counts are taken from the XML here, independently."""

import hashlib
import struct
import xml.etree.ElementTree as ET
import zlib
from urllib.parse import unquote

import pytest

from kizuna import DEV_SETTINGS, PROD_SETTINGS
from kizuna.build import build
from support import IMPORTS, invoke, tree_digest

EXPORT = IMPORTS / "wordpress-theme-unit-test.xml"
WP = "{https://wordpress.org/export/1.2/}"


def exported():
    """[(type, status, has password, post_name)] of every post and page, read with ElementTree alone."""
    items = ET.parse(EXPORT).getroot().findall("channel/item")
    found = []
    for item in items:
        kind = item.findtext(f"{WP}post_type")
        if kind in ("post", "page"):
            found.append((kind, item.findtext(f"{WP}status"), bool(item.findtext(f"{WP}post_password")),
                          item.findtext(f"{WP}post_name"), item.findtext("title")))
    return found


def published(kind):
    return [item for item in exported() if item[0] == kind and item[1] == "publish" and not item[2]]


def held_back():
    return [item for item in exported() if item[1] != "publish" or item[2]]


@pytest.fixture
def imported(repo_copy):
    result = invoke(repo_copy, "import", "wordpress", str(EXPORT))
    return repo_copy, result.stdout


def test_the_import_builds_and_publishes_only_what_was_published(imported, tmp_path):
    site, report = imported
    invoke(site, "build")  # every content check on: unknown fields, footnotes, images, duplicate slugs
    production = build(PROD_SETTINGS, tmp_path / "prod", site / "content", quiet=True)
    essays = {path.parent.name for path in (production / "essays").glob("*/index.html")}
    posts = published("post")
    assert len(posts) == 55 and len(held_back()) == 3  # the fixture as its README describes it
    assert {name for _, _, _, name, _ in posts} <= essays
    assert len(essays) == len(posts) + 1  # and the site's own first essay
    pages = {path.parent.name for path in production.glob("*/index.html")}
    wanted = {unquote(name) for _, _, _, name, _ in published("page") if name != "about"}  # Greek slugs too
    assert len(wanted) == 20 and wanted <= pages
    assert "about-2" in pages and "about" in pages  # WordPress's About beside the site's own
    held = [name or title.lower() for _, _, _, name, title in held_back()]
    everything = "\n".join(path.read_text(errors="replace") for path in production.rglob("*.html"))
    for name in held:
        assert not (production / "essays" / name).exists() and not (production / "drafts" / name).exists(), name
    for title in ("Scheduled", "Template: Password Protected"):
        assert f">{title}" not in everything, title
    assert "posts imported as drafts (password-protected): 1" in report
    assert "posts imported as drafts (scheduled): 1" in report and "posts imported as drafts (a draft): 1" in report
    assert "Status: draft" in (site / "content" / "template-password-protected.md").read_text()


def test_conversions_read_right(imported, tmp_path):
    site, report = imported
    output = build(DEV_SETTINGS, tmp_path / "out", site / "content", quiet=True)
    page = (output / "essays" / "markup-html-tags-and-formatting" / "index.html").read_text()
    assert "<table>" in page and "<th>Employee</th>" in page
    assert "<blockquote>" in page and "Stay hungry. Stay foolish." in page
    assert '<h2 id="header-two">Header two' in page
    assert "<pre><code>" in page and "<dl>" in page
    lists = (output / "essays" / "edge-case-nested-and-mixed-lists" / "index.html").read_text()
    article = lists.split("<article", 1)[1].split("</article>", 1)[0]
    assert article.count("<ol>") + article.count("<ul>") >= 13  # every list of the post, nested
    assert "<li>ordered item\n<ul>" in article or "<li>\n<p>ordered item" in article or "<ul>\n<li><strong>" in article
    source = (site / "content" / "markup-html-tags-and-formatting.md").read_text()
    assert "<!-- wp:" not in source and "[gallery" not in source
    gallery = (site / "content" / "post-format-gallery.md").read_text()
    assert gallery.count("![") >= 9 and "[gallery" not in gallery  # its attached images, one after another
    assert "Date: 2013-01-11 03:15:40+00:00" in (site / "content" / "markup-image-alignment.md").read_text()
    assert "post 555 “Post Format: Gallery”" in report  # what was changed is said, per post
    assert (site / "import-report.txt").read_text().startswith("Imported from wordpress-theme-unit-test.xml")


def test_a_second_run_changes_nothing_and_an_edited_essay_is_left_alone(imported):
    site, _ = imported
    before = tree_digest(site / "content")
    again = invoke(site, "import", "wordpress", str(EXPORT)).stdout
    assert tree_digest(site / "content") == before
    assert "files written" not in again and "unchanged since the last import: 79" in again
    essay = site / "content" / "template-sticky.md"
    edited = essay.read_text().replace("Status: published", "Status: draft") + "\nMy own words.\n"
    essay.write_text(edited)
    third = invoke(site, "import", "wordpress", str(EXPORT)).stdout
    assert essay.read_text() == edited
    assert "Left alone: edited since import (1):" in third and "content/template-sticky.md" in third


def test_the_state_keeps_what_comments_and_redirects_need(imported):
    import json

    site, _ = imported
    state = json.loads((site / "content" / ".imported" / "wordpress.json").read_text())
    entry = state["items"]["1177"]
    assert entry["link"] == "https://wpthemetestdata.wordpress.com/2013/01/10/markup-image-alignment/"
    assert entry["guid"] and entry["post_name"] == "markup-image-alignment"
    assert entry["thread"] == entry["url"] == "/essays/markup-image-alignment/"
    assert len(state["items"]) == len(exported())


def test_a_dry_run_writes_nothing(repo_copy):
    before = tree_digest(repo_copy)
    result = invoke(repo_copy, "import", "wordpress", str(EXPORT), "--dry-run")
    assert "Would import" in result.stdout and "posts published: 55" in result.stdout
    assert tree_digest(repo_copy) == before


def _png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_supplied_images_are_copied_and_linked(repo_copy, tmp_path):
    media = tmp_path / "uploads" / "2008" / "06"
    media.mkdir(parents=True)
    (media / "canola2.jpg").write_bytes(_png())  # what the export links to, as the writer's uploads hold it
    result = invoke(repo_copy, "import", "wordpress", str(EXPORT), "--media", str(tmp_path / "uploads"))
    assert (repo_copy / "content" / "images" / "2008" / "06" / "canola2.jpg").read_bytes() == _png()
    assert "](images/2008/06/canola2.jpg)" in (repo_copy / "content" / "post-format-gallery.md").read_text()
    assert "images copied into content/images/: 1" in result.stdout
    invoke(repo_copy, "build")
    assert hashlib.sha256((repo_copy / "output" / "images" / "2008" / "06" / "canola2.jpg").read_bytes()) \
        .hexdigest() == hashlib.sha256(_png()).hexdigest()


def test_an_unknown_kind_is_a_message(repo_copy):
    result = invoke(repo_copy, "import", "blogger", str(EXPORT), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stdout and "wordpress" in result.stdout
