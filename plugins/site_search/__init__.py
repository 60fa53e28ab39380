"""Site search: every published essay and page, indexed with Pagefind while
Pelican builds the site, into the build's own output folder.

Pagefind indexes in a process of its own (`pagefind --service`, see
pagefind_service.py), started with the build. Each essay and page goes to
it as soon as Pelican has read it, so Pagefind indexes beside the build (on
the second core, at a lower priority than the build's own work); just before
the first page is written, Pagefind is asked to write the index, and at the
end the build only waits for what is left of that. Run after Pelican
(`pagefind --site`), the indexing added its whole time to the build, and fed
only once everything was read, most of it: docs/benchmarks.md has the figures.

What is indexed is taken from the essay as read, not from its page: the
words of its subtitle and body, and as metadata its title (which Pagefind
searches too, and ranks a match in above one in the words), date and content
note, for the results (theme/static/js/search.js shows them). Navigation,
related essays and readers' comments stay out, and the theme's pages carry
no search markup. The words are taken from the HTML Markdown made, before
Pelican fills in its links to other files (words_of): handing Pagefind plain
words rather than HTML to parse saved a tenth of its work, 0.16 s of a cold
build of 1,000 essays.

Only what is published is indexed: never a draft (nor a scheduled essay, a
draft until its date), a hidden essay or page, and never the lists (home,
tags, archives) or the site's own pages (privacy, 404, search), which are
not essays or pages. Essays Pelican takes from its content cache, unread,
are handed over as the build starts. What was handed over is checked against
what Pelican is about to write; should they differ (an essay that became a
draft or changed its address after it was read), the index is made afresh
from what is written.

The index goes into OUTPUT_PATH/pagefind, which is the build's staging folder
(kizuna/build.py): a build that fails leaves the site, and its index, as
they were. kizuna/render_first.py leaves this plugin out: the whole-site
build that follows each save indexes the site again.

Not pelican-search (1.1.1): it runs Stork, a binary it expects on PATH,
over the built pages once the build is done, adding all of its time to the
build. And named site_search, not search: Pelican prefers an installed
pelican.plugins.search to a local plugin of the same name.
"""

import logging
import os
import re
import shutil
import sys
from html import escape, unescape
from urllib.parse import urlsplit

from pelican import signals
from pelican.contents import Article, Page

from .pagefind_service import PagefindError, Service

logger = logging.getLogger(__name__)

# Pagefind's own name for its folder. The search page finds it through
# SEARCH_INDEX_URL (set below); nginx (deploy/nginx-site.conf.j2) by name.
BUNDLE = "pagefind"
# Pagefind's ready-made interfaces: the search page is the theme's own.
UNUSED = ["pagefind-ui.js", "pagefind-ui.css", "pagefind-modular-ui.js", "pagefind-modular-ui.css",
          "pagefind-component-ui.js", "pagefind-component-ui.css", "pagefind-highlight.js"]
# Its search code for pages without a language: every page is indexed in the
# site's, so it is used only by a site with nothing yet to find.
NO_LANGUAGE = "wasm.unknown.pagefind"
# What in an essay's HTML is not its words: code run or styles, comments,
# heading permalinks ("#"), footnote numbers and returns ("↩").
NOT_WORDS = re.compile(
    r"<(script|style)\b.*?</\1\s*>|<!--.*?-->"
    r'|<a\b[^>]*\bclass="(?:headerlink|footnote-backref)"[^>]*>.*?</a>|<sup\b[^>]*\bid="fnref[^>]*>.*?</sup>',
    re.S | re.I)
