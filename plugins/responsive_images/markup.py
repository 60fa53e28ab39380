"""The HTML of an essay's images: each <img> the essay's Markdown made gets
its size, its smaller copies and the right loading; an image alone in its
paragraph becomes a figure, captioned by its Markdown title:

    ![A rainy street at night](images/street.jpg "Kyoto, after the rain")

    <figure><picture>
      <source type="image/avif" srcset="….480w.avif 480w, … 1200w" sizes="…">
      <source type="image/webp" srcset="…" sizes="…">
      <img src="….1200w.jpg" srcset="…" sizes="…" width="1200" height="900"
           alt="A rainy street at night" loading="lazy" decoding="async">
    </picture><figcaption>Kyoto, after the rain</figcaption></figure>

The essay's first image is likely seen before any scrolling: it is not lazy
(Chromium already fetches the first large images of a page early; the
fetchpriority attribute is left out, as the Nu HTML Checker the tests run
predates it); every later one loads as the reader comes near it. width and
height are those of the largest copy, the image's own shape, so the browser
keeps its place before it arrives (CSS scales it to the column).

Images inside a <picture> the writer wrote, or with a srcset of their own,
are the writer's: left as they are. The alt text and caption are the
writer's words, written back escaped.
"""

import html
import re
from html.parser import HTMLParser

# Matched together, in document order: an image alone in its paragraph
# (maybe inside a link), a writer's <picture> (skipped whole), or any <img>.
IMAGES = re.compile(
    r"(?P<alone><p>\s*(?P<link><a\b[^>]*>\s*)?(?P<image><img\b[^>]*>)\s*(?(link)</a>\s*)</p>)"
    r"|(?P<picture><picture\b.*?</picture\s*>)"
    r"|(?P<img><img\b[^>]*>)",
    re.I | re.S)
IMG = re.compile(r"<img\b[^>]*>", re.I)


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.attributes = []

    def handle_starttag(self, tag, attrs):
        self.attributes = attrs

    handle_startendtag = handle_starttag


def attributes(tag: str) -> list[tuple[str, str | None]]:
    """A start tag's attributes, in order, values unescaped."""
    parser = _Attributes()
    parser.feed(tag)
    parser.close()
    return parser.attributes


def lazy(text: str) -> str:
    """Every image in text loads lazily (a summary, one of many on a list),
    unless its writer said otherwise."""
    def made_lazy(match):
        attrs = attributes(match.group(0))
        if any(key.lower() == "loading" for key, _ in attrs):
            return match.group(0)
        return tag("img", [*attrs, ("loading", "lazy")])
    return IMG.sub(made_lazy, text) if "<img" in text else text


def tag(name: str, attrs: list[tuple[str, str | None]]) -> str:
    written = "".join(f" {key}" if value is None else f' {key}="{html.escape(value)}"' for key, value in attrs)
    return f"<{name}{written}>"


class Images:
    """Rewrites the images of one piece of HTML.

    `measure(src)` gives, for an image's src as written, None (leave it
    alone) or (width, height, sources, fallback): sources a list of
    (mime type, srcset) for <source> elements, fallback None or (src, srcset)
    for the <img>. `sizes` is the sizes attribute (the column's width).
    `first_eager`: the first image is fetched at once (an essay's page);
    else every image is lazy (a summary among others)."""

    def __init__(self, measure, sizes: str, first_eager: bool = True):
        self.measure, self.sizes, self.first_eager = measure, sizes, first_eager
        self.seen = 0

    def rewrite(self, text: str) -> str:
        if not text or "<img" not in text.lower():
            return text
        return IMAGES.sub(self._match, text)

    def _match(self, match: re.Match) -> str:
        if match["picture"]:
            self.seen += match["picture"].lower().count("<img")
            return match["picture"]
        if match["img"]:
            return self._image(match["img"])[0] or match["img"]
        image, caption = self._image(match["image"], captioned=True)
        if image is None:
            return match["alone"]  # nothing known about it: the paragraph stays as written
        link, end = (match["link"], "</a>") if match["link"] else ("", "")
        figcaption = f"<figcaption>{html.escape(caption, quote=False)}</figcaption>" if caption else ""
        return f"<figure>{link}{image}{end}{figcaption}</figure>"

    def _image(self, original: str, captioned: bool = False) -> tuple[str | None, str | None]:
        """The markup for one <img> (None: leave it as it is) and, for a
        figure, its caption (the image's title)."""
        self.seen += 1
        attrs = attributes(original)
        given = {key.lower(): value for key, value in attrs}
        measured = self.measure(given["src"]) if given.get("src") and "srcset" not in given else None
        if measured is None:
            return None, None
        width, height, sources, fallback = measured
        caption = (given.get("title") or "").strip() if captioned else ""
        ours = {"src", "srcset", "sizes", "decoding"}
        if "width" not in given and "height" not in given:  # the writer's own size wins
            ours |= {"width", "height"}
        if caption:
            ours.add("title")  # the caption says it, once
        img = [("src", fallback[0] if fallback else given["src"])]
        if fallback and fallback[1]:
            img += [("srcset", fallback[1]), ("sizes", self.sizes)]
        if width and height and "width" in ours:
            img += [("width", str(width)), ("height", str(height))]
        img += [(key, value) for key, value in attrs if key.lower() not in ours]
        eager = self.first_eager and self.seen == 1
        if "loading" not in given and not eager:
            img.append(("loading", "lazy"))
        img.append(("decoding", "async"))
        markup = tag("img", img)
        if sources:
            markup = "<picture>" + "".join(tag("source", [("type", mime), ("srcset", srcset), ("sizes", self.sizes)])
                                           for mime, srcset in sources) + markup + "</picture>"
        return markup, caption
