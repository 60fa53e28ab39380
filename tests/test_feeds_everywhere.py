"""A feed for every way in: the whole site, each tag, each category, each
series, and each essay's comments (Isso's own feed, so the writer can follow
new comments in a feed reader). Every feed parses without complaint, carries
whole essays (or whole comments) with absolute links, and is advertised
exactly on the pages where it belongs, at an address that answers.

The comments feed is tested against the real comment server, as `invoke
serve` runs it and through production's nginx: it shows approved comments
only (never one waiting, nor a reply the thread hides), no e-mail or network
address, and a feed reader asking "changed since?" hears of a comment
approved later."""

import json
import re
import urllib.parse
from collections import defaultdict

import feedparser
import pytest
from bs4 import BeautifulSoup

from kizuna import PROD_SETTINGS
from kizuna.build import build
from support import approve_comments, isso_post, isso_request
from test_series import NO_ISSO, TITLES, write_site

ORIGIN = "https://kizuna.example.org"  # the production build's address (the settings table's placeholder)
ISSO_FEED = f"{ORIGIN}/isso/feed?uri="  # KIZUNA_ISSO_URL's default, $KIZUNA_SITEURL/isso/, + feed?uri=
ESSAYS = {  # slug → (title, its series' slug or None)
    "the-first-letter": ("The first letter", "letters-home"),
    "the-second-letter": ("The second letter", "letters-home"),
    "the-last-letter": ("The last letter", "letters-home"),
    "step-one": ("Step one", "steps"), "step-two": ("Step two", "steps"), "on-its-own": ("On its own", None),
}
# Each feed the build must write → the essays it holds (all of them: fewer than FEED_MAX_ITEMS).
FEEDS = {
    "feeds/all.atom.xml": set(ESSAYS), "feeds/all.rss.xml": set(ESSAYS),
    "feeds/tags/letters.atom.xml": {"the-first-letter", "the-second-letter", "the-last-letter"},
    "feeds/tags/rain.atom.xml": {"the-first-letter", "the-second-letter", "the-last-letter", "on-its-own"},
    "feeds/tags/steps.atom.xml": {"step-one", "step-two"},
    "feeds/categories/essays.atom.xml": set(ESSAYS),
    "feeds/series/letters-home.atom.xml": {"the-first-letter", "the-second-letter", "the-last-letter"},
    "feeds/series/steps.atom.xml": {"step-one", "step-two"},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feeds-everywhere")
    return build(PROD_SETTINGS, folder / "output", write_site(folder / "content"), quiet=True, extra_settings=NO_ISSO)


def whole_text(title: str) -> str:
    return f"The whole of {title.lower()}, to its very last line."


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_every_feed_parses_and_carries_whole_essays_with_absolute_links(site, name):
    feed = feedparser.parse((site / name).read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.link.startswith(ORIGIN + "/")
    if name.endswith(".atom.xml"):
        assert feed.feed.id and any(link.rel == "self" and link.href == f"{ORIGIN}/{name}" for link in feed.feed.links)
    slugs = set()
    for entry in feed.entries:
        assert entry.link.startswith(f"{ORIGIN}/essays/"), entry.link
        slug = entry.link.removeprefix(f"{ORIGIN}/essays/").strip("/")
        slugs.add(slug)
        html = entry.content[0].value if "content" in entry else entry.description
        text = " ".join(BeautifulSoup(html, "html.parser").get_text().split())
        title = ESSAYS[slug][0]
        assert entry.title == title
        assert f"The opening of {title.lower()}." in text and whole_text(title) in text, (name, text)
    assert slugs == FEEDS[name]


def alternates(page: BeautifulSoup) -> dict[str, str]:
    """The feeds a page advertises, href → type."""
    return {link["href"]: link["type"] for link in page.find_all("link", rel="alternate")}


def test_each_feed_is_advertised_exactly_on_the_pages_where_it_belongs(site):
    site_feeds = {f"{ORIGIN}/feeds/all.atom.xml": "application/atom+xml",
                  f"{ORIGIN}/feeds/all.rss.xml": "application/rss+xml"}
    advertised_on = defaultdict(set)  # feed → the pages advertising it
    for path in sorted(site.rglob("*.html")):
        page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        address = "/" + path.relative_to(site).as_posix().removesuffix("index.html")
        shown = alternates(page)
        assert set(site_feeds.items()) <= set(shown.items()), address
        own = {href: kind for href, kind in shown.items() if href not in site_feeds}
        assert set(own.values()) <= {"application/atom+xml"}, address
        for href in own:
            advertised_on[href].add(address)
        expected = set()
        if match := re.fullmatch(r"/(tags|categories|series)/([^/]+)/(page/\d+/)?", address):
            expected = {f"{ORIGIN}/feeds/{match[1]}/{match[2]}.atom.xml"}
            follow = page.select_one("p.follow a")  # the same feed, as a visible link
            assert follow is not None and follow["href"] in expected, address
        elif match := re.fullmatch(r"/essays/([^/]+)/", address):
            series = ESSAYS[match[1]][1]
            expected = {ISSO_FEED + f"/essays/{match[1]}/"} | (
                {f"{ORIGIN}/feeds/series/{series}.atom.xml"} if series else set())
        else:
            assert page.select_one("p.follow") is None, address
        assert set(own) == expected, (address, own)
    # Every feed the build wrote is advertised somewhere, and every advertised feed of the site exists.
    written = {f"{ORIGIN}/{path.relative_to(site).as_posix()}" for path in (site / "feeds").rglob("*.xml")}
    assert written == {href for href in advertised_on if not href.startswith(ISSO_FEED)} | set(site_feeds)
    assert set(FEEDS) == {href.removeprefix(ORIGIN + "/") for href in written}
    # The comments feed: on each essay's page, at the comment server's /feed, for that essay's thread.
    for href, pages in advertised_on.items():
        if href.startswith(ISSO_FEED):
            parts = urllib.parse.urlsplit(href)
            assert parts.path == "/isso/feed"  # nginx's location for it (deploy/nginx-site.conf.j2)
            assert pages == {urllib.parse.parse_qs(parts.query)["uri"][0]}


# --- Each essay's comments, from the real comment server -------------------------

THREAD = "/essays/on-waiting/"  # open for comments on the test servers (support.TEST_THREADS)
THREAD_TITLE = "On Waiting"
FIRST = "A first thought, with **emphasis**,\n\nand a second paragraph that goes on to its very end."


def comments_feed(answer: bytes):
    feed = feedparser.parse(answer)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def feed_path(uri: str = THREAD, prefix: str = "") -> str:
    return f"{prefix}/feed?uri={urllib.parse.quote(uri, safe='')}"


def test_the_comments_feed_shows_exactly_what_the_thread_shows(isso):
    """The comment server as `invoke serve` and the tests run it (kizuna.comments.dev_server:
    Isso with Kizuna's rules and hardening, the very application production runs)."""
    private = {"email": "mika@example.org", "website": "https://mika.example.org"}
    first = isso_post(isso, THREAD, FIRST, reader="192.0.2.41", author="Mika", **private)
    waiting = isso_post(isso, THREAD, "A thought the writer has not read yet.", reader="192.0.2.42",
                        email="waiting@example.org")
    hidden_reply = isso_post(isso, THREAD, "An answer to the thought still waiting.", reader="192.0.2.43",
                             parent=waiting["id"])
    anonymous = isso_post(isso, THREAD, "A thought left without a name.", reader="192.0.2.44")
    status, answer = isso_request(isso, "GET", feed_path())
    assert status == 200 and not comments_feed(answer).entries  # nothing approved yet

    approve_comments(isso.db, first["id"], hidden_reply["id"], anonymous["id"])
    status, answer = isso_request(isso, "GET", feed_path())
    assert status == 200
    feed = comments_feed(answer)
    assert feed.feed.title == f"Thoughts on “{THREAD_TITLE}”"
    by_id = {int(entry.link.rpartition("#isso-")[2]): entry for entry in feed.entries}
    assert set(by_id) == {first["id"], anonymous["id"]}  # not the one waiting, nor the reply under it
    entry = by_id[first["id"]]
    assert entry.link == f"{isso.site_origin}{THREAD}#isso-{first['id']}"
    assert entry.author == "Mika" and by_id[anonymous["id"]].author == "Anonymous"
    html = entry.content[0].value
    assert "<strong>emphasis</strong>" in html and "goes on to its very end." in html  # whole, as HTML
    text = answer.decode("utf-8")
    for secret in ("mika@example.org", "waiting@example.org", "mika.example.org", "192.0.2",
                   "A thought the writer has not read yet", "An answer to the thought still waiting"):
        assert secret not in text, secret

    # A feed reader that asks "changed since?" hears of an older comment approved later.
    status, headers, _ = raw_get(isso, feed_path())
    etag = headers["ETag"]
    assert "Last-Modified" not in headers
    assert raw_get(isso, feed_path(), {"If-None-Match": etag})[0] == 304
    approve_comments(isso.db, waiting["id"])
    status, headers, answer = raw_get(isso, feed_path(), {"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    shown = {int(entry.link.rpartition("#isso-")[2]) for entry in comments_feed(answer).entries}
    assert shown == {first["id"], waiting["id"], hidden_reply["id"], anonymous["id"]}
    # A reader's limit is not passed on (Isso: any number, or a 500 past 64 bits).
    for limit in ("1", "999999999999999999999999"):
        status, answer = isso_request(isso, "GET", feed_path() + "&limit=" + limit)
        assert status == 200 and len(comments_feed(answer).entries) == 4, limit


def raw_get(isso, path: str, headers: dict | None = None):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", isso.port, timeout=15)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """Production's topology (nginx from deploy/*.j2 in front of gunicorn running Isso), no site build."""
    from test_stage import RAISED_LIMITS, staged

    yield from staged(tmp_path_factory.mktemp("feed-stage"), RAISED_LIMITS, workers=1, build=False,
                      essays={THREAD: THREAD_TITLE})


def test_the_comments_feed_through_production_nginx(stage):
    status, _, body = stage.post(THREAD, "Through nginx, approved, then in the feed.")
    assert status == 202
    cid = json.loads(body)["id"]
    approve_comments(stage.db, cid)
    status, headers, answer = stage.request("GET", feed_path(prefix="/isso") + "&limit=1&z=2")
    assert status == 200, answer
    assert headers["Content-Type"].startswith("application/atom+xml")
    (entry,) = comments_feed(answer).entries
    assert entry.link == f"{stage.url}{THREAD}#isso-{cid}"  # the site's own origin: KIZUNA_ISSO_HOST
    assert "Through nginx, approved, then in the feed." in entry.content[0].value
    status, headers, _ = stage.request("GET", feed_path(prefix="/isso"))
    assert status == 200 and headers["X-Cache"] in ("HIT", "MISS", "EXPIRED", "UPDATING")
    assert stage.request("POST", feed_path(prefix="/isso"), b"{}",
                         {"Origin": stage.url, "Content-Type": "application/json"})[0] == 405


def test_a_series_feed_holds_its_parts_newest_first_as_every_feed(site):
    feed = feedparser.parse((site / "feeds/series/letters-home.atom.xml").read_bytes())
    assert [entry.title for entry in feed.entries] == list(reversed(TITLES))
    assert feed.feed.title.endswith("Letters home")
