"""A thin WSGI layer in front of Isso 0.14 that answers bad requests with a
4xx before Isso sees them. Isso itself answers each of these with a 500
(its code trusts the JSON's shape), found by tests/test_comments_hostile.py:

  * POST /new, /preview: a JSON body that is not an object (list, number,
    string, null): AttributeError on data.keys() / data.get();
  * POST /new: "notification" or "title" (new thread) a list or object, or an
    integer beyond SQLite's 64 bits (also "parent"): sqlite3 cannot bind it;
  * POST /new: a string with a lone UTF-16 surrogate ("\\ud800"): SQLite
    cannot encode it; POST /preview: "text" not a string;
  * POST /count: a JSON number or null (TypeError), or a list holding a list
    (unhashable); and a JSON object, string or list of numbers is answered
    200, as if it were a list of thread URIs;
  * JSON nested thousands deep: RecursionError in the parser;
  * /id/<id>/... and GET /?parent=, limit=, offset= with integers beyond
    SQLite's 64 bits: OverflowError.

It also refuses bodies over Isso's own limit (256 KiB) with 413 before
reading them, chunked ones included, and keeps Kizuna's promises that need
only the request (found by tests/test_comment_promises.py):

  * comments only on essays the site has, with the site's titles: a new
    thread's uri must be in the build's comment-threads.json (SiteThreads),
    and the title a reader sends is replaced by the site's own (it became
    the subject of the writer's mail; with a CR/LF in it, mail broke);
  * every stored field has a length limit (LIMITS) and holds no control
    characters; names hold no invisible or direction-changing characters
    and are not the writer's (an impostor looked exactly like the writer);
    an e-mail field is an address;
  * an Origin or Referer that does not parse, or comes twice: 400 (Isso: 500);
  * thread reads are cached per essay and database state, whatever else the
    query holds (ThreadReads): cache-busting parameters cost nothing; so are
    a thread's feed reads (GET /feed?uri=), whose `limit` (Isso: any number,
    so a whole thread rendered on every read, or a 500 past 64 bits) is not
    passed on. Its answers look like Isso's (JSON when
the client asks for it) and carry Isso's CORS headers, so the comment form
in a reader's browser can show them.
"""

import io
import json
import os
import re
import time
import unicodedata
import urllib.parse
from pathlib import Path

from werkzeug.exceptions import BadRequest, HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.http import is_resource_modified, quote_etag, unquote_etag
from werkzeug.wrappers import Request

from kizuna.comments import bot_check, read_policy
from kizuna.comments.confirmations import PATH as CONFIRM_PATH

MAX_BODY = 256 * 1024  # isso.wsgi.Request.max_content_length
DRAIN = 4 * 1024 * 1024  # read (and drop) this much of a too-large body, so the client hears the 413
SQLITE_INT = 2**63 - 1
STRINGS = ("text", "author", "email", "website", "title")
# Characters a stored field may hold, by field: a limit on length (readers'
# own words get room; a name does not need 60 KB).
LIMITS = {"text": 20_000, "author": 80, "email": 254, "website": 254, "title": 300}
# Unicode categories no name, address or link may hold: controls, format
# characters (zero-width, bidi overrides), private use, unassigned, and line
# or paragraph separators.
HIDDEN = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}
TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# One address and nothing else: a local part, one @, a domain with a dot; none
# of the characters that would make a mail header hold more (CR/LF, commas,
# angle brackets, groups, quotes, comments) and no spaces; RFC 5321's 254 at most.
# The comment server refuses any other at the door; the tools never mail one.
EMAIL = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+")
# Latin look-alikes from Cyrillic and Greek, for comparing names with the writer's.
LOOKALIKES = str.maketrans("аеорсухіјѕԁһԛԝкмнтвαβεικνορτυχζημ", "aeopcyxijsdhqwkmhtbabeiknoptuxznm")
SAME_SHAPE = str.maketrans("01iı", "olll")
QUERY_INTEGERS = ("parent", "limit", "offset", "nested_limit")
ID_PATH = re.compile(r"/id/(\d+)(?:/.*)?")


def _body_kind(method: str, path: str) -> str | None:
    """Which of Isso's endpoints read a JSON body, and what it must be."""
    if method == "POST" and path == "/count":
        return "list of strings"
    if (method == "POST" and path in ("/new", "/preview")) or (method == "PUT" and re.fullmatch(r"/id/\d+", path)) \
            or (method == "POST" and re.fullmatch(r"/id/\d+/edit/[^/]+", path)):
        return "comment"
    return None


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def plain_address(address) -> bool:
    """Whether `address` is one plain e-mail address, safe to store and to mail."""
    return (isinstance(address, str) and len(address) <= 254 and address.isprintable()
            and EMAIL.fullmatch(address) is not None)


