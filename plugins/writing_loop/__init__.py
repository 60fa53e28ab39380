"""What the writing loop needs from a whole-site build: for each essay, the
other essays its page shows (older, newer, related).

kizuna/render_first.py renders a saved essay on its own, before the
whole-site build; reading these few essays with it gives its page the same
neighbours the whole build will. Written only when the build is given
WRITING_LOOP_NEIGHBOURS, the file's name in the output folder (invoke
livereload does), so a published site never carries it.
"""

import json
import os

from pelican import signals
from pelican.generators import ArticlesGenerator


def write_neighbours(generators) -> None:
    articles = next((g for g in generators if isinstance(g, ArticlesGenerator)), None)
    name = articles.settings.get("WRITING_LOOP_NEIGHBOURS") if articles else None
    if not name:
        return
    root = os.path.abspath(articles.settings["PATH"])

    def source(article) -> str:
        return os.path.relpath(os.path.abspath(article.source_path), root).replace(os.sep, "/")

    neighbours = {}
    for article in [*articles.articles, *articles.drafts]:
        shown = [getattr(article, "prev_article", None), getattr(article, "next_article", None),
                 *(getattr(article, "related_posts", None) or [])]
        neighbours[source(article)] = sorted({source(other) for other in shown if other is not None})
    os.makedirs(articles.output_path, exist_ok=True)
    with open(os.path.join(articles.output_path, name), "w", encoding="utf-8") as file:
        json.dump(neighbours, file, ensure_ascii=False, sort_keys=True)


def register():
    signals.all_generators_finalized.connect(write_neighbours)
