"""Drafts stay the writer's: a build that does not write drafts (production)
has no tag, category or author page that only drafts would fill, so no page,
sitemap entry, feed or index mentions a tag that only drafts use.

Pelican files only published essays under their tags, but the related_posts
plugin looks up every draft's tags in the generator's table of tags, a
defaultdict, which adds an empty entry for each tag only drafts use: Pelican
then wrote an empty page for it, and the sitemap plugin (which lists the pages
written) listed it. While writing, drafts are built and link to their tags'
pages, so those pages stay.

Nor does a published essay's link to a draft (or to a scheduled essay)
point at the /drafts/ address production never writes: until the draft is
published, the link's words stay and the link goes (unlink_drafts).
"""

import logging
import os
import re

from pelican import signals
from pelican.contents import Content
from pelican.generators import ArticlesGenerator, PagesGenerator

logger = logging.getLogger(__name__)

# A link to another file of content/ as Pelican writes them: {filename}x.md or |filename|x.md.
LINK_TO_FILE = re.compile(
    r"<a\b[^>]*?\bhref\s*=\s*([\"'])(?:\{filename\}|\|filename\|)(?P<path>[^\"'#?]*)[^\"']*\1[^>]*>(?P<text>.*?)</a>",
    re.S | re.I)


def drop_groups_without_essays(generators):
    for generator in generators:
        if isinstance(generator, ArticlesGenerator) and not generator.settings.get("DRAFT_SAVE_AS"):
            for tag in [tag for tag, essays in generator.tags.items() if not essays]:
                del generator.tags[tag]
            generator.categories = [(category, essays) for category, essays in generator.categories if essays]
            generator.authors = [(author, essays) for author, essays in generator.authors if essays]
            generator.context.update(tags=list(generator.tags.items()), categories=generator.categories,
                                     authors=generator.authors)


def linked_path(content, written: str) -> str:
    """The file a {filename} link names, relative to content/, as Pelican resolves it."""
    written = written.replace("%20", " ")
    if written.startswith("/"):
        return os.path.normpath(written[1:])
    return os.path.normpath(os.path.join(content.relative_dir, written))


def unlink_drafts(generators):
    """A published essay that links to a draft (or to a scheduled essay, a
    draft until its date) would point at /drafts/<slug>/, which production
    does not write: a broken link that names what is not yet public. Until
    the draft is published, the link's words stay and the link goes; the
    first build after it is published links it again."""
    if any(generator.settings.get("DRAFT_SAVE_AS") for generator in generators
           if isinstance(generator, ArticlesGenerator)):
        return
    drafts, shown = set(), []
    for generator in generators:
        if isinstance(generator, ArticlesGenerator):
            drafts.update(d.relative_source_path for d in [*generator.drafts, *generator.drafts_translations])
            shown += [*generator.articles, *generator.translations, *generator.hidden_articles]
        elif isinstance(generator, PagesGenerator):
            drafts.update(d.relative_source_path for d in [*generator.draft_pages, *generator.draft_translations])
            shown += [*generator.pages, *generator.translations, *generator.hidden_pages]
    if not drafts:
        return
    for content in shown:
        html = content._content or ""
        if "filename" not in html:
            continue

        def unlinked(match, content=content):
            if linked_path(content, match["path"]) not in drafts:
                return match[0]
            logger.info("%s links to %s, not published yet: its words are shown without the link until it is",
                        content.relative_source_path, match["path"])
            return match["text"]

        changed = LINK_TO_FILE.sub(unlinked, html)
        if changed != html:
            content._content = changed
            for memo in (Content.get_content.cache, Content.get_summary.cache):  # Pelican keeps what it rendered
                for key in [key for key in memo if key and key[0] is content]:
                    del memo[key]


def register():
    signals.all_generators_finalized.connect(drop_groups_without_essays)
    signals.all_generators_finalized.connect(unlink_drafts)
