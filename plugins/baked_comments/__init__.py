"""Bake approved comments and their counts into the pages at build time, so
readers without JavaScript (and search engines) see them too.

Each essay gets `article.thoughts` (approved comments, replies nested, text
re-sanitised here even though Isso sanitised it already: everything a reader
typed is untrusted) and `article.thought_count`. Counts come from one POST to
Isso's /count; only threads with comments are fetched. If Isso cannot be
reached the build goes on without them and says so once.

Settings: ISSO_BAKE_URL (where the build can reach Isso; empty turns baking
off) and COMMENTS_THREAD_ID, a format string for the stable thread id.
"""

import html
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import bleach
from pelican import signals
from pelican.generators import ArticlesGenerator

logger = logging.getLogger(__name__)

TIMEOUT = 3  # seconds; a build should not hang on a sleeping comment server
ALLOWED_TAGS = {"p", "br", "a", "em", "strong", "b", "i", "code", "pre", "blockquote",
                "ul", "ol", "li", "del", "sup", "sub", "hr"}
ALLOWED_ATTRIBUTES = {"a": ["href", "title"]}
ALLOWED_PROTOCOLS = {"http", "https", "mailto"}


class IssoUnreachable(Exception):
    pass


def thread_id(article, settings) -> str:
    return settings.get("COMMENTS_THREAD_ID", "/essays/{slug}/").format(slug=article.slug)


def comments_open(article) -> bool:
    return str(getattr(article, "comments", "on")).strip().lower() != "off"


def _request(base: str, path: str, body=None):
    url = urllib.parse.urljoin(base.rstrip("/") + "/", path.lstrip("/"))
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.load(response)
    except (OSError, ValueError) as error:  # URLError, refused, timeout, bad JSON
        raise IssoUnreachable(f"{url}: {error}") from error


def clean(html: str) -> str:
    cleaned = bleach.clean(html or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                           protocols=ALLOWED_PROTOCOLS, strip=True)
    return bleach.linkify(cleaned, callbacks=[_nofollow], parse_email=False) if "<a" in cleaned else cleaned


def _nofollow(attrs, new=False):
    attrs[(None, "rel")] = "nofollow ugc noopener"
    return attrs


def _website(value):
    value = html.unescape(value or "").strip()  # Isso stores it HTML-escaped
    return value if urllib.parse.urlsplit(value).scheme in ("http", "https") else None


def shape(comment: dict) -> dict:
    """What the template needs of one comment, every field made safe to print."""
    return {
        "id": int(comment["id"]),
        # Isso stores author names HTML-escaped; the template escapes them again.
        "author": html.unescape(comment.get("author") or ""),
        "website": _website(comment.get("website")),
        "created": datetime.fromtimestamp(float(comment["created"]), tz=timezone.utc),
        "html": clean(comment.get("text")),
        "replies": [shape(reply) for reply in comment.get("replies", []) if reply.get("mode", 1) == 1],
    }


def bake(generators):
    articles_generator = next((g for g in generators if isinstance(g, ArticlesGenerator)), None)
    if articles_generator is None:
        return
    settings = articles_generator.settings
    base = settings.get("ISSO_BAKE_URL") or ""
    articles = [a for a in articles_generator.articles if comments_open(a)]
    for article in articles_generator.articles:
        article.thoughts, article.thought_count = [], None
    # Pages refresh counts live only when Isso answered at build time: a
    # comment server that is not there would only fill consoles with errors.
    articles_generator.context["COMMENTS_BAKED"] = False
    if not base or not articles:
        return
    ids = [thread_id(article, settings) for article in articles]
    try:
        counts = _request(base, "/count", ids)
        for article, count in zip(articles, counts):
            article.thought_count = int(count)
            if count:
                thread = _request(base, "/?" + urllib.parse.urlencode(
                    {"uri": thread_id(article, settings), "nested_limit": 1000, "limit": 10000}))
                article.thoughts = [shape(c) for c in thread.get("replies", []) if c.get("mode", 1) == 1]
        articles_generator.context["COMMENTS_BAKED"] = True
    except IssoUnreachable as error:
        for article in articles:
            article.thoughts, article.thought_count = [], None
        logger.warning("Comments not baked into pages: Isso is unreachable (%s). "
                       "The pages still load comments live.", error)


def register():
    signals.all_generators_finalized.connect(bake)
