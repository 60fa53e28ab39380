"""Checks on content that Pelican does not make, each naming the file.

* Two essays (or pages) that would be written to one address fail the build.
  Pelican only notices while writing, and then names the output file, not the
  two essays that collide. Pelican already reports, and `--fatal errors` stops
  on, the other broken metadata (unparseable date, missing title, bad status).
* An image without alt text is a warning: a reader who cannot see it should
  still be told what it shows. (alt="" is for decoration, and still warned
  about in an essay, where images are rarely decoration.)
"""

import logging
import os
from html.parser import HTMLParser

from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator


logger = logging.getLogger(__name__)


class ContentError(Exception):
    """Broken content: the message names the file(s) and the problem."""


def _contents(generators):
    for generator in generators:
        if isinstance(generator, ArticlesGenerator):
            yield from generator.articles
            yield from generator.translations
            yield from generator.drafts
            yield from generator.drafts_translations
            yield from generator.hidden_articles
        elif isinstance(generator, PagesGenerator):
            yield from generator.pages
            yield from generator.translations
            yield from generator.draft_pages
            yield from generator.hidden_pages


def duplicate_addresses(contents):
    """Return {save_as: [source paths]} for every address claimed twice."""
    claims = {}
    for content in contents:
        if content.save_as:  # drafts are not written in production
            claims.setdefault(content.save_as, []).append(content.source_path)
    return {address: paths for address, paths in claims.items() if len(paths) > 1}


def check_unique_addresses(generators):
    duplicates = duplicate_addresses(_contents(generators))
    if duplicates:
        lines = [
            f"{' and '.join(os.path.relpath(p) for p in sorted(paths))}: "
            f"duplicate slug, both would be written to {address}"
            for address, paths in sorted(duplicates.items())
        ]
        raise ContentError("; ".join(lines) + " (give one of them another Slug:)")


class _ImagesWithoutAlt(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img" and not (attributes.get("alt") or "").strip():
            self.sources.append(attributes.get("src") or "(no src)")


def images_without_alt(html: str) -> list[str]:
    parser = _ImagesWithoutAlt()
    parser.feed(html)
    return parser.sources


def warn_about_missing_alt(content):
    html = getattr(content, "_content", None) or ""
    if "<img" not in html:
        return
    for source in images_without_alt(html):
        logger.warning("%s: image %s has no alt text; describe what it shows, e.g. ![A rainy street](%s)",
                       os.path.relpath(content.source_path), source, source)


def register():
    signals.all_generators_finalized.connect(check_unique_addresses)
    signals.content_object_init.connect(warn_about_missing_alt)
