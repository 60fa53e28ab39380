"""Feeds parse and carry whole essays, not teasers."""

import feedparser
import pytest

from test_first_essay import seed_sentences, squash
from bs4 import BeautifulSoup


@pytest.mark.parametrize("name", ["feeds/all.atom.xml", "feeds/all.rss.xml"])
def test_feed_parses_and_holds_the_full_essay(prod_site, name):
    feed = feedparser.parse((prod_site / name).read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    (entry,) = [e for e in feed.entries if e.title == "Unresolved Desire to Connect"]
    assert entry.link.endswith("/essays/unresolved-desire-to-connect/")
    assert entry.link.startswith("https://")
    html = entry.content[0].value if "content" in entry else entry.description
    text = squash(BeautifulSoup(html, "html.parser").get_text())
    # The body of the essay, from its first line to its invitation to comment.
    for sentence in seed_sentences()[2:]:
        assert sentence in text, f"feed {name} lacks {sentence!r}"