def one_line(text: str) -> str:
    """Stored text as one line (a mail subject, a thread's title): control
    characters (CR, LF…) and line or paragraph separators become spaces, and
    runs of spaces one, so it can neither add a mail header nor break one."""
    return " ".join("".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                            for ch in text or "").split())


def name_key(name: str) -> str:
    """What a name looks like, for telling look-alike names apart: letters
    and digits only (no spaces, punctuation, zero-width or direction marks),
    case and compatibility forms folded, common Cyrillic and Greek look-alikes
    read as Latin, and the shapes that pass for one another in most fonts
    (0 and o, 1, I and l, rn and m) made one."""
    folded = unicodedata.normalize("NFKC", name).casefold().translate(LOOKALIKES)
    letters = "".join(ch for ch in folded if ch.isalnum())
    return letters.translate(SAME_SHAPE).replace("rn", "m")


def check_comment(data, writer: tuple[str, ...] | str = ()) -> str | None:
    if not isinstance(data, dict):
        return "JSON must be an object"
    for key in STRINGS:
        if key in data and data[key] is not None:
            if not isinstance(data[key], str):
                return f"{key} must be a string or null"
            if not _encodable(data[key]):
                return f"{key} is not valid Unicode"
            if len(data[key]) > LIMITS[key]:
                return f"{key} is too long (at most {LIMITS[key]:,} characters)"
            if key == "text":
                if TEXT_CONTROLS.search(data[key]):
                    return "text holds control characters"
            elif key != "title" and any(unicodedata.category(ch) in HIDDEN for ch in data[key]):
                return f"{key} holds invisible or control characters"
    author = (data.get("author") or "").strip()
    names = (writer,) if isinstance(writer, str) else writer
    if author and any(name and name_key(author) == name_key(name) for name in names):
        return f"{author} is the writer's name, or looks like it; please choose another name, or none"
    if data.get("email") and not plain_address(data["email"].strip()):
        return "email is not an e-mail address"
    parent = data.get("parent")
    if parent is not None and (type(parent) is not int or abs(parent) > SQLITE_INT):
        return "parent must be an integer or null"
    if data.get("notification") not in (None, 0, 1) or type(data.get("notification")) is float:
        return "notification must be 0, 1 or null"
    return None


def check_uris(data) -> str | None:
    if not isinstance(data, list) or not all(isinstance(uri, str) and _encodable(uri) for uri in data):
        return "JSON must be a list of URLs"
    return None


