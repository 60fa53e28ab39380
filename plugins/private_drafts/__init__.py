"""Drafts stay the writer's: a build that does not write drafts (production)
has no tag, category or author page that only drafts would fill, so no page,
sitemap entry, feed or index mentions a tag that only drafts use.

Pelican files only published essays under their tags, but the related_posts
plugin looks up every draft's tags in the generator's table of tags, a
defaultdict, which adds an empty entry for each tag only drafts use: Pelican
then wrote an empty page for it, and the sitemap plugin (which lists the pages
written) listed it. While writing, drafts are built and link to their tags'
pages, so those pages stay.
"""

from pelican import signals
from pelican.generators import ArticlesGenerator


def drop_groups_without_essays(generators):
    for generator in generators:
        if isinstance(generator, ArticlesGenerator) and not generator.settings.get("DRAFT_SAVE_AS"):
            for tag in [tag for tag, essays in generator.tags.items() if not essays]:
                del generator.tags[tag]
            generator.categories = [(category, essays) for category, essays in generator.categories if essays]
            generator.authors = [(author, essays) for author, essays in generator.authors if essays]
            generator.context.update(tags=list(generator.tags.items()), categories=generator.categories,
                                     authors=generator.authors)


def register():
    signals.all_generators_finalized.connect(drop_groups_without_essays)
