"""Images that just work: `![A rainy street at night](images/street.jpg)`.

Pelican leaves a relative image path as it was written, and the browser then
resolves it against the page's address: under /essays/<slug>/ that is
/essays/<slug>/images/street.jpg, which does not exist (nor in a feed reader,
nor on the home page, where the summary shows it). Pelican's answer is its
own `{static}images/street.jpg` syntax, which writers do not know.

So each essay's and page's HTML has its relative image paths (`src` and
`srcset` of images, `poster` of videos, `href` of links to image files)
rewritten to Pelican's `{static}/path` form, and Pelican's own link
replacement then writes the right address everywhere the essay is shown:
the essay page, the home page and lists (summaries), and the feeds (absolute
there). A path is looked for beside the essay, then from content/, then in
content/images/, so `images/street.jpg`, `./images/street.jpg` and
`street.jpg` all find content/images/street.jpg. Files found beside an essay
are published at their place in content/ (content/street.jpg at
/street.jpg), as Pelican publishes files named with {static}.

An image found nowhere is an error, one line for each, naming the file, the
line and the path written, so `--fatal errors` stops the build before
anything is written. Absolute addresses, `data:` URIs, `#fragments` and
Pelican's `{static}`/`{filename}`/`{attach}` links are left alone.

Cost: the rewrite runs once per written essay, after all essays are read
(so the alt-text check in content_checks still sees the path as written),
and only on HTML that holds `<img`, `<source`, `<video`, `<audio` or a link
to an image file; a cached essay is checked again, as its image may be gone.
"""

import html
import logging
import os
import re
from urllib.parse import quote, unquote

from pelican import signals
from pelican.generators import ArticlesGenerator


logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = "png|jpe?g|gif|webp|avif|svg|bmp|ico|tiff?|heic|heif|jxl"
IMAGE_FILE = re.compile(rf"\.(?:{IMAGE_EXTENSIONS})$", re.I)
# Only HTML with an <img>, <source>, <video> or <audio> tag, or naming an
# image file, is looked at (most essays have no images): a few substring tests
# and one short regex.
NAMES_AN_IMAGE = re.compile(rf"\.(?:{IMAGE_EXTENSIONS})\b", re.I)
TAG = re.compile(r"<(img|source|video|audio|a)\b[^>]*>", re.I)
ATTRIBUTE = re.compile(
    r"(?P<lead>\s(?P<name>src|srcset|href|poster)\s*=\s*)"
    r"(?:\"(?P<double>[^\"]*)\"|'(?P<single>[^']*)'|(?P<bare>[^\s\"'=<>`]+))", re.I)
