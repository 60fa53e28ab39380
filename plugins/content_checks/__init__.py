"""Fail the build, naming the files, when two pieces of content would be
written to the same address.

Pelican itself only notices this while writing, and then names the output file,
not the two essays that collide; a writer needs to know which files to fix.
Pelican already reports, and `--fatal errors` stops on, the other broken
metadata we care about (unparseable date, missing title, unknown status).
"""

import os

from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator


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


def register():
    signals.all_generators_finalized.connect(check_unique_addresses)
