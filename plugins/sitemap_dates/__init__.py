"""The sitemap's lists (home, archives, tags…) dated by their newest essay.

pelican-sitemap dates every page that is not an essay or a page by the time
the build started, so each build wrote a new sitemap.xml though nothing in it
had changed, and each publish sent it again (rsync; object storage). A list
changes when an essay in it does: the newest essay date (or modification) is
when the lists last changed."""

from pelican import signals


def date_lists_by_newest_essay(generator) -> None:
    from pelican.plugins.sitemap import sitemap

    # Only what is published: drafts are not in `articles`, and scheduled
    # essays were held back before this (plugins/scheduled_essays).
    dates = [getattr(article, "modified", None) or article.date for article in generator.articles]
    if dates:
        sitemap.generator.now = max(dates)


def register():
    signals.article_generator_finalized.connect(date_lists_by_newest_essay)
