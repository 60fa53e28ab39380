"""Essay images at their best: a five-photo essay read on a phone downloads
photos sized for the phone, in AVIF or WebP, as the reader comes near them,
and the text never jumps when they arrive.

For each image an essay or page shows from content/ (plugins/essay_images
has already turned its path into `{static}/…`; list this plugin after it):

* the photo is copied at each width of IMAGE_WIDTHS (480, 800 and 1,200
  pixels unless the settings say otherwise) it is wider than (never enlarged),
  as AVIF, WebP and JPEG (PNG for a PNG), by derivatives.py, which keeps the
  copies in IMAGE_CACHE_PATH (cache/images/, beside Pelican's own cache,
  unless set) so that each is encoded once, not on every build; the build
  copies them next to the original, named
  `<name>-<width>w.<digest>.<ext>`, and the original is published as before;
* the <img> gets width and height, a srcset and sizes (SIZES: the theme's
  column), and <source>s for the newer formats (markup.py); alone in its
  paragraph, it becomes a <figure>, its Markdown title the <figcaption>;
* the first image of an essay loads at once, later ones lazily; in lists
  (summaries) every image is lazy;
* feed readers get a plain <img>: the largest copy in JPEG or PNG (see
  plain_for_feeds).

GIF (often animated), animated images and SVG keep their file and get only
width and height (an SVG's where it says its size); a photo narrower than
the smallest width is served as it is, with its size. An image Pillow cannot
read (a broken download, a truncated file) is an error naming the essay, the
line and the file, reported with plugins/essay_images' missing images.

Why not pelican-image-process (3.4.0, read for this): it writes its copies
into the output folder and skips them only when they are newer than the
source there; our builds write a fresh output folder each time, so it would
encode every photo on every build. It also needs a class on each image, has
no lazy loading or captions, only warns on an unreadable image, and brings
lxml. What is needed here is a few Pillow calls and this plugin.
"""

import os
import re
from urllib.parse import quote, unquote

from pelican import signals
from pelican.contents import Static

import essay_images  # the plugin beside this one (PLUGIN_PATHS): its paths, its error report

from . import derivatives, markup

# The image's width in the theme's column, for the browser to choose a copy
# before it has the stylesheet: main is 40rem wide at most, less 1.25rem of
# padding each side (theme/static/css/kizuna.css, --measure and main). The
# browser tests check it against the width the image is really shown at.
SIZES = "(min-width: 40rem) 37.5rem, calc(100vw - 2.5rem)"
WIDTHS = [480, 800, 1200]  # IMAGE_WIDTHS when the settings do not say
COPIES = "responsive_images_copies"  # context key: each copy's save_as → its file in the cache
STATIC = "{static}/"


def cache_path(settings) -> str:
    """IMAGE_CACHE_PATH, else images/ beside Pelican's own cache folder."""
    return settings.get("IMAGE_CACHE_PATH") or os.path.join(
        os.path.dirname(os.path.abspath(settings["CACHE_PATH"])), "images")


def copy_name(relative: str, digest: str, width: int, name: str) -> str:
    """Where a copy is published: beside the original, named for its width and bytes."""
    folder, file = os.path.split(relative)
    stem = re.sub(r"[^\w.-]+", "-", os.path.splitext(file)[0]).strip("-") or "image"
    return "/".join(filter(None, [folder, f"{stem}-{width}w.{digest[:10]}.{derivatives.EXTENSION[name]}"]))


