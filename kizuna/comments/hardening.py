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
reading them, chunked ones included. Its answers look like Isso's (JSON when
the client asks for it) and carry Isso's CORS headers, so the comment form
in a reader's browser can show them.
"""

import io
import json
import re
import urllib.parse

from werkzeug.exceptions import BadRequest, HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Request

MAX_BODY = 256 * 1024  # isso.wsgi.Request.max_content_length
DRAIN = 4 * 1024 * 1024  # read (and drop) this much of a too-large body, so the client hears the 413
SQLITE_INT = 2**63 - 1
STRINGS = ("text", "author", "email", "website", "title")
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


def check_comment(data) -> str | None:
    if not isinstance(data, dict):
        return "JSON must be an object"
    for key in STRINGS:
        if key in data and data[key] is not None:
            if not isinstance(data[key], str):
                return f"{key} must be a string or null"
            if not _encodable(data[key]):
                return f"{key} is not valid Unicode"
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


def problem(environ) -> HTTPException | None:
    """What is wrong with this request, or None to pass it on to Isso. May
    replace wsgi.input with the (small) body it has read."""
    path = environ.get("PATH_INFO", "")
    prefix = environ.get("HTTP_X_SCRIPT_NAME")  # as isso.wsgi.SubURI strips it
    if prefix and path.startswith(prefix):
        path = path[len(prefix):]

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
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    content_type = environ.get("CONTENT_TYPE", "")
    if not kind or (content_type and not content_type.startswith("application/json")):
        return None  # Isso refuses other content types itself (403, CSRF)
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return BadRequest("Unable to read JSON request")
    reason = check_uris(data) if kind == "list of strings" else check_comment(data)
    return BadRequest(reason) if reason else None


class Hardening:
    """WSGI middleware: Hardening(isso_app, hosts=the [general] host list)."""

    def __init__(self, app, hosts=()):
        from isso import error_handler
        from isso.wsgi import CORSMiddleware, origin

        def answer(environ, start_response):
            error = environ["kizuna.hardening.problem"]
            response = error_handler(environ, Request(environ), error)
            return response(environ, start_response)

        self.app = app
        # The same CORS headers Isso's own answers carry (isso.make_app).
        self.answer = CORSMiddleware(answer, origin=origin(list(hosts)), allowed=("Origin", "Referer", "Content-Type"),
                                     exposed=("X-Set-Cookie", "Date"))

    def __call__(self, environ, start_response):
        found = problem(environ)
        if found is None:
            return self.app(environ, start_response)
        environ["kizuna.hardening.problem"] = found
        return self.answer(environ, start_response)