REWRITTEN = {  # which attributes of which tags name an image (or other media) file
    "img": {"src", "srcset"}, "source": {"src", "srcset"}, "video": {"src", "poster"}, "audio": {"src"},
    "a": {"href"},
}
# Addresses that are not relative paths: a scheme (https:, data:, mailto:),
# //host, /from-the-root, #fragment, ?query, and Pelican's {static}/|static|.
NOT_RELATIVE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|[/#?{|])", re.I)
SUFFIX = re.compile(r"[?#].*$", re.S)
PROBLEMS = "essay_images_problems"  # context key: (path, line, text) for the build's report
SRCSET_STATIC = re.compile(r"(\ssrcset\s*=\s*\")([^\"]*\{static\}[^\"]*)(\")", re.I)


def shown(path: str) -> str:
    """A path as the writer would type it: from here when under here."""
    relative = os.path.relpath(path)
    return path if relative == ".." or relative.startswith("../") else relative


def find(written: str, folder: str, root: str) -> str | None:
    """The file a relative path names, relative to root (posix), or None:
    beside the essay, then from content/, then in content/images/."""
    path = unquote(SUFFIX.sub("", written))
    if not path:
        return None
    for base in (folder, root, os.path.join(root, "images")):
        candidate = os.path.normpath(os.path.join(base, path))
        if candidate.startswith(root + os.sep) and os.path.isfile(candidate):
            return os.path.relpath(candidate, root).replace(os.sep, "/")
    return None


class _Rewriter:
    """Rewrites one essay's HTML; keeps the files it found and the paths it did not."""

    def __init__(self, content, root):
        self.folder = os.path.dirname(os.path.abspath(content.source_path))
        self.root = root
        self.found, self.missing = set(), []

    def url(self, written: str) -> str | None:
        """The {static} form of a relative path, unescaped (None: leave it as it is)."""
        written = html.unescape(written.strip())
        if not written or NOT_RELATIVE.match(written):
            return None
        found = find(written, self.folder, self.root)
        if found is None:
            self.missing.append(written)
            return None
        self.found.add(found)
        suffix = SUFFIX.search(written)
        # Quoted: Pelican unquotes it to find the file (a raw `&` or `;` would confuse its URL parsing).
        return "{static}/" + quote(found) + (suffix.group(0) if suffix else "")

    def srcset(self, value: str) -> str | None:
        candidates, changed = [], False
        for candidate in value.split(","):
            address, *descriptor = candidate.split(None, 1) or [""]
            url = self.url(address) if address else None
            changed |= url is not None
            candidates.append(" ".join([url or address, *descriptor]).strip())
        return ", ".join(candidates) if changed else None

    def attribute(self, tag: str, match: re.Match) -> str:
        name = match["name"].lower()
        if name not in REWRITTEN[tag]:
            return match.group(0)
        value = next(v for v in (match["double"], match["single"], match["bare"]) if v is not None)
        if name == "href" and not IMAGE_FILE.search(SUFFIX.sub("", value)):
            return match.group(0)  # a link to a page, not to an image
        url = self.srcset(value) if name == "srcset" else self.url(value)
        if url is None:
            return match.group(0)
        return f'{match["lead"]}"{html.escape(url)}"'  # quoted: Pelican replaces only quoted values

    def tag(self, match: re.Match) -> str:
        tag = match.group(1).lower()
        return ATTRIBUTE.sub(lambda attribute: self.attribute(tag, attribute), match.group(0))

    def rewrite(self, text: str) -> str:
        if not text or not ("<img" in text or "<source" in text or "<video" in text or "<audio" in text
                            or NAMES_AN_IMAGE.search(text)):
            return text
        return TAG.sub(self.tag, text)


def resolve_srcset(content):
    """Pelican replaces {static} only in attributes holding one address, not in
    srcset: replace those too, when Pelican updates the essay's links (so each
    gets the address for its place: the page, or the feed's absolute one).
    Also used by plugins/responsive_images, for the srcsets it writes."""
    if getattr(content, "_resolves_srcset", False):
        return
    content._resolves_srcset = True
    update = content._update_content

    def address(written, siteurl):
        if not written.startswith("{static}"):
            return written
        replaced = update(f'<img src="{written}">', siteurl)  # Pelican's own replacement
        return replaced[len('<img src="'):-len('">')].replace(" ", "%20")  # a space would end the candidate

    def update_with_srcset(text, siteurl):
        def candidates(match):
            value = ", ".join(" ".join([address(url, siteurl), *descriptors])
                              for url, *descriptors in (part.split() for part in match.group(2).split(",")))
            return match.group(1) + value + match.group(3)

        return SRCSET_STATIC.sub(candidates, update(text, siteurl))

    content._update_content = update_with_srcset


def line_of(source_path: str, written: str) -> int:
    """The first line of the essay where a path was written (0 if not found)."""
    try:
        with open(source_path, encoding="utf-8-sig") as text:
            return next((number for number, line in enumerate(text, 1) if written in line), 0)
    except OSError:
        return 0


def rewrite(content, context, root) -> None:
    rewriter = _Rewriter(content, root)
    content._content = rewriter.rewrite(content._content)
    if "summary" in content.metadata:  # a Summary: field, already HTML
        summary = content.metadata["summary"]
        content.metadata["summary"] = rewriter.rewrite(summary)
        if getattr(content, "_summary", None) is not None:  # Pelican's copy, which it writes back
            content._summary = (content.metadata["summary"] if content._summary == summary
                                else rewriter.rewrite(content._summary))
    if rewriter.found:
        context["static_links"] |= rewriter.found  # published with the static files
        if SRCSET_STATIC.search(content._content) or SRCSET_STATIC.search(content.metadata.get("summary", "")):
            resolve_srcset(content)
    for written in dict.fromkeys(rewriter.missing):
        context.setdefault(PROBLEMS, []).append((
            shown(content.source_path), line_of(content.source_path, written),
            f"image {written} not found, beside the essay or in content/images/: put the file there "
            f"(e.g. content/images/name.jpg, written ![What it shows](images/name.jpg)), or correct the path"))


def _contents(generator):
    if isinstance(generator, ArticlesGenerator):
        groups = ("articles", "translations", "drafts", "drafts_translations", "hidden_articles",
                  "hidden_translations")
    else:
        groups = ("pages", "translations", "hidden_pages", "hidden_translations", "draft_pages",
                  "draft_translations")
    for group in groups:
        yield from getattr(generator, group, [])


def written(generator):
    """The essays (or pages) of a generator that the build writes; a draft in
    production is not written, and has nothing to resolve."""
    return [content for content in _contents(generator) if content.status != "draft" or content.save_as]


def rewrite_all(generator) -> None:
    """Once every essay (or page) is read, and before static files are gathered."""
    root = os.path.abspath(generator.settings["PATH"])
    for content in written(generator):
        rewrite(content, generator.context, root)


def report(generator) -> None:
    """Every missing image of the build, one line each, as one error."""
    problems = sorted(set(generator.context.pop(PROBLEMS, [])))
    if problems:
        logger.error("\n".join(f"{path}, line {line}: {text}" if line else f"{path}: {text}"
                               for path, line, text in problems))


def register():
    signals.article_generator_finalized.connect(rewrite_all)
    signals.page_generator_finalized.connect(rewrite_all)
    # After content_checks' report (page_generator_finalized), before anything is written.
    signals.static_generator_finalized.connect(report)