class Measure:
    """For markup.Images: what is known about an image of one essay, by its src."""

    def __init__(self, content, context, settings):
        self.content, self.context = content, context
        self.root = os.path.abspath(settings["PATH"])
        self.widths = settings.get("IMAGE_WIDTHS") or WIDTHS
        self.cache = cache_path(settings)

    def __call__(self, src: str):
        if not src.startswith(STATIC):
            return None  # from elsewhere, or not found (plugins/essay_images said so)
        relative = unquote(re.sub(r"[?#].*$", "", src[len(STATIC):]))
        path = os.path.join(self.root, relative)
        if not os.path.isfile(path):
            return None
        try:
            derived = derivatives.derive(path, self.widths, self.cache)
        except derivatives.ImageProblem as problem:
            self.problem(relative, path, str(problem))
            return None
        if not derived.width:
            return None
        if not derived.candidates:
            return derived.width, derived.height, [], None

        copies = self.context.setdefault(COPIES, {})

        def candidates(name):
            """(address, width) of each copy in one format, narrowest first."""
            for candidate in derived.candidates[name]:
                save_as = copy_name(relative, derived.digest, candidate.width, name)
                copies[save_as] = candidate.path
                yield f"{STATIC}{quote(save_as)}", candidate.width

        def srcset(name):
            return ", ".join(f"{address} {width}w" for address, width in candidates(name))

        sources = [(derivatives.MIME[name], srcset(name)) for name in derivatives.MODERN]
        largest = derived.candidates[derived.fallback][-1]
        fallback = list(candidates(derived.fallback))[-1][0], srcset(derived.fallback)
        # The size of the largest copy, the image's own shape: the column scales it.
        return largest.width, largest.height, sources, fallback

    def problem(self, relative: str, path: str, text: str) -> None:
        source = self.content.source_path
        self.context.setdefault(essay_images.PROBLEMS, []).append((
            essay_images.shown(source), essay_images.line_of(source, os.path.basename(relative)),
            f"image {essay_images.shown(path)} {text}: save it again as JPEG, PNG, WebP or AVIF, or remove it"))


def lazy_summary(content) -> None:
    """A summary is one of many on a list: its images wait to be scrolled to."""
    summary_of = content.get_summary

    def get_summary(siteurl):
        return markup.lazy(summary_of(siteurl))

    content.get_summary = get_summary


def rewrite(content, context, settings) -> None:
    measure = Measure(content, context, settings)
    content._content = markup.Images(measure, SIZES).rewrite(content._content)
    if "summary" in content.metadata:  # a Summary: field, shown on lists
        summary = content.metadata["summary"]
        content.metadata["summary"] = markup.Images(measure, SIZES, first_eager=False).rewrite(summary)
        if getattr(content, "_summary", None) is not None:  # Pelican's copy, which it writes back
            content._summary = (content.metadata["summary"] if content._summary == summary
                                else markup.Images(measure, SIZES, first_eager=False).rewrite(content._summary))
    else:
        lazy_summary(content)
    if "srcset=\"{static}" in content._content or "srcset=\"{static}" in content.metadata.get("summary", ""):
        essay_images.resolve_srcset(content)  # Pelican replaces {static} only where one address stands


def rewrite_all(generator) -> None:
    """Once every essay (or page) is read and its image paths resolved."""
    for content in essay_images.written(generator):
        rewrite(content, generator.context, generator.settings)


def publish_copies(generator) -> None:
    """The copies the essays use join the static files: Pelican copies them
    into the output (or links them, for the writing loop's first render) and
    replaces `{static}/<copy>` with their address, absolute in feeds."""
    for save_as, path in sorted(generator.context.pop(COPIES, {}).items()):
        static = Static(content=None, metadata={"title": save_as, "save_as": save_as, "url": save_as},
                        settings=generator.settings, source_path=path, context=generator.context)
        generator.staticfiles.append(static)
        generator.context["static_content"][save_as] = static


FEED_PICTURE = re.compile(r"<picture>(?:<source type=\"image/(?:avif|webp)\"[^>]*>)+(<img\b[^>]*>)</picture>")


def plain_for_feeds(context, feed) -> None:
    """In a feed, a picture is its <img>: the largest JPEG or PNG, no srcset.
    Feed readers clean HTML by allowlists: feedparser's (6.0) drops
    <picture>, keeps <source> and drops srcset and sizes, so what a reader
    reliably shows is an <img src> in a format all of them decode. Its size
    is the copy's own, so the reader's column scales it down."""
    def plain(match):
        img = [(key, value) for key, value in markup.attributes(match.group(1))
               if key not in {"srcset", "sizes", "loading", "decoding"}]
        return markup.tag("img", img)

    for item in feed.items:
        for key in ("content", "description"):
            if item.get(key) and "<picture>" in item[key]:
                item[key] = FEED_PICTURE.sub(plain, item[key])


def register():
    signals.article_generator_finalized.connect(rewrite_all)
    signals.page_generator_finalized.connect(rewrite_all)
    signals.static_generator_finalized.connect(publish_copies)
    signals.feed_generated.connect(plain_for_feeds)
