"""Images written as the README says, `![Alt text](images/street.jpg)`, show
wherever the essay is shown: its page, the home page's summaries and the
feeds (absolute there), in development and in production; a missing image
stops the build, naming the essay, the line and the path written.

Real builds (`invoke build`, `invoke preview --build-only`) in a copy of the
repository, with real image files; each address is checked by resolving it
as a browser would, against the page's own address, and finding the file.
"""

import base64
import struct
import zlib
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import feedparser
import pytest
from bs4 import BeautifulSoup

from support import copy_repository, invoke
from test_broken_content import tree_digest

DEV_ORIGIN = "http://127.0.0.1:8000"  # FEED_DOMAIN while writing
PROD_ORIGIN = "https://kizuna.example.org"  # the default KIZUNA_SITEURL

# A 1x1 JPEG (made by chromium, which decodes it back).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hn"
    "Pk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2P/wAARCAABAAEDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAX/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAA"
    "AAAAAAAAAAAABAX/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwCaAoAv/9k="
)


def png(rgb=(51, 102, 153)) -> bytes:
    """A valid 1x1 PNG of one colour."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" + bytes(rgb))) + chunk(b"IEND", b""))


# Every way the README allows, in one essay; the first image is in its summary
# (no Summary: field, so the home page shows its first words).
RAIN = """\
Title: Rain
Slug: rain
Date: 2026-11-28 10:00
Tags: weather

![A rainy street at night](images/street.jpg) The street after rain.

![A puddle beside the essay](puddle.png)

![A dot, written with ./](./images/dot.png)

![The street, named without its folder](street.jpg)

