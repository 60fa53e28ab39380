"""Series: essays in parts. Each part says `Series: Letters home` (and, to
choose its place, `Series_index: 2`); its page shows where it stands ("Part 2
of 3 in Letters home", theme/templates/partials/series.html) with the parts in
order, and the series gets a page of its own (SERIES_URL,
theme/templates/series.html), an Atom feed (SERIES_FEED_ATOM) and a place in
the list of series (SERIES_INDEX_URL).

The order is pelican-series' (its generate_serie): parts with a Series_index
first, by that number, then the others by date. Templates read
`article.series` as pelican-series documents it: index, all, previous, next,
all_previous, all_next, and name, here a Series (its str() is the name; it
has a slug, url and save_as as a tag has, the slug made by Pelican's slugify
with the site's settings).

Not pelican-series' plugin itself, though: version 3.1.1 counts drafts and
hidden essays among the parts of every series (its own tests say so), so a
published part would tell readers of one not yet published ("Part 2 of 5"
with four to read), a scheduled essay included; and it keeps every series in
module globals that outlive a build (the writing loop renders many builds in
one process). Here only published essays are parts. A draft, a hidden essay
or a translation sees the published parts and itself, so the writer previews
where it will stand.

Settings (pelicanconf.py): SERIES_URL, SERIES_SAVE_AS, SERIES_FEED_ATOM (a
path with {slug}), SERIES_INDEX_URL, SERIES_INDEX_SAVE_AS; an empty SAVE_AS
or feed writes none.
"""

import logging
from collections import defaultdict
from itertools import chain

from pelican import signals
from pelican.plugins.series import generate_serie
from pelican.urlwrappers import URLWrapper

logger = logging.getLogger(__name__)


class Series(URLWrapper):
    """A series, addressed as a tag is: SERIES_URL and SERIES_SAVE_AS with {slug}."""

    def __init__(self, name, *args, **kwargs):
        super().__init__(" ".join(str(name).split()), *args, **kwargs)


def _entry(article, series_index: int) -> dict:
    return {"index": series_index, "date": article.date, "content": article}


def _index(article) -> int:
    """The part's Series_index (plugins/content_checks has refused any that is
    not a whole number from 1), else 0: placed by date, after the numbered."""
    try:
        return max(int(str(article.metadata.get("series_index", 0)).strip() or 0), 0)
    except ValueError:
        return 0


def _in_order(series: Series, articles: list) -> list:
    return generate_serie(series, [_entry(article, _index(article)) for article in articles], "date")


def gather(generator) -> None:
    """Each essay with a Series: field gets article.series; the generator
    gets `series_parts`, {Series: published parts in order}."""
    settings = generator.settings
    found = defaultdict(list)  # Series → published parts
    names = {}  # Series → (name as first written, its file), to catch one series written two ways
    others = []  # drafts, hidden essays, translations: (article, Series)
    published = set(map(id, generator.articles))
    everything = chain(generator.articles, generator.translations, generator.drafts,
                       generator.drafts_translations, generator.hidden_articles, generator.hidden_translations)
    for article in everything:
        name = article.metadata.get("series")
        if not isinstance(name, str) or not name.strip():
            if hasattr(article, "series"):
                del article.series  # the raw field (content_checks reports an empty one)
            continue
        series = Series(name, settings)
        if not series.slug:  # plugins/content_checks refuses these first
            logger.error("%s: Series %r has no letter or digit to make its address from; give it a name in words",
                         article.source_path, name)
            del article.series
            continue
        first = names.setdefault(series, (series.name, article.source_path))
        if first[0] != series.name:
            logger.warning("%s: Series %r is written %r in %s: one series (at /%s), shown as %r; write its name "
                           "the same way in every part", article.source_path, series.name, first[0], first[1],
                           series.url, first[0])
        if id(article) in published:
            found[series].append(article)
        else:
            others.append((article, series))
    generator.series_parts = {series: _in_order(series, parts) for series, parts in found.items()}
    for article, series in others:
        parts = generator.series_parts.get(series, [])
        theirs = [part.series for part in parts]
        _in_order(series, [*parts, article])
        for part, own in zip(parts, theirs):  # generate_serie placed them too: they keep their own view
            part.series = own


def _write_pages(generator, writer) -> None:
    settings = generator.settings
    every = getattr(generator, "series_parts", {})
    if not every:
        return
    relative = settings.get("RELATIVE_URLS", False)
    template = generator.get_template("series")
    if settings.get("SERIES_SAVE_AS"):
        for series, parts in every.items():
            writer.write_file(series.save_as, template, generator.context, relative_urls=relative, url=series.url,
                              series=series, parts=parts, page_name=series.page_name, template_name="series")
    if settings.get("SERIES_INDEX_SAVE_AS"):
        writer.write_file(settings["SERIES_INDEX_SAVE_AS"], generator.get_template("series_index"), generator.context,
                          relative_urls=relative, url=settings.get("SERIES_INDEX_URL", ""),
                          all_series=list(every.items()),
                          page_name=settings["SERIES_INDEX_SAVE_AS"].removesuffix(".html"),
                          template_name="series_index")


def _write_feeds(generator, writer) -> None:
    """A full-text Atom feed per series, as Pelican writes a tag's (Writer.write_feed:
    the site's FEED_MAX_ITEMS newest parts, RSS_FEED_SUMMARY_ONLY as set)."""
    feed = generator.settings.get("SERIES_FEED_ATOM")
    if not feed:
        return
    place = {id(article): number for number, article in enumerate(generator.articles)}  # newest first, as every feed
    for series, parts in getattr(generator, "series_parts", {}).items():
        path = str(feed).format(slug=series.slug)
        writer.write_feed(sorted(parts, key=lambda article: place[id(article)]), generator.context, path, path,
                          feed_title=series.name)


def write(generator, writer) -> None:
    _write_feeds(generator, writer)
    _write_pages(generator, writer)


def register():
    signals.article_generator_finalized.connect(gather)
    signals.article_writer_finalized.connect(write)
