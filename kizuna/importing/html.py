"""A WordPress post's HTML as Kizuna Markdown.

Three steps, each someone else's rule where one exists:

1. wpautop: WordPress stores posts with blank lines where paragraphs are and
   adds <p> and <br> only when it shows them. Pelican's own importer carries
   a port of that function (pelican.tools.pelican_import.decode_wp_content),
   which also turns [caption] shortcodes into <figure>: we use it rather than
   a copy. It is skipped for block-editor posts (those with <!-- wp: -->
   comments), which already hold their <p>.
2. WordPress's own markup: block comments (<!-- wp:… -->), <!--more-->,
   <!--nextpage--> and shortcodes ([gallery], [embed], [audio]…) are removed
   or turned into plain links; each removal is noted for the report.
3. markdownify turns the HTML into Markdown (tables, definition lists and
   nested lists as Python-Markdown reads them). Text is escaped so that it
   stays text: `<`, `&` and `[^` (which Markdown would read as a footnote
   reference with no note, and Kizuna's checks refuse) become entities.

A [gallery] becomes its images, from `gallery(ids)`: (url, alt) of the
attachments it names, or of the post's own when it names none.
Images go through `image`, a function the caller gives: it returns the
address to write (a copied file's relative path, or the absolute URL).
"""

import re
from urllib.parse import urljoin

from markdownify import MarkdownConverter
from pelican.tools.pelican_import import decode_wp_content

BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:.*?-->", re.S)
MARKERS = {"more": "<!--more--> (the 'read more' break; Kizuna uses Summary:)",
           "nextpage": "<!--nextpage--> (page breaks: the post is one page now)"}
MARKER = re.compile(r"<!--\s*(more|nextpage)\b.*?-->", re.S)
OTHER_COMMENT = re.compile(r"<!--.*?-->", re.S)
# WordPress core's shortcodes and the common ones of WordPress.com and Jetpack;
# other [bracketed words] are the writer's text and stay.
SHORTCODES = ("caption|wp_caption|gallery|embed|audio|video|playlist|wpvideo|youtube|vimeo|tweet|twitter|"
              "soundcloud|googlemaps|slideshow|instagram|code|sourcecode|source|contact-form|polldaddy|archives")
SHORTCODE = re.compile(rf"\[(?P<name>{SHORTCODES})\b(?P<attributes>[^\]]*)\](?:(?P<inner>.*?)\[/(?P=name)\])?",
                       re.S | re.I)
ATTRIBUTE = re.compile(r"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""")
MEDIA_ATTRIBUTES = ("src", "mp3", "m4a", "ogg", "wav", "mp4", "m4v", "webm", "ogv", "flv", "url")
ALONE_URL = re.compile(r"<p>\s*(https?://[^\s<]+)\s*</p>")  # oEmbed: a URL on its own line


def wpautop(text: str) -> str:
    if BLOCK_COMMENT.search(text):
        return text  # the block editor writes its own paragraphs
    return decode_wp_content(text)


def _attributes(text: str) -> dict:
    return {m[1].lower(): m[2] or m[3] or m[4] or "" for m in ATTRIBUTE.finditer(text or "")}


def _link(url: str, text: str | None = None) -> str:
    from html import escape

    return f'<p><a href="{escape(url)}">{escape(text or url)}</a></p>'


def shortcodes(text: str, dropped: list, gallery=lambda ids: []) -> str:
    """WordPress's shortcodes as HTML, or removed; `dropped` is told what went."""

    def replace(match):
        name, attributes, inner = match["name"].lower(), _attributes(match["attributes"]), match["inner"]
        source = next((attributes[key] for key in MEDIA_ATTRIBUTES if attributes.get(key)), "")
        if not source and (bare := re.search(r"https?://\S+", match["attributes"] or "")):
            source = bare[0]  # [audio https://…]: WordPress.com's form, the address alone
        if name in ("caption", "wp_caption"):  # one wpautop did not turn into <figure>
            dropped.append(f"[{name}] shortcode (its image and text kept)")
            return inner or ""
        if name == "embed" or (name in ("audio", "video", "youtube", "vimeo", "tweet", "instagram", "soundcloud")
                               and (source or (inner or "").strip().startswith("http"))):
            url = source or (inner or "").strip()
            dropped.append(f"[{name}] {url}: embedded player, kept as a link")
            return _link(url)
        if name in ("code", "sourcecode", "source"):
            dropped.append(f"[{name}] shortcode (its code kept as a code block)")
            from html import escape
            return f"<pre><code>{escape(inner or '')}</code></pre>"
        if name == "gallery":  # the post's attached images (or those its ids name), one after another
            ids = [part.strip() for part in attributes.get("ids", "").split(",") if part.strip()]
            images = gallery(ids)
            if images:
                dropped.append(f"[gallery] shown as {len(images)} images one after another (no grid)")
                from html import escape
                return "".join(f'<p><img src="{escape(url)}" alt="{escape(alt)}"></p>' for url, alt in images)
        shown = match.group(0) if len(match.group(0)) <= 80 else match.group(0)[:77] + "…"
        dropped.append(f"{shown}: shortcode with nothing to show outside WordPress, removed")
        return ""

    return SHORTCODE.sub(replace, text)


