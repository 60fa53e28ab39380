"""`invoke new "Title"`: a draft essay with every metadata field filled in,
signed by the site's author (KIZUNA_AUTHOR: the environment, else site.env
from `invoke init`)."""

from datetime import datetime
from pathlib import Path

from pelican.settings import DEFAULT_CONFIG
from pelican.utils import slugify

from kizuna import CONTENT
from kizuna.errors import KizunaError
from kizuna.settings import site_value

TEMPLATE = """\
Title: {title}
Subtitle:
Slug: {slug}
Date: {date}
Author: {author}
Status: draft
Category: Essays
Tags: {tags}
Summary: One or two sentences that make a reader want to read on.

Write your essay here. When it is ready, change `Status: draft` to
`Status: published` and run `invoke build`.

– {author}
{{: .signoff }}
"""


class EssayError(KizunaError):
    pass


def new_essay(title: str, tags: str = "", content: Path = CONTENT, now: datetime | None = None,
              author: str | None = None) -> Path:
    """Write content/<slug>.md and return its path; refuse to overwrite."""
    title = " ".join(title.split())
    if not title:
        raise EssayError("An essay needs a title: invoke new \"My title\"")
    author = " ".join((site_value("KIZUNA_AUTHOR") if author is None else author).split())
    if not author:
        raise EssayError("Essays are signed by KIZUNA_AUTHOR, which is empty: invoke init --author \"Your Name\"")
    # As Pelican makes slugs with Kizuna's settings: in the title's own script (pelicanconf.py).
    slug = slugify(title, regex_subs=DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"], use_unicode=True)
    if not slug:
        raise EssayError(f"Cannot make a file name from the title {title!r}")
    path = Path(content) / f"{slug}.md"
    if path.exists():
        raise EssayError(f"{path} already exists; choose another title or edit that file")
    date = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    path.parent.mkdir(parents=True, exist_ok=True)
    # "x" mode: if another process created the file meanwhile, fail rather than overwrite.
    with path.open("x", encoding="utf-8") as handle:
        handle.write(TEMPLATE.format(title=title, slug=slug, date=date, tags=tags, author=author))
    return path