# Elements that end a word; other tags (<em>, <a>) may sit inside one.
BLOCK = re.compile(r"</?(?:address|article|aside|blockquote|br|dd|details|div|dl|dt|figcaption|figure|footer|h[1-6]"
                   r"|header|hr|li|ol|p|pre|section|summary|table|td|th|tr|ul)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)
TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")

_indexing = None  # this build's Indexing: one build at a time in a process


class Indexing:
    def __init__(self, settings, context):
        self.context = context  # the generators' shared context: what Pelican writes, once all is read
        self.bundle = os.path.join(os.path.abspath(settings["OUTPUT_PATH"]), BUNDLE)
        self.root = urlsplit(settings.get("SITEURL") or "").path.rstrip("/")  # a site under a path: /blog
        # One index for every essay, whatever its Lang: a reader searches the whole site.
        self.language = settings.get("DEFAULT_LANG") or "en"
        self.config = {"force_language": self.language}
        self.service = Service(self.config)
        self.given = {}  # url → the essay or page handed to Pagefind

    def url(self, content) -> str:
        return f"{self.root}/{content.url}"

    def add(self, content, url: str | None = None) -> None:
        url = url or self.url(content)
        self.given[url] = content
        self.service.add(url, self.language, lambda: (words_of(content), meta_of(content)))

    def write(self) -> None:
        """Hand over what is not yet, then ask for the index to be written."""
        written = {self.url(content): content for content in to_be_written(self.context)}
        if any(written.get(url) is not content for url, content in self.given.items()):
            self.service.close(abandon=True)  # something was handed over that will not be written so
            self.service, self.given = Service(self.config), {}
        for url, content in written.items():
            if url not in self.given:
                self.add(content, url)
        shutil.rmtree(self.bundle, ignore_errors=True)  # an autoreloading Pelican writes over its last output
        self.service.write(self.bundle)

    def wait(self) -> None:
        try:
            indexed = self.service.wait()
        except PagefindError as error:
            logger.error("The search index was not written: %s", error)
            return
        for name in [*UNUSED, NO_LANGUAGE] if indexed else UNUSED:
            try:
                os.remove(os.path.join(self.bundle, name))
            except FileNotFoundError:
                pass
        logger.info("Search: %d essays and pages indexed", indexed)


def published(content) -> bool:
    return isinstance(content, (Article, Page)) and content.status == "published" and bool(content.save_as)


def to_be_written(context) -> list:
    """Every published essay and page, and their translations."""
    return [version for content in [*context.get("articles", []), *context.get("pages", [])]
            for version in [content, *content.translations] if published(version)]


def content_note(content) -> str:
    """The note as plugins/content_notes reads it (it sets content_note too,
    but Pelican's signals call plugins in no set order)."""
    notes = sys.modules.get("content_notes")  # loaded by Pelican, under its plugin name
    return notes.note_of(content) if notes else ""


def words_of(content) -> str:
    """An essay's or page's words, as plain text: its subtitle and body."""
    subtitle = content.metadata.get("subtitle")
    html = f"<p>{escape(str(subtitle))}</p>{content._content or ''}" if subtitle else content._content or ""
    return " ".join(unescape(TAG.sub("", BLOCK.sub(" ", NOT_WORDS.sub(" ", html)))).split())


def meta_of(content) -> dict[str, str]:
    """What a result shows beside the words found, as text: the title, and
    an essay's date and content note."""
    meta = {"title": " ".join(unescape(TAG.sub("", content.title)).split())}
    if isinstance(content, Article) and hasattr(content, "date"):  # without one, content_checks stops the build
        meta.update(date=content.locale_date, datetime=content.date.isoformat())
    if note := content_note(content):
        meta["content_note"] = note
    return meta


# --- Pelican's signals, in the order a build sends them ---------------------------

def add_settings(pelican) -> None:
    """Where the search page finds Pagefind's files (pagefind.js and the index)."""
    pelican.settings.setdefault("SEARCH_INDEX_URL", BUNDLE + "/")


def start(generator) -> None:
    """A build starts (again for each run of an autoreloading Pelican).
    Essays Pelican will take from its content cache, unread, go to Pagefind
    at once: a rebuild after one essay changed is mostly those."""
    global _indexing
    stop()
    read_in_order(generator)
    try:
        _indexing = Indexing(generator.settings, generator.context)
    except PagefindError as error:
        logger.error("Search cannot index this site: %s", error)
        return
    settings = generator.settings
    for name in generator.get_files(settings["ARTICLE_PATHS"], exclude=settings["ARTICLE_EXCLUDES"]):
        cached = generator.get_cached_data(name, None)
        if cached is not None and published(cached):
            _indexing.add(cached)


def read_in_order(generator) -> None:
    """Pelican lists the files it reads as a set, in an order that changes
    from run to run, and Pagefind's index, which numbers pages as they come,
    changed with it. Read in the order of their names, the same essays make
    the same index, so `invoke publish` sends none of it again."""
    listed = generator.get_files
    generator.get_files = lambda *args, **kwargs: sorted(listed(*args, **kwargs))


def read(content) -> None:
    """An essay or page has just been read. (Whether it will be written, its
    save_as, is left to write_index to see: each address Pelican works out
    costs the build's own time, here.)"""
    if _indexing is not None and isinstance(content, (Article, Page)) and content.status == "published":
        _indexing.add(content)


def write_index(pelican) -> None:
    """Just before Pelican writes its first page (get_writer: returning None
    leaves Pelican's writer as it is), every plugin having changed what it
    changes."""
    if _indexing is not None:
        _indexing.write()


def wait_for_index(pelican) -> None:
    global _indexing
    if _indexing is not None:
        indexing, _indexing = _indexing, None
        indexing.wait()


def stop() -> None:
    """A build that failed in this process left its Pagefind running: stop it."""
    global _indexing
    if _indexing is not None:
        _indexing.service.close(abandon=True)
        _indexing = None


def register():
    signals.initialized.connect(add_settings)
    signals.article_generator_init.connect(start)
    signals.page_generator_init.connect(read_in_order)
    signals.content_object_init.connect(read)
    signals.get_writer.connect(write_index)
    signals.finalized.connect(wait_for_index)