class _Converter(MarkdownConverter):
    """markdownify, told what to do with what Markdown has no words for."""

    def __init__(self, dropped: list, image, base: str, **options):
        super().__init__(heading_style="ATX", bullets="-", escape_underscores=True, escape_asterisks=True,
                         strip=None, **options)
        self.dropped, self.image, self.base = dropped, image, base

    def escape(self, text, parent_tags):
        text = super().escape(text, parent_tags)
        if "_noformat" in parent_tags:  # inside code: markdownify leaves it, and so do we
            return text
        return text.replace("&", "&amp;").replace("<", "&lt;").replace("[^", "&#91;^")

    def convert_li(self, el, text, parent_tags):
        """markdownify indents an item's further lines by its bullet's width
        (2 or 3 spaces); Python-Markdown nests only what is indented by 4."""
        item = super().convert_li(el, text, parent_tags)
        first, _, rest = item.partition("\n")
        width = len(first) - len(first.lstrip(" ")) + len(first.lstrip(" ").split(" ", 1)[0]) + 1
        lines = [("    " + line[width:]) if line.startswith(" " * width) else line for line in rest.split("\n")]
        return first + "\n" + "\n".join(lines) if rest else item

    def convert_img(self, el, text, parent_tags):
        source = (el.get("src") or "").strip()
        if not source or source.startswith("data:"):
            self.dropped.append("an image with no file (no src)")
            return ""
        el["src"] = self.image(urljoin(self.base, source))
        return super().convert_img(el, text, parent_tags)

    def _media(self, el, kind):
        source = el.get("src") or el.get("data") or ""
        if not source:
            inner = el.find("source")
            source = inner.get("src", "") if inner is not None else ""
        if source:
            url = urljoin(self.base, source)
            self.dropped.append(f"<{kind}> {url}: embedded, kept as a link")
            return f"\n\n[{url}]({url})\n\n"
        self.dropped.append(f"<{kind}> with no address, removed")
        return ""

    def convert_iframe(self, el, text, parent_tags):
        return self._media(el, "iframe")

    def convert_video(self, el, text, parent_tags):
        return self._media(el, "video")

    def convert_audio(self, el, text, parent_tags):
        return self._media(el, "audio")

    def convert_embed(self, el, text, parent_tags):
        return self._media(el, "embed")

    def convert_object(self, el, text, parent_tags):
        return self._media(el, "object")

    def _removed(self, el, kind):
        self.dropped.append(f"<{kind}> removed (a script, form or drawing Kizuna does not publish)")
        return ""

    convert_script = lambda self, el, text, parent_tags: self._removed(el, "script")  # noqa: E731
    convert_style = lambda self, el, text, parent_tags: self._removed(el, "style")  # noqa: E731
    convert_form = lambda self, el, text, parent_tags: self._removed(el, "form")  # noqa: E731
    convert_svg = lambda self, el, text, parent_tags: self._removed(el, "svg")  # noqa: E731
    convert_input = lambda self, el, text, parent_tags: self._removed(el, "input")  # noqa: E731


def to_markdown(text: str, dropped: list, image=lambda url: url, base: str = "", gallery=lambda ids: []) -> str:
    """Markdown for a post's stored HTML; what could not be kept is added to dropped."""
    if not text or not text.strip():
        return ""
    for marker in MARKER.findall(text):
        dropped.append(MARKERS[marker.lower()])
    text = MARKER.sub("\n\n", text)
    text = wpautop(text)
    text = BLOCK_COMMENT.sub("", text)
    text = OTHER_COMMENT.sub("", text)
    text = shortcodes(text, dropped, gallery)
    text = ALONE_URL.sub(lambda m: _link(m[1]), text)
    markdown = _Converter(dropped, image, base).convert(text)
    markdown = re.sub(r"^[ \t]+$", "", markdown, flags=re.M)  # blank lines (trailing "  " is a line break)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip()
    return markdown + "\n"
