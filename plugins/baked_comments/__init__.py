"""Bake approved comments and their counts into the pages at build time, so
readers without JavaScript (and search engines) see them too; and tell the
comment server which threads exist.

The comment rules are decided here, once, and templates only read them:
every essay (drafts, hidden ones and translations too) gets
`article.comments_open` (False when its fields say `Comments: off`) and
`article.comments_thread`, its Isso thread id (COMMENTS_THREAD_ID); pages get
`comments_open` False, as the comment server takes comments on essays only.

Each essay also gets `article.comments_baked` (approved comments, replies
nested, text re-sanitised here even though Isso sanitised it already:
everything a reader typed is untrusted) and `article.comment_count`, the
number of comments baked into its page, None when unknown. That is not Isso's
/count, which also counts approved replies under a parent still waiting (not
shown by Isso either). One POST to /count says which threads have comments;
only those are fetched, whole.

Every request says it comes from the site's own origin, as the pages'
requests do: nginx in front of Isso refuses writes (and POST /count is one)
from any other. A thread that cannot be fetched (after one retry) costs only
its own essay its baked comments; if /count fails, no essay has them. Either
way the build goes on and says so, unless COMMENTS_BAKE_REQUIRED is set (as
`invoke publish` sets it): then the build fails, naming the URL and why.

The build also writes comment-threads.json: every essay written with its
comments open, by thread id, with its title as plain text. The comment server
reads it to accept comments only on essays that exist, titled by the site.

Settings: ISSO_BAKE_URL (where the build reaches Isso; empty turns baking
off), COMMENTS_THREAD_ID (a format string for the stable thread id),
COMMENTS_BAKE_TIMEOUT (seconds per request), COMMENTS_BAKE_REQUIRED; and
ISSO_OPTIONS (the widget's options, which the comments partial writes as
data-isso-* attributes), whose names are checked here, as the build starts.
"""

import html
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import bleach
from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator

from kizuna import serve
from kizuna.comments.hardening import one_line
from kizuna.redirects import page as redirect_page

logger = logging.getLogger(__name__)

# Isso renders every comment's Markdown on each read: a 10,000-comment thread
# takes tens of seconds on a small server.
TIMEOUT = 60
RETRY_PAUSE = 1.0  # seconds before the one retry
# nginx's X-Cache for a copy it serves while refreshing it: asked again, up to
# STALE_RETRIES times STALE_PAUSE seconds, then taken as it is.
STALE = ("STALE", "UPDATING")
STALE_RETRIES, STALE_PAUSE = 40, 0.05
THREADS_FILE = "comment-threads.json"
ALLOWED_TAGS = {"p", "br", "a", "em", "strong", "b", "i", "code", "pre", "blockquote",
                "ul", "ol", "li", "del", "sup", "sub", "hr"}
ALLOWED_ATTRIBUTES = {"a": ["href", "title"]}
ALLOWED_PROTOCOLS = {"http", "https", "mailto"}


class IssoUnreachable(Exception):
    """Isso did not answer as it should; the message names the URL and why."""

    def __init__(self, message: str, status: int | None = None, refused: bool = False):
        super().__init__(message)
        self.status = status
        self.refused = refused  # nothing listens there: Isso is not running, and a retry would only wait


class BakeFailed(Exception):
    """Comments could not be baked into a build that requires them."""


class BadSetting(Exception):
    """A setting the plugin reads cannot be used; the message says which and why."""


def thread_id(article, settings) -> str:
    """The essay's Isso thread: its `Thread:` field when it has one (so a
    renamed essay keeps its comments), else COMMENTS_THREAD_ID for its slug."""
    given = str(getattr(article, "thread", "") or "").strip()
    if given:
        return given
    return settings.get("COMMENTS_THREAD_ID", "/essays/{slug}/").format(slug=article.slug)


def check_thread_field(article) -> None:
    given = str(getattr(article, "thread", "") or "").strip()
    if given and not (given.startswith("/") and given.endswith("/") and " " not in given):
        logger.error("%s: Thread: %r is not an address on this site, e.g. /essays/old-slug/",
                     article.source_path, given)


def moved(article) -> str | None:
    """Where an essay used to live, when its Thread: keeps an older address."""
    given = str(getattr(article, "thread", "") or "").strip()
    own = "/" + article.url.lstrip("/")
    return given if given and given != own and given.startswith("/") and article.save_as else None


def write_moved_pages(pelican) -> None:
    """A page at each renamed essay's old address that sends readers (and
    links in old mail) to where it lives now; never over a page of the site."""
    output = Path(pelican.output_path)
    for old, new_url in _MOVED:
        target = output / old.strip("/") / "index.html"
        if target.exists() or ".." in old:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(redirect_page(new_url, "This essay"), encoding="utf-8")


_MOVED: list[tuple[str, str]] = []  # (old address, new URL), gathered by decide() for write_moved_pages


def comments_open(article) -> bool:
    return str(getattr(article, "comments", "on")).strip().lower() != "off"


