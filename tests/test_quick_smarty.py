"""kizuna.quick_smarty must write exactly what Python-Markdown's smarty writes:
the same HTML, byte for byte, on awkward cases and on thousands of random
punctuation-heavy documents."""

import random

import markdown
import pytest

SMARTY = "markdown.extensions.smarty"
QUICK = "kizuna.quick_smarty"

AWKWARD = [
    "He said, \"'Quoted' words in a larger quote.\"",
    "'Quoted' \"double\" and 'single' at the start.",
    "The '80s and the '90s, rock 'n' roll, ol' times.",
    "Don't, won't, can't -- or --- dashes---and--more --- here.",
    "Wait... what.... Really..... yes.",
    "<<angled>> and >>back<<",
    '"Hello," she said. "Goodbye."',
    "'Tis the season; 'twas the night.",
    "Quote at end'",
    '"',
    "'",
    "A `code 'span' -- here` and \"after\" it.",
    "    code block 'kept' -- as is\n",
    "*Emphasis 'inside' quotes* and **\"bold\"** -- [a 'link'](http://example.com/'x')",
    "&nbsp;\"quoted\" &mdash;'q' &#8211;\"r\"",
    "1--2 and 3---4 and a - b",
    "'\"nested\"' \"'nested'\"",
    "Footnote ref.[^1] \"Quote\"\n\n[^1]: A 'note' -- with dashes...",
    "> \"A blockquote\" -- with 'quotes'...",
    "# A 'heading' -- with \"quotes\"",
    "<div markdown=\"1\">'raw' \"html\" -- block</div>",
    "Text with &amp; and 'quotes' & \"more\"",
    "Trailing space quote ' and \" alone",
    "It's 5' 10\" tall -- roughly.",
]


def render(extension, text, **config):
    md = markdown.Markdown(extensions=["markdown.extensions.extra", "markdown.extensions.toc", extension],
                           extension_configs={extension: config}, output_format="html5")
    return md.convert(text)


@pytest.mark.parametrize("text", AWKWARD)
@pytest.mark.parametrize("config", [{}, {"smart_angled_quotes": True}])
def test_same_html_as_smarty_on_awkward_text(text, config):
    expected = render(SMARTY, text, **config)
    assert render(QUICK, text, **config) == expected
    if any(mark in text for mark in "'\"") and "code block" not in text:
        assert "&rsquo;" in expected or "&ldquo;" in expected or "&lsquo;" in expected or "&rdquo;" in expected


def random_document(rng):
    pieces = ["'", '"', "--", "---", "...", "<<", ">>", " ", " ", "\n", "a", "word", "s", "80s", "9",
              "&nbsp;", "&mdash;", "–", "(", "[", "-", ".", ",", "`", "*", "\n\n", "> ", "# "]
    return "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))


def test_same_html_as_smarty_on_random_documents():
    rng = random.Random(1103)  # Python-Markdown issue #1103: why this extension exists
    smarty = markdown.Markdown(extensions=["markdown.extensions.extra", SMARTY], output_format="html5")
    quick = markdown.Markdown(extensions=["markdown.extensions.extra", QUICK], output_format="html5")
    changed = 0
    for _ in range(3000):
        text = random_document(rng)
        smarty.reset()
        quick.reset()
        expected = smarty.convert(text)
        assert quick.convert(text) == expected, repr(text)
        changed += "&" in expected
    assert changed > 1000  # the documents really exercised the substitutions


def test_the_site_uses_it():
    from pelicanconf import MARKDOWN

    assert QUICK in MARKDOWN["extension_configs"]