![The lamp, Pelican's own way]({static}/images/lamp.png)

[The street, full size](images/street.jpg)

<picture><source srcset="images/dot.png 1x, puddle.png 2x"><img src="images/lamp.png" alt="A lamp, in two sizes" srcset="images/lamp.png 1x, puddle.png 2x"></picture>
""" + "\n".join(f"Paragraph {n} of words that push this past the summary's sixty words." for n in range(12)) + "\n"

LAMP = """\
Title: Lamp
Slug: lamp
Date: 2026-11-28 11:00
Summary: ![A lamp in the window](images/lamp.png) A summary with a picture in it.

The essay itself.
"""

# A draft's picture beside it must not ship with the production build.
DRAFT = """\
Title: Not Yet
Slug: not-yet
Date: 2026-11-28 12:00
Status: draft

![A secret](secret.png)
"""

IMAGES = {"images/street.jpg": JPEG, "images/dot.png": png((0, 0, 0)), "images/lamp.png": png((255, 200, 0)),
          "puddle.png": png((0, 90, 200)), "secret.png": png((200, 0, 0))}
ATTRIBUTES = {"img": ("src", "srcset"), "source": ("src", "srcset"), "a": ("href",)}  # where image addresses are


def write_site(copy: Path) -> None:
    content = copy / "content"
    for name, data in IMAGES.items():
        (content / name).parent.mkdir(parents=True, exist_ok=True)
        (content / name).write_bytes(data)
    (content / "rain.md").write_text(RAIN)
    (content / "lamp.md").write_text(LAMP)
    (content / "not-yet.md").write_text(DRAFT)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """{"dev": output/, "prod": output/} of one repository copy holding the essays above."""
    copy = copy_repository(tmp_path_factory.mktemp("images") / "site")
    write_site(copy)
    invoke(copy, "build")
    (copy / "output").rename(copy / "output-dev")
    invoke(copy, "preview", "--build-only")
    return {"dev": copy / "output-dev", "prod": copy / "output"}


def addresses(html: str, within: str | None = None) -> list[str]:
    """Every image address in the HTML (in the elements matching `within` if
    given), in order, srcset candidates one by one, links only to images."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for root in soup.select(within) if within else [soup]:
        for element in root.find_all(list(ATTRIBUTES)):
            for attribute in ATTRIBUTES[element.name]:
                value = element.get(attribute)
                if not value or (element.name == "a" and not value.lower().endswith((".png", ".jpg"))):
                    continue
                found += [c.split()[0] for c in value.split(",")] if attribute == "srcset" else [value]
    return found


def resolves(output: Path, origin: str, page_url: str, address: str) -> Path:
    """The file a browser at page_url gets for address (failing if none)."""
    url = urljoin(page_url, address)
    assert url.startswith(origin + "/"), f"{address} on {page_url} leaves the site: {url}"
    path = output / unquote(urlparse(url).path).lstrip("/")
    assert path.is_file(), f"{address} on {page_url} is {url}, and there is no such file"
    return path


def images_of(output: Path, origin: str, page: str, within: str | None = None) -> list[bytes]:
    """The bytes served for each image address on the page at /page."""
    html = (output / page / "index.html").read_text()
    assert "{static}" not in html
    return [resolves(output, origin, f"{origin}/{page}", address).read_bytes() for address in addresses(html, within)]


@pytest.mark.parametrize("build, origin", [("dev", DEV_ORIGIN), ("prod", PROD_ORIGIN)])
def test_every_form_resolves_on_the_essay_page(built, build, origin):
    served = images_of(built[build], origin, "essays/rain/", "article.essay")
    # street.jpg three ways and a link to it, puddle beside the essay, dot with ./, lamp with {static},
    # then <picture>: each srcset candidate and the src
    assert served == [IMAGES[name] for name in (
        "images/street.jpg", "puddle.png", "images/dot.png", "images/street.jpg", "images/lamp.png",
        "images/street.jpg", "images/dot.png", "puddle.png", "images/lamp.png", "images/lamp.png", "puddle.png")]
    assert not list(built[build].rglob("*.md")), "an essay's Markdown was published"


@pytest.mark.parametrize("build, origin", [("dev", DEV_ORIGIN), ("prod", PROD_ORIGIN)])
@pytest.mark.parametrize("feed", ["feeds/all.atom.xml", "feeds/all.rss.xml"])
def test_feeds_carry_image_addresses_that_resolve(built, build, origin, feed):
    """In production every address is absolute. While writing (SITEURL is
    empty), Pelican writes a feed's links from the site's root, its entries'
    own links too: images follow, and resolve against the feed's address."""
    parsed = feedparser.parse((built[build] / feed).read_bytes(), resolve_relative_uris=False, sanitize_html=False)
    (entry,) = [e for e in parsed.entries if e.title == "Rain"]
    html = entry.content[0].value if "content" in entry else entry.description
    found = addresses(html)
    assert len(found) == 11, html
    assert all(a.startswith(origin + "/" if build == "prod" else "/") for a in found), found
    served = {resolves(built[build], origin, f"{origin}/{feed}", a).read_bytes() for a in found}
    assert served == {IMAGES[name] for name in ("images/street.jpg", "puddle.png", "images/dot.png", "images/lamp.png")}


@pytest.mark.parametrize("build, origin", [("dev", DEV_ORIGIN), ("prod", PROD_ORIGIN)])
@pytest.mark.parametrize("page", ["", "tags/weather/"])
def test_summaries_show_their_images_on_lists(built, build, origin, page):
    served = images_of(built[build], origin, page, ".summary")
    # Rain's first words (its street) and Lamp's Summary: field (its lamp)
    assert IMAGES["images/street.jpg"] in served
    if page == "":
        assert IMAGES["images/lamp.png"] in served


def test_a_draft_picture_does_not_ship(built):
    assert images_of(built["dev"], DEV_ORIGIN, "drafts/not-yet/", "article") == [IMAGES["secret.png"]]
    assert not (built["prod"] / "secret.png").exists()
    assert (built["prod"] / "puddle.png").is_file()


def test_a_missing_image_stops_the_build_and_keeps_output(repo_copy):
    write_site(repo_copy)
    invoke(repo_copy, "build")
    before = tree_digest(repo_copy / "output")

    (repo_copy / "content" / "lost.md").write_text(
        "Title: Lost\nSlug: lost\nDate: 2026-11-28 13:00\n\nA first paragraph.\n\n"
        "![A street that is not there](images/missing.jpg)\n")
    result = invoke(repo_copy, "build", check=False)

    assert result.returncode != 0, result.stdout
    assert "content/lost.md, line 7" in result.stdout, result.stdout
    assert "images/missing.jpg" in result.stdout, result.stdout
    assert "Build failed; output/ was left as it was." in result.stdout
    assert tree_digest(repo_copy / "output") == before