def decide(generators) -> None:
    """The comment rules, on every essay and page a template may show. The
    baked comments start empty and their count unknown; bake() fills them."""
    for generator in generators:
        if isinstance(generator, ArticlesGenerator):
            _MOVED.clear()
            owners = {}  # thread → the essay (slug) whose comments it holds; translations share theirs
            for article in _every_article(generator):
                check_thread_field(article)
                article.comments_open = comments_open(article)
                article.comments_thread = thread_id(article, generator.settings)
                owner = owners.setdefault(article.comments_thread, article)
                if owner.slug != article.slug:
                    logger.error("%s: its comment thread %s is already %s's: two essays would show the same "
                                 "comments (check its Thread: field)", article.source_path, article.comments_thread,
                                 owner.source_path)
                article.comments_baked, article.comment_count = [], None
                old = moved(article)
                if old:
                    _MOVED.append((old, f"{generator.settings.get('SITEURL', '')}/{article.url.lstrip('/')}"))
        elif isinstance(generator, PagesGenerator):
            for page in [*generator.pages, *generator.hidden_pages, *generator.draft_pages,
                         *generator.translations, *generator.hidden_translations, *generator.draft_translations]:
                page.comments_open, page.comments_thread = False, None
                page.comments_baked, page.comment_count = [], None


# A name the partial can write as an attribute as it is (HTML lowercases it,
# as Isso does; Isso reads "_" as "-", e.g. postbox-text-text-pt_BR).
OPTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def check_isso_options(pelican) -> None:
    """ISSO_OPTIONS: option name (without data-isso-) → text, number or
    True/False. Anything else would make broken markup, so it stops the build."""
    options = pelican.settings["ISSO_OPTIONS"] = pelican.settings.get("ISSO_OPTIONS") or {}
    if not isinstance(options, dict):
        raise BadSetting(f"ISSO_OPTIONS must be a dict of option name → value, not {type(options).__name__}")
    for name, value in options.items():
        if not (isinstance(name, str) and OPTION_NAME.fullmatch(name)):
            raise BadSetting(f"ISSO_OPTIONS: {name!r} is not an option name (letters, digits, - and _)")
        if not isinstance(value, (str, bool, int, float)):
            raise BadSetting(f"ISSO_OPTIONS[{name!r}] must be text, a number, True or False, "
                             f"not {type(value).__name__}")


def site_origin(settings) -> str:
    """The origin the build's requests come from: SITEURL's (scheme://host[:port],
    derived as kizuna.deploy derives the one nginx accepts). A development build
    has no SITEURL; it is the site `invoke serve` shows, the origin Isso accepts."""
    parts = urllib.parse.urlsplit(settings.get("SITEURL") or f"http://{serve.HOST}:{serve.PORT}")
    return f"{parts.scheme}://{parts.netloc}"


class Isso:
    """Isso's HTTP API, read as the site's own pages read it."""

    def __init__(self, base: str, origin: str, timeout: float = TIMEOUT):
        self.base, self.origin, self.timeout = base.rstrip("/") + "/", origin, timeout

    def count(self, uris: list[str]) -> list[int]:
        counts = self._answer("count", uris)
        if not (isinstance(counts, list) and len(counts) == len(uris)
                and all(isinstance(n, int) and n >= 0 for n in counts)):
            raise IssoUnreachable(f"{self.base}count: not a list of {len(uris)} counts")
        return counts

    def thread(self, uri: str) -> dict:
        """The whole thread: no limit on comments or replies."""
        try:
            thread = self._answer("?" + urllib.parse.urlencode({"uri": uri}))
        except IssoUnreachable as error:
            if error.status == 404:  # no such thread (any more)
                return {"replies": []}
            raise
        if not isinstance(thread, dict) or not isinstance(thread.get("replies"), list):
            raise IssoUnreachable(f"{self.base}?uri={uri}: not a thread")
        return thread

    def _answer(self, path: str, body=None):
        """One request, retried once unless Isso refused it (4xx)."""
        try:
            return self._request(path, body)
        except IssoUnreachable as error:
            if error.refused or (error.status is not None and 400 <= error.status < 500):
                raise
            time.sleep(RETRY_PAUSE)
            return self._request(path, body)

    def _request(self, path: str, body=None):
        url = self.base + path
        headers = {"Origin": self.origin, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
        try:
            for asked in range(STALE_RETRIES + 1):
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    if response.headers.get("X-Cache") not in STALE or asked == STALE_RETRIES:
                        return json.load(response)
                # nginx's last copy, served while it asks Isso in the background
                # (kizuna/comments/read_policy.py): a page baked now would miss a
                # comment the writer has just approved, so ask again for the new one.
                time.sleep(STALE_PAUSE)
        except urllib.error.HTTPError as error:
            raise IssoUnreachable(f"{url}: HTTP {error.code} {error.reason}", error.code) from error
        except urllib.error.URLError as error:
            raise IssoUnreachable(f"{url}: {error.reason}",
                                  refused=isinstance(error.reason, ConnectionRefusedError)) from error
        except TimeoutError as error:
            raise IssoUnreachable(f"{url}: no answer within {self.timeout:g} s") from error
        except (OSError, http.client.HTTPException, ValueError) as error:  # reset, cut short, not JSON
            raise IssoUnreachable(f"{url}: {error or type(error).__name__}") from error


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
        # Only the comment server says so, for what invoke comments.reply made (kizuna/comments/writer.py).
        "writer": comment.get("writer") is True,
        "replies": [shape(reply) for reply in comment.get("replies", []) if reply.get("mode", 1) == 1],
    }