def _read(stream, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = stream.read(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _too_large(environ) -> HTTPException:
    _read(environ["wsgi.input"], DRAIN)
    return RequestEntityTooLarge(f"The request body is larger than {MAX_BODY // 1024} KiB.")


def isso_path(environ) -> str:
    """The path Isso will route, with the prefix isso.wsgi.SubURI strips."""
    path = environ.get("PATH_INFO", "")
    prefix = environ.get("HTTP_X_SCRIPT_NAME")
    if prefix and path.startswith(prefix):
        path = path[len(prefix):]
    return path


def file_state(path) -> tuple | None:
    """What changes whenever a file is written or replaced (None: no file).
    Answers kept while a file's state is unchanged are still true."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def database_state(path) -> tuple:
    """file_state for a SQLite database in WAL mode: a write changes the
    -wal file, and the database file only at the next checkpoint, so both
    count (thread reads and counts are kept while this is unchanged)."""
    return file_state(path), file_state(f"{path}-wal")


def check_origin(environ) -> str | None:
    """Isso parses Origin (else Referer) to pick its CORS answer: a value
    that does not parse, or two headers joined into one, made it fail."""
    for header in ("HTTP_ORIGIN", "HTTP_REFERER"):
        value = environ.get(header)
        if value is None:
            continue
        name = header[5:].title()
        if header == "HTTP_ORIGIN" and ("," in value or any(ch.isspace() for ch in value.strip())):
            return "send one Origin header, holding one address"
        try:
            urllib.parse.urlsplit(value).port
        except ValueError:
            return f"{name} is not an address"
    return None


class SiteThreads:
    """The essays open for comments, {thread id: title}, as the last build
    wrote them into comment-threads.json; read again whenever the file
    changes (a publish replaces it). No file: no essay takes comments."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.seen = None
        self.threads: dict[str, str] = {}

    def current(self) -> dict[str, str]:
        state = file_state(self.path)
        if state is None:
            return {}
        if state != self.seen:
            try:
                threads = json.loads(self.path.read_text(encoding="utf-8"))["threads"]
            except (OSError, ValueError, KeyError, TypeError):
                return self.threads  # being replaced: keep what was there
            self.threads = {str(uri): str(title) for uri, title in threads.items()}
            self.seen = state
        return self.threads


def problem(environ, site: SiteThreads | None = None, writer: tuple[str, ...] = (),
            bots: "bot_check.BotCheck | None" = None) -> HTTPException | None:
    """What is wrong with this request, or None to pass it on to Isso. May
    replace wsgi.input with the (small) body it has read. With `bots`, a new
    comment must also pass the bot check (kizuna.comments.bot_check)."""
    path = isso_path(environ)
    if environ.get("HTTP_X_SCRIPT_NAME") and path.startswith(environ["HTTP_X_SCRIPT_NAME"] + "/"):
        return NotFound()  # /isso/isso/admin/: SubURI strips one prefix only
    reason = check_origin(environ)
    if reason:
        for header in ("HTTP_ORIGIN", "HTTP_REFERER"):  # the refusal's own CORS headers must not parse them
            environ.pop(header, None)
        return BadRequest(reason)

    match = ID_PATH.fullmatch(path)
    if match and int(match.group(1)) > SQLITE_INT:
        return NotFound()
    if path == "/":
        for name, value in urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")):
            if name in QUERY_INTEGERS:
                try:
                    if abs(int(value)) > SQLITE_INT:
                        return BadRequest(f"{name} is out of range")
                except ValueError:
                    pass  # Isso says what is wrong with it

    try:
        length = int(environ["CONTENT_LENGTH"]) if environ.get("CONTENT_LENGTH") else None
    except ValueError:
        return BadRequest("Content-Length is not a number")
    if length is not None and length < 0:
        return BadRequest("Content-Length is negative")
    if length is not None and length > MAX_BODY:
        return _too_large(environ)
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    kind = _body_kind(environ.get("REQUEST_METHOD", "GET"), path)
    if not (chunked or kind):
        return None

    # No Content-Length and not chunked: HTTP/1.1 has no body (and reading would wait).
    body = _read(environ["wsgi.input"], length if length is not None else MAX_BODY + 1 if chunked else 0)
    if len(body) > MAX_BODY:
        return _too_large(environ)
    _replace_body(environ, body)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    content_type = environ.get("CONTENT_TYPE", "")
    if not kind or (content_type and not content_type.startswith("application/json")):
        return None  # Isso refuses other content types itself (403, CSRF)
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return BadRequest("Unable to read JSON request")
    reason = check_uris(data) if kind == "list of strings" else check_comment(data, writer)
    if reason:
        return BadRequest(reason)
    if path == "/new" and site is not None:
        uri = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("uri", [None])[0]
        title = site.current().get(uri) if uri is not None else None
        if title is None:
            return NotFound("Comments are not open on this page.")
        data = {**data, "title": title}
    if path == "/new":
        # Last, so a comment refused for what it holds or where it goes uses up no solution.
        refused = bots.refusal(data) if bots is not None else None
        if refused is not None:
            return refused
        _replace_body(environ, json.dumps(bot_check.without_check(data)).encode())
    return None


def _replace_body(environ, body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


class Kept:
    """One answer to a thread read, as Isso gave it, and its compressed
    copies, each made once, by the first reader who asks for it."""

    def __init__(self, state, when: float, status: str, headers: list, body: bytes):
        self.state, self.when, self.status, self.headers, self.body = state, when, status, headers, body
        self.copies: dict[str | None, tuple[list, bytes]] = {}

    def answer(self, encoding: str | None) -> tuple[list, bytes]:
        """Headers and body for a reader who accepts `encoding` (None: as is)."""
        if not self.status.startswith("200"):
            return list(self.headers), self.body
        if encoding is not None and len(self.body) < read_policy.SMALLEST:
            encoding = None
        if encoding not in self.copies:
            body = self.body if encoding is None else read_policy.compress(self.body, encoding)
            headers = read_policy.shared([(name, value) for name, value in self.headers
                                          if name.lower() not in ("content-length", "vary", "etag")])
            headers += [("Content-Length", str(len(body))), ("Vary", "Accept-Encoding")]
            if encoding is not None:
                headers.append(("Content-Encoding", encoding))
            etag = next((value for name, value in self.headers if name.lower() == "etag"), None)
            if etag:  # a compressed copy is other bytes: another ETag
                tag, weak = unquote_etag(etag)
                headers.append(("ETag", quote_etag(tag if encoding is None else f"{tag}-{encoding}", weak)))
            self.copies[encoding] = (headers, body)
        return self.copies[encoding]


class ThreadReads:
    """GET /?uri=… answered from memory while the database (file and WAL) is unchanged
    (and for at most read_policy.FRESH_SECONDS): reading a thread makes Isso
    render every comment's Markdown, so a reader who varies the query
    (`&z=1`, `&z=2`…) must not make it render again. Only the uri counts, so
    every read is the whole thread (Kizuna's widget asks for no limits); only
    essays the site has are kept, so memory stays bounded. A reader who
    accepts gzip or brotli gets the copy compressed once for everyone."""

    SECONDS = read_policy.FRESH_SECONDS

    def __init__(self, app, db: str, origin):
        self.app, self.db, self.origin = app, db, origin
        self.kept: dict[tuple, Kept] = {}

    def __call__(self, environ, start_response, uri: str, keep: bool):
        environ["QUERY_STRING"] = urllib.parse.urlencode({"uri": uri})
        if not keep:
            return self.app(environ, start_response)
        key, state, now = (uri, self.origin(environ)), database_state(self.db), time.monotonic()
        kept = self.kept.get(key)
        if kept is None or kept.state != state or now - kept.when > self.SECONDS:
            answer = {}

            def remember(status, headers, exc_info=None):
                answer.update(status=status, headers=headers)
                return lambda data: None  # Isso's answers return their body

            chunks = self.app(environ, remember)
            try:
                body = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
            kept = Kept(state, now, answer["status"], answer["headers"], body)
            if answer["status"].startswith("200"):
                for old in [k for k, v in self.kept.items() if now - v.when > self.SECONDS]:
                    self.kept.pop(old, None)
                self.kept[key] = kept
        headers, body = kept.answer(read_policy.accepted(environ.get("HTTP_ACCEPT_ENCODING")))
        etag = next((value for name, value in headers if name.lower() == "etag"), None)
        if etag and kept.status.startswith("200") and not is_resource_modified(environ, etag=unquote_etag(etag)[0]):
            # A feed reader's "changed since?" (a feed has an ETag, kizuna/comments/feed.py), answered as Isso would.
            start_response("304 NOT MODIFIED", [(name, value) for name, value in headers
                                                 if name.lower() not in ("content-length", "content-type",
                                                                         "content-encoding")])
            return [b""]
        start_response(kept.status, list(headers))
        return [body]


class Hardening:
    """WSGI middleware in front of Isso: Hardening(wrapped_app, isso=the Isso
    object, rules=isso_rules.Rules)."""

    def __init__(self, app, isso, rules, confirmations=None):
        from isso import error_handler
        from isso.wsgi import CORSMiddleware, origin

        def answer(environ, start_response):
            error = environ["kizuna.hardening.problem"]
            response = error_handler(environ, Request(environ), error)
            return response(environ, start_response)

        hosts = list(isso.conf.getiter("general", "host"))
        self.app = app
        self.site = SiteThreads(rules.threads)
        self.writer = rules.writer_names
        self.confirmations = confirmations
        self.bots = bot_check.BotCheck(isso.db, bot_check.required(os.environ))
        self.reads = ThreadReads(app, isso.conf.get("general", "dbpath"), origin(hosts))
        self.feeds = ThreadReads(app, isso.conf.get("general", "dbpath"), origin(hosts))  # GET /feed?uri=
        # The same CORS headers Isso's own answers carry (isso.make_app).
        self.answer = CORSMiddleware(answer, origin=origin(hosts), allowed=("Origin", "Referer", "Content-Type"),
                                     exposed=("X-Set-Cookie", "Date"))
        self.challenges = CORSMiddleware(self.bots.app, origin=origin(hosts), allowed=("Origin", "Referer"))

    def __call__(self, environ, start_response):
        found = problem(environ, self.site, self.writer, self.bots)
        if found is not None:
            environ["kizuna.hardening.problem"] = found
            return self.answer(environ, start_response)
        path = isso_path(environ)
        if path.startswith(CONFIRM_PATH) and self.confirmations is not None:
            return self.confirmations(environ, start_response, path)
        if path == bot_check.CHALLENGE_PATH:
            return self.challenges(environ, start_response)
        if environ.get("REQUEST_METHOD") == "GET" and path in ("/", "/feed"):
            uri = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("uri", [None])[0]
            if uri is not None:
                reads = self.reads if path == "/" else self.feeds
                return reads(environ, start_response, uri, keep=uri in self.site.current())
        if environ.get("REQUEST_METHOD") == "POST" and path == "/count":
            return self.app(environ, read_policy.cacheable(start_response))
        return self.app(environ, start_response)
