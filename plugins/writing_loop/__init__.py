"""What the writing loop needs from a whole-site build, to render a saved
essay on its own first (kizuna/render_first.py):

* neighbours: for each essay, the other essays its page shows (older, newer,
  related, the other parts of its series); read along with it, its page
  shows them too;
* addresses: which file each page of the site was written from, so that a
  first render never writes over another essay's page (a Slug: copied from
  another essay is an error only the whole build can see).

Written only when the build is given WRITING_LOOP_FILE, the file's name
in the output folder (invoke livereload does), so a published site never
carries it.
"""

import json
import os

from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator


def _written(generator):
    if isinstance(generator, ArticlesGenerator):
        return [*generator.articles, *generator.translations, *generator.drafts, *generator.drafts_translations,
                *generator.hidden_articles, *generator.hidden_translations]
    if isinstance(generator, PagesGenerator):
        return [*generator.pages, *generator.translations, *generator.hidden_pages, *generator.hidden_translations,
                *generator.draft_pages, *generator.draft_translations]
    return []


def write_what_the_loop_needs(generators) -> None:
    articles = next((g for g in generators if isinstance(g, ArticlesGenerator)), None)
    name = articles.settings.get("WRITING_LOOP_FILE") if articles else None
    if not name:
        return
    root = os.path.abspath(articles.settings["PATH"])

    def source(content) -> str:
        return os.path.relpath(os.path.abspath(content.source_path), root).replace(os.sep, "/")

    neighbours = {}
    for article in [*articles.articles, *articles.drafts]:
        series = getattr(article, "series", None)  # plugins/series_pages: every part, in order
        shown = [getattr(article, "prev_article", None), getattr(article, "next_article", None),
                 *(getattr(article, "related_posts", None) or []),
                 *(series["all"] if isinstance(series, dict) else [])]
        neighbours[source(article)] = sorted({source(other) for other in shown
                                              if other is not None and other is not article})
    addresses = {content.save_as: source(content)
                 for generator in generators for content in _written(generator) if content.save_as}
    os.makedirs(articles.output_path, exist_ok=True)
    with open(os.path.join(articles.output_path, name), "w", encoding="utf-8") as file:
        json.dump({"neighbours": neighbours, "addresses": addresses}, file, ensure_ascii=False, sort_keys=True)


def register():
    signals.all_generators_finalized.connect(write_what_the_loop_needs)