def shown(thread: dict) -> list[dict]:
    """The approved comments of a thread as the page shows them. A deleted
    comment kept as a placeholder is not shown, nor are its replies."""
    return [shape(comment) for comment in thread.get("replies", []) if comment.get("mode", 1) == 1]


def size(comments: list[dict]) -> int:
    return sum(1 + size(comment["replies"]) for comment in comments)


def plain_title(markup: str) -> str:
    """A title as plain text: tags stripped, entities unescaped, control
    characters and line or paragraph separators made spaces, spaces collapsed."""
    parser = _TextOnly()
    parser.feed(markup or "")
    parser.close()
    return one_line("".join(parser.text))


class _TextOnly(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []

    def handle_data(self, data):
        self.text.append(data)


def _articles_generator(generators) -> ArticlesGenerator | None:
    return next((g for g in generators if isinstance(g, ArticlesGenerator)), None)


def _every_article(generator: ArticlesGenerator) -> list:
    return [*generator.articles, *generator.hidden_articles, *generator.drafts,
            *generator.translations, *generator.hidden_translations, *generator.drafts_translations]


def write_threads(generators) -> None:
    """comment-threads.json: every essay written with its comments open (drafts
    only where drafts are written), by thread id, with its plain-text title.
    Written into Pelican's output path, which it has already emptied if it would."""
    articles_generator = _articles_generator(generators)
    if articles_generator is None:
        return
    threads = {}
    for article in _every_article(articles_generator):
        if article.save_as and article.comments_open:
            threads.setdefault(article.comments_thread, plain_title(article.title))
    os.makedirs(articles_generator.output_path, exist_ok=True)
    with open(os.path.join(articles_generator.output_path, THREADS_FILE), "w", encoding="utf-8") as file:
        json.dump({"threads": threads}, file, ensure_ascii=False, indent=1, sort_keys=True)
        file.write("\n")


def bake(generators):
    articles_generator = _articles_generator(generators)
    if articles_generator is None:
        return
    settings = articles_generator.settings
    base = settings.get("ISSO_BAKE_URL") or ""
    required = bool(settings.get("COMMENTS_BAKE_REQUIRED"))
    articles = [a for a in articles_generator.articles if a.comments_open]
    # Pages refresh counts live only when Isso answered at build time: a
    # comment server that is not there would only fill consoles with errors.
    articles_generator.context["COMMENTS_BAKED"] = False
    if not articles:
        return
    if not base:
        if required:
            _fail("ISSO_BAKE_URL is empty")
        return
    isso = Isso(base, site_origin(settings), float(settings.get("COMMENTS_BAKE_TIMEOUT") or TIMEOUT))
    try:
        counts, problem = isso.count([article.comments_thread for article in articles]), None
    except IssoUnreachable as error:
        counts, problem = [], error
    if problem:  # out of the except block: the failure is told, not its traceback
        if required:
            _fail(str(problem))
        logger.warning("Comments not baked into pages: Isso is unreachable (%s). "
                       "The pages still load comments live.", problem)
        return
    articles_generator.context["COMMENTS_BAKED"] = True
    failures = []
    for article, count in zip(articles, counts):
        if not count:
            article.comment_count = 0
            continue
        try:
            comments, problem = shown(isso.thread(article.comments_thread)), None
        except IssoUnreachable as error:
            comments, problem = [], error
        except (KeyError, TypeError, ValueError) as error:  # a comment without id or date
            comments, problem = [], IssoUnreachable(f"{base} (thread {article.comments_thread}): "
                                                    f"a comment Isso sent is malformed ({error!r})")
        if problem:
            failures.append(f"“{plain_title(article.title)}” ({problem})")
            if not required:
                logger.warning("Comments not baked into “%s” (%s): %s. Its page still loads them live.",
                               plain_title(article.title), os.path.relpath(article.source_path), problem)
            continue
        article.comments_baked, article.comment_count = comments, size(comments)
    if failures and required:
        _fail("; ".join(failures))


def _fail(reason: str):
    message = (f"Comments could not be baked into the pages, and a build for publishing must carry them: "
               f"{reason}. Check that Isso runs and answers at ISSO_BAKE_URL from the site's origin.")
    logger.error(message)  # with --fatal errors (kizuna.build), this alone stops the build
    raise BakeFailed(message)


def finalized(generators):
    """Once every generator has read its content, before any page is written:
    the rules first, then what reads them."""
    decide(generators)
    write_threads(generators)
    bake(generators)


def register():
    signals.initialized.connect(check_isso_options)
    signals.all_generators_finalized.connect(finalized)
    signals.finalized.connect(write_moved_pages)
