"""The owner's essay is published verbatim: every sentence, in order, with its
epigraph, attribution, sign-off and closing invitation."""

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

SEED = Path(__file__).parent / "fixtures" / "unresolved-desire-to-connect.txt"
ESSAY = "essays/unresolved-desire-to-connect/index.html"


def squash(text: str) -> str:
    return " ".join(text.split())


def seed_sentences() -> list[str]:
    """Every sentence of the seed, line by line, split after . ? ! and …"""
    sentences = []
    for line in SEED.read_text(encoding="utf-8").splitlines():
        sentences += [s for s in re.split(r"(?<=[.?!…”])\s+", squash(line)) if s]
    return sentences


@pytest.fixture(scope="module")
def page(dev_site):
    return BeautifulSoup((dev_site / ESSAY).read_text(encoding="utf-8"), "html.parser")


def test_seed_has_the_sentences_we_expect():
    sentences = seed_sentences()
    assert sentences[0] == "Unresolved Desire to Connect"
    assert sentences[-1].startswith("Please feel free to leave your thoughts")
    assert len(sentences) >= 30


def test_every_sentence_appears_in_order(page):
    text = squash(page.find("main").get_text())
    position = 0
    for sentence in seed_sentences():
        found = text.find(sentence, position)
        assert found >= 0, f"missing or out of order: {sentence!r}"
        position = found + len(sentence)


def test_title_subtitle_and_author(page):
    essay = page.find("article")
    assert essay.find("h1").get_text(strip=True) == "Unresolved Desire to Connect"
    assert essay.find(class_="subtitle").get_text(strip=True) == "superficial connections"
    assert len(page.find_all("h1")) == 1
    assert page.find("a", rel="tag").get_text(strip=True) == "superficial connections"


def test_epigraph_is_a_blockquote_with_its_attribution(page):
    figure = page.find("figure", class_="epigraph")
    quote = figure.find("blockquote")
    assert squash(quote.get_text()) == (
        "“Everyone wants to carve their scars into someone else. "
        "Everyone wants to connect with someone else.”"
    )
    assert squash(figure.find("figcaption").get_text()) == "– Noriko Sonozaki (Kiznaiver)"
    assert figure.find("cite").get_text() == "Kiznaiver"


def test_sign_off_then_invitation_close_the_essay(page):
    paragraphs = page.find("article").find_all("p", recursive=False)
    assert paragraphs[-2].get_text() == "– K.A.L.T"
    assert "signoff" in paragraphs[-2]["class"]
    assert paragraphs[-1].get_text().endswith("leave your thoughts and feelings in the comments below 🙂")


def test_published_under_a_clean_url(dev_site):
    assert (dev_site / ESSAY).is_file()
    home = (dev_site / "index.html").read_text(encoding="utf-8")
    assert 'href="/essays/unresolved-desire-to-connect/"' in home
