"""`invoke stage` end to end: Debian's nginx, configured from deploy/*.j2,
in front of gunicorn running Isso, serving a production build, all on
loopback under a temporary prefix, every server stopped by pid.

What production promises and only the whole topology can show: pages served
compressed and cached as intended, security headers on every kind of answer
(and no CSP violation in a real browser while the comment widget loads and
posts), writes refused unless they come from the site as JSON, a forged
X-Forwarded-For unable to lift Isso's rate limit, 500 concurrent posts all
stored, acknowledged comments surviving a SIGKILL of the comment server, and
the micro-cache never hiding an approved comment for more than a moment."""

import brotli
import contextlib
import gzip
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import ESSAY_PATH, approve_comments, free_port, open_threads, require_tool, thread_comments, watch
from kizuna import ROOT
from kizuna.comments import read_policy
from kizuna.deploy import BROTLI_MODULE, Deployment
from kizuna.processes import running, wait_until_listening
from kizuna.stage import Stage, build_site, prepare

RAISED_LIMITS = {"KIZUNA_ISSO_RATELIMIT": "100000", "KIZUNA_ISSO_DIRECT_REPLY": "100000"}
# nginx keeps a thread read for Deployment.micro_cache, counted in whole
# seconds: a read made this long after another never comes from its cache.
CACHE_PASSED = int(Deployment.micro_cache.removesuffix("s")) + 1.05
ESSAY_TITLE = "Unresolved Desire to Connect"
# Essays the tests below comment on, beside the site's own: as if the build had listed them.
STAGED_ESSAYS = {f"/essays/{name}/": "A staged essay" for name in (
    "accepted", "moderated", "rate-limited", "under-load", "purged", "micro-cached", "crashed", "compressed", "stale")}


# --- The stage, running ------------------------------------------------------

@dataclass
class Running:
    """A started stage: its Stage, the two processes (by name, as
    processes.running holds them, so a replaced one is stopped too) and the
    commands they were started with."""
    stage: Stage
    processes: dict
    commands: dict

    @property
    def url(self) -> str:
        return self.stage.url

    @property
    def db(self) -> Path:
        return self.stage.db

    def request(self, method, path, body=None, headers=None, source=None, timeout=15.0):
        """One request through nginx on a fresh connection; (status, headers, body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.stage.port, timeout=timeout,
                                                source_address=(source, 0) if source else None)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def post(self, uri, text, origin="site", content_type="application/json", headers=None, **fields):
        """POST /isso/new as the comment form does (by default); (status, headers, body)."""
        body = json.dumps({"text": text, "title": fields.pop("title", "A staged essay"), **fields})
        return self.request("POST", new_path(uri), body.encode(),
                            form_headers(self.url if origin == "site" else origin, content_type, headers))


def new_path(uri: str) -> str:
    return "/isso/new?uri=" + urllib.parse.quote(uri, safe="")


def form_headers(origin, content_type="application/json", extra=None) -> dict:
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if content_type is not None:
        headers["Content-Type"] = content_type
    return {**headers, **(extra or {})}


def distinct_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def wait_until_answering(running_stage: Running, seconds: float = 15.0) -> None:
    """nginx accepts connections and answers HTTP (any status)."""
    wait_until_listening(running_stage.stage.port, running_stage.processes["nginx"], seconds)
    deadline = time.monotonic() + seconds
    while True:
        try:
            running_stage.request("GET", "/", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def staged(prefix: Path, extra_env: dict, workers: int = 3, build: bool = True, unset=(), https: bool = False,
           essays: dict | None = None):
    """Generator behind the stage fixtures: prepare (with the names in `unset`
    out of the environment, so Isso gets production's defaults for them),
    start both servers via processes.running, wait for gunicorn, build the site
    against it, open `essays` (default STAGED_ESSAYS) for comments beside the
    site's own, wait for nginx. processes.running stops whatever is in its
    dict by pid on leaving."""
    require_tool("nginx")
    isso_port, port = distinct_ports(2)
    stage = Stage(port=port, isso_port=isso_port, prefix=prefix, workers=workers, https=https)
    with pytest.MonkeyPatch.context() as patch:
        for name in unset:
            patch.delenv(name, raising=False)
        commands = prepare(stage, extra_env=extra_env)
    with running(commands, cwd=ROOT) as processes:
        wait_until_listening(stage.isso_port, processes["comments"])
        if build:
            build_site(stage)
        open_threads(stage.threads, STAGED_ESSAYS if essays is None else essays)
        staged_now = Running(stage, processes, commands)
        wait_until_answering(staged_now)
        yield staged_now


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """The stage with Isso's rate limits raised (tests post quickly from one address)."""
    yield from staged(tmp_path_factory.mktemp("stage"), RAISED_LIMITS)


@pytest.fixture(scope="module")
def default_limit_stage(tmp_path_factory):
    """A small stage (no site build) with Isso's production rate limit: 2 new
    comments per address per minute. Only the direct-reply limit is raised, so
    that the rate limit is the one a third post meets."""
    yield from staged(tmp_path_factory.mktemp("stage-default-limit"), {"KIZUNA_ISSO_DIRECT_REPLY": "100000"},
                      workers=2, build=False, unset=["KIZUNA_ISSO_RATELIMIT"])  # the default, not the shell's


# --- The database, read as it is -----------------------------------------------

def comment_ids(db: Path, uri: str | None = None) -> set[int]:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as connection:
        if uri is None:
            rows = connection.execute("SELECT id FROM comments")
        else:
            rows = connection.execute("SELECT comments.id FROM comments JOIN threads ON comments.tid = threads.id"
                                      " WHERE threads.uri = ?", (uri,))
        return {row[0] for row in rows}


def thread_exists(db: Path, uri: str) -> bool:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as connection:
        return connection.execute("SELECT 1 FROM threads WHERE uri = ?", (uri,)).fetchone() is not None


# --- Pages: compressed, cached as meant, our own 404 ----------------------------

def theme_assets(html: str) -> list[str]:
    """The theme's asset paths a page links to, named by their content (…/theme/css/x.0123456789.css)."""
    return sorted({urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl()
                   for url in re.findall(r'(?:href|src|data-css)="([^"]*/theme/[^"]+\.[0-9a-f]{10}\.(?:css|js))"',
                                         html)})


def test_essay_is_served_compressed_and_cached_as_meant(stage):
    status, headers, plain = stage.request("GET", ESSAY_PATH)
    assert status == 200, plain[:300]
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-cache", "pages must be checked again on each visit"
    assert "Content-Encoding" not in headers
    html = plain.decode()
    assert f"<title>{ESSAY_TITLE}" in html

    if not BROTLI_MODULE.exists():
        pytest.fail(f"{BROTLI_MODULE} is missing: ./setup --dev installs libnginx-mod-http-brotli-static")
    built = stage.stage.prefix / "www" / ESSAY_PATH.strip("/") / "index.html"
    for encoding, suffix, decompress in (("br", ".br", brotli.decompress), ("gzip", ".gz", gzip.decompress)):
        status, headers, body = stage.request("GET", ESSAY_PATH, headers={"Accept-Encoding": encoding})
        assert status == 200
        assert headers["Content-Encoding"] == encoding, f"asked for {encoding}, got {headers['Content-Encoding']}"
        assert "Accept-Encoding" in headers.get("Vary", ""), "a shared cache must key on Accept-Encoding"
        assert headers["Cache-Control"] == "no-cache"
        assert decompress(body) == plain, f"the {encoding} copy is not the page nginx serves uncompressed"
        # Served as built (gzip_static/brotli_static), not compressed again on each request.
        assert body == built.with_name(built.name + suffix).read_bytes(), f"{encoding}: not the precompressed file"

    assets = theme_assets(html)
    assert any(path.startswith("/theme/css/") for path in assets), f"no hashed stylesheet in the essay: {assets}"
    for path in assets:
        status, headers, body = stage.request("GET", path, headers={"Accept-Encoding": "br, gzip"})
        assert status == 200, path
        cache = headers["Cache-Control"]
        assert "max-age=31536000" in cache and "immutable" in cache, f"{path}: Cache-Control {cache!r}"
        if path.startswith("/theme/css/"):
            assert headers["Content-Type"].startswith("text/css"), path

    status, headers, body = stage.request("GET", "/no/such/essay/")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert "<title>Page not found" in page, page[:300]
    assert "<center>nginx</center>" not in page  # not nginx's own error page
    assert theme_assets(page), "the 404 page is not the site's own (no theme stylesheet)"


def test_isso_scripts_are_compressed_and_cached_a_day(stage):
    status, headers, body = stage.request("GET", "/isso/js/embed.min.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in headers.get("Vary", "")
    assert len(body) < 30_000, f"embed.min.js is {len(body)} bytes compressed"
    assert b"isso" in gzip.decompress(body)
    assert headers.get_all("Cache-Control") == ["public, max-age=86400"], headers.get_all("Cache-Control")
    assert headers.get_all("Expires") is None, "Isso's Expires (12 h) contradicts the day nginx promises"


# --- Security headers, and a browser that sees no CSP violation -----------------

def _path_for(stage, kind: str) -> tuple[str, str, bytes | None, dict]:
    """(method, path, body, headers) of one request of each kind of answer."""
    if kind == "css":
        html = stage.request("GET", ESSAY_PATH)[2].decode()
        return "GET", next(path for path in theme_assets(html) if path.endswith(".css") or ".css?" in path), None, {}
    return {
        "html": ("GET", ESSAY_PATH, None, {}),
        "404": ("GET", "/no/such/essay/", None, {}),
        "isso-json": ("GET", "/isso/?uri=" + urllib.parse.quote(ESSAY_PATH, safe=""), None, {}),
        "isso-count": ("POST", "/isso/count", json.dumps([ESSAY_PATH, "/about/"]).encode(), form_headers(stage.url)),
        "isso-js": ("GET", "/isso/js/embed.min.js", None, {}),
        "refused-write": ("POST", new_path("/essays/refused/"), b'{"text": "nope"}',
                          form_headers("http://evil.example")),
    }[kind]


@pytest.mark.parametrize("kind", ["html", "css", "404", "isso-json", "isso-count", "isso-js", "refused-write"])
def test_security_headers_on_every_kind_of_answer(stage, kind):
    method, path, body, headers = _path_for(stage, kind)
    status, answer, content = stage.request(method, path, body, headers)
    expected = {"404": 404, "refused-write": 403}.get(kind, 200)
    assert status == expected, (path, content[:300])
    policies = answer.get_all("Content-Security-Policy") or []
    assert len(policies) == 1, f"{path}: {len(policies)} Content-Security-Policy headers: {policies}"
    policy = {directive.split()[0]: directive.split()[1:] for directive in policies[0].split(";") if directive.strip()}
    assert policy.get("frame-ancestors") == ["'none'"], policies[0]
    assert policy.get("default-src") == ["'self'"], policies[0]
    assert policy.get("object-src") == ["'none'"], policies[0]
    assert "'unsafe-inline'" not in policy.get("script-src", []), policies[0]
    assert answer.get_all("X-Content-Type-Options") == ["nosniff"], path
    assert answer.get_all("Referrer-Policy") == ["strict-origin-when-cross-origin"], path


RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
window.addEventListener("securitypolicyviolation", function (event) {
    window.__cspViolations.push({directive: event.violatedDirective, blocked: event.blockedURI,
                                 source: event.sourceFile, line: event.lineNumber, sample: event.sample});
}, true);
"""
COMMENT = "Staged, and still the same kind place. Thank you."


def open_watched(browser, contexts):
    """A new context and page that records CSP violations, console errors,
    page errors and failed or refused requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(15_000)
    contexts.append(context)
    page = context.new_page()
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    return page, watch(page)


def settled_problems(page, problems) -> list:
    page.wait_for_load_state("networkidle")
    return problems + [f"CSP violation: {violation}" for violation in page.evaluate("window.__cspViolations")]


def show_comments(page, stage):
    """Scroll to the comments, as a reader does; the widget loads through /isso/."""
    with page.expect_response(lambda r: r.url.split("?")[0] == stage.url + "/isso/js/embed.min.js") as embed:
        page.locator("#comments").scroll_into_view_if_needed()
    assert embed.value.status == 200
    page.locator("#isso-thread .isso-postbox .isso-textarea").wait_for()


def test_widget_posts_through_nginx_without_csp_violations(stage, browser):
    contexts = []
    try:
        # The author: the widget loads through nginx and posts.
        page, problems = open_watched(browser, contexts)
        thread_read = []  # when the author's widget last read the thread (micro-cached)
        page.on("response", lambda r: "/isso/?uri=" in r.url and thread_read.append(time.monotonic()))
        page.goto(stage.url + ESSAY_PATH)
        show_comments(page, stage)
        textarea = page.locator("#isso-thread .isso-textarea")
        textarea.click()
        textarea.press_sequentially(COMMENT)
        with page.expect_response(lambda r: "/isso/new?" in r.url and r.request.method == "POST") as posted:
            page.locator("#isso-thread .isso-post-action input[type=submit]").click()
        assert posted.value.status == 202, posted.value.text()  # waiting for the writer
        cid = posted.value.json()["id"]
        page.locator(f"#isso-root #isso-{cid}").wait_for()
        assert settled_problems(page, problems) == []
        # The recorder itself works: a foreign image is a violation it sees.
        page.evaluate("() => { const img = document.createElement('img');"
                      " img.src = 'https://example.invalid/pixel.png'; document.body.append(img); }")
        page.wait_for_function("() => window.__cspViolations.length > 0")
        assert page.evaluate("window.__cspViolations[0].directive") == "img-src"

        # The writer approves it; another reader sees it in the widget, once the
        # micro-cached read the author's widget made has been refreshed: nginx
        # keeps "1s" in whole seconds, then serves it once more while it asks
        # Isso in the background (the bounds test_micro_cache… checks).
        approve_comments(stage.db, cid)
        time.sleep(max(0.0, thread_read[-1] + CACHE_PASSED - time.monotonic()))
        shown_after(stage, ESSAY_PATH, cid)
        reader, reader_problems = open_watched(browser, contexts)
        reader.goto(stage.url + ESSAY_PATH)
        show_comments(reader, stage)
        shown = reader.locator(f"#isso-root #isso-{cid}")
        shown.wait_for()
        assert COMMENT in shown.locator(".isso-text").inner_text()
        assert settled_problems(reader, reader_problems) == []

        # The home page, built before the comment: its count is refreshed live.
        status, _, home = stage.request("GET", "/")
        link = re.compile(r'data-comments="%s">\s*([^<]*)</a>' % re.escape(ESSAY_PATH))
        assert link.search(home.decode()).group(1) == "0 thoughts"
        counted_after(stage, ESSAY_PATH, 1)  # the count the essay page read, refreshed (see shown_after)
        home_page, home_problems = open_watched(browser, contexts)
        with home_page.expect_response(lambda r: r.url == stage.url + "/isso/count") as counted:
            home_page.goto(stage.url + "/")
        assert counted.value.status == 200 and counted.value.json() == [1]
        count = home_page.locator(f'a[data-comments="{ESSAY_PATH}"]')
        home_page.wait_for_function("link => link.textContent === '1 thought'", arg=count.element_handle())
        assert settled_problems(home_page, home_problems) == []
    finally:
        for context in contexts:
            context.close()

    # Rebuilt: the count is baked into the home page.
    build_site(stage.stage)
    open_threads(stage.stage.threads, STAGED_ESSAYS)  # the build listed the site's essays only
    status, _, home = stage.request("GET", "/")
    assert status == 200
    assert link.search(home.decode()).group(1) == "1 thought"


# --- Refusals ----------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["http://evil.example", "null", None, "http://127.0.0.1"])
def test_writes_from_elsewhere_are_refused_and_store_nothing(stage, origin):
    uri = "/essays/refused-origin/"
    before = comment_ids(stage.db)
    status, _, body = stage.post(uri, "A comment from another site.", origin=origin)
    assert status == 403, body[:300]
    assert comment_ids(stage.db) == before and not thread_exists(stage.db, uri)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=kizuna"])
def test_writes_that_are_not_json_are_refused_and_store_nothing(stage, content_type):
    uri = "/essays/refused-type/"
    before = comment_ids(stage.db)
    status, _, body = stage.post(uri, "A comment in a form.", content_type=content_type)
    assert status in (415, 403), body[:300]
    assert status == 415, "nginx, not Isso, should refuse it"
    assert comment_ids(stage.db) == before and not thread_exists(stage.db, uri)


def test_same_origin_json_is_accepted(stage):
    uri = "/essays/accepted/"
    status, _, body = stage.post(uri, "A comment from the site itself.")
    assert status == 202, body[:300]
    assert comment_ids(stage.db, uri) == {json.loads(body)["id"]}


def test_bodies_over_the_cap_are_refused(stage):
    uri = "/essays/refused-size/"
    before = comment_ids(stage.db)
    status, _, body = stage.post(uri, "x" * (100 * 1024))  # client_max_body_size 64k
    assert status == 413, body[:300]
    status, _, body = stage.request("POST", "/isso/count", json.dumps(["/" + "x" * 100] * 200).encode(),
                                    form_headers(stage.url))  # 20 KB; counts are capped at 16k
    assert status == 413, body[:300]
    assert comment_ids(stage.db) == before and not thread_exists(stage.db, uri)


def admin_location(config: str) -> str:
    match = re.search(r"location ~ \^/isso/\(admin\|login\)/\? \{(.*?)\n    \}", config, re.S)
    assert match, "no admin location in the rendered nginx config"
    return match.group(1)


def test_admin_only_from_the_allowed_address(stage):
    block = admin_location((stage.stage.prefix / "nginx-site.conf").read_text())
    rules = re.findall(r"^\s*(allow|deny)\s+([^;]+);", block, re.M)
    assert rules == [("allow", "127.0.0.1"), ("deny", "all")], rules

    status, headers, body = stage.request("GET", "/isso/admin/")
    assert status == 200 and b"Isso admin" in body, (status, body[:300])
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    # The same nginx, reached from another loopback address: refused.
    for method, path, body in (("GET", "/isso/admin/", None), ("POST", "/isso/login/", b"password=guess")):
        status, _, answer = stage.request(method, path, body, {"Origin": stage.url, **(
            {"Content-Type": "application/x-www-form-urlencoded"} if body else {})}, source="127.0.0.2")
        assert status == 403, (method, path, answer[:300])


def moderation_key(db: Path, cid: int) -> str:
    """The signed key in the writer's activate link (isso.Isso.sign)."""
    from itsdangerous import URLSafeTimedSerializer

    with contextlib.closing(sqlite3.connect(db)) as connection:
        key = connection.execute("SELECT value FROM preferences WHERE key = 'session-key'").fetchone()[0]
    return URLSafeTimedSerializer(key).dumps(cid)


def test_moderation_links_work_from_the_site_only(stage):
    """The writer's e-mailed link: a confirm page whose script POSTs with no
    body and no content type; nginx lets that through from the site only."""
    status, _, body = stage.post("/essays/moderated/", "Waiting for the writer's link.")
    assert status == 202, body[:300]
    cid = json.loads(body)["id"]
    path = f"/isso/id/{cid}/activate/{moderation_key(stage.db, cid)}"

    status, headers, page = stage.request("GET", path)
    assert status == 200 and b"confirm(" in page, page[:300]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    status, _, answer = stage.request("POST", path, headers={"Origin": "http://evil.example"})
    assert status == 403, answer[:300]
    status, _, answer = stage.request("POST", path, headers={"Origin": stage.url})
    assert (status, answer) == (200, b"Comment has been activated")
    assert cid in thread_comments(stage.request("GET", "/isso/?uri=%2Fessays%2Fmoderated%2F")[2])


# --- A forged X-Forwarded-For cannot lift the rate limit --------------------------

def test_forged_forwarded_for_cannot_lift_the_rate_limit(default_limit_stage):
    stage = default_limit_stage
    assert stage.commands["comments"][1]["KIZUNA_ISSO_RATELIMIT"] == "2"  # production's default
    uri = "/essays/rate-limited/"
    statuses = []
    for n, forged in enumerate(["198.51.100.7", "203.0.113.9", "192.0.2.44"], 1):  # three different /24s
        status, _, body = stage.post(uri, f"Reader number {n}, or so I say.", headers={"X-Forwarded-For": forged})
        statuses.append((status, body.decode(errors="replace")[:200]))
    assert [status for status, _ in statuses[:2]] == [202, 202], statuses
    assert statuses[2][0] == 403 and "comments in the last minute" in statuses[2][1], statuses
    with contextlib.closing(sqlite3.connect(stage.db)) as connection:
        addresses = [row[0] for row in connection.execute("SELECT remote_addr FROM comments")]
    assert addresses == ["127.0.0.0", "127.0.0.0"], f"Isso saw {addresses}, not nginx's peer (anonymised)"


# --- Load: 500 posts from 20 clients ------------------------------------------------

def post_many(port: int, origin: str, uri: str, count: int, results: list, stop_when=None, pause=0.0):
    """Post `count` comments (or until stop_when is set) over one keep-alive
    connection; append (status, id or None), or ("cut short" or "error", repr)
    when the answer is incomplete or the request fails, to results."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = form_headers(origin)
    n = 0
    try:
        while (stop_when is None and n < count) or (stop_when is not None and not stop_when.is_set()):
            n += 1
            body = json.dumps({"text": f"Comment {threading.get_ident()}-{n}, written under load.",
                               "title": "A staged essay"}).encode()
            try:
                connection.request("POST", new_path(uri), body, headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as error:
                # A worker killed between its headers and its body: nginx has
                # passed the headers on and can only cut the answer short.
                results.append(("cut short" if isinstance(error, http.client.IncompleteRead) else "error",
                                repr(error)))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                time.sleep(0.02)
                continue
            cid = json.loads(answer)["id"] if response.status in (201, 202) else None
            results.append((response.status, cid))
            if cid is None and pause:
                time.sleep(pause)
    finally:
        connection.close()


def test_500_posts_from_20_clients_are_all_stored(stage):
    uri = "/essays/under-load/"
    results: list = []
    clients = [threading.Thread(target=post_many, args=(stage.stage.port, stage.url, uri, 25, results))
               for _ in range(20)]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join(120)
    elapsed = time.monotonic() - started
    statuses = Counter(status for status, _ in results)
    assert len(results) == 500 and set(statuses) <= {201, 202}, (statuses, [r for r in results if r[0] not in (201, 202)][:5])
    ids = [cid for _, cid in results]
    assert len(set(ids)) == 500, "Isso gave the same id twice"
    assert comment_ids(stage.db, uri) == set(ids)
    print(f"500 posts through nginx in {elapsed:.1f}s ({500 / elapsed:.0f}/s)")


# --- Isso's first purge and gunicorn's fork --------------------------------------

SLOW_PURGE = """
import sqlite3, time
import isso.db.comments

original = isso.db.comments.Comments.purge

def purge(self, delta):
    # A slow first purge, as after a crash or on a busy disk: it holds
    # SQLite's write lock for a while, then purges as Isso does.
    connection = sqlite3.connect(self.db.path)
    connection.execute("BEGIN IMMEDIATE")
    time.sleep(1.5)
    connection.commit()
    connection.close()
    original(self, delta)

isso.db.comments.Comments.purge = purge
from kizuna.comments.wsgi import application  # noqa: E402
"""


def test_workers_forked_during_a_slow_purge_still_store_comments(stage, tmp_path):
    """The stage's gunicorn command and settings, on another port and
    database, with Isso's start-up purge made slow: workers forked meanwhile
    must not inherit its SQLite lock (else every post is a 500, for ever)."""
    (tmp_path / "slow_purge.py").write_text(SLOW_PURGE)
    port = free_port()
    command, environment = stage.commands["comments"]
    command = [part for part in command if not part.startswith("kizuna.comments.wsgi")] + ["slow_purge:application"]
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    environment = {**environment, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
                   "KIZUNA_ISSO_DB": str(tmp_path / "comments.db"),
                   "KIZUNA_ISSO_LISTEN": f"http://127.0.0.1:{port}"}
    with running({"comments": (command, environment)}, cwd=ROOT) as processes:
        wait_until_listening(port, processes["comments"])
        time.sleep(2)  # past the slow purge, however it ran
        statuses = []
        for n in range(3):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            body = json.dumps({"text": f"Posted after the purge, number {n}.", "title": "A staged essay"})
            connection.request("POST", "/new?uri=%2Fessays%2Fpurged%2F", body, form_headers(stage.url))
            statuses.append(connection.getresponse().status)
            connection.close()
    assert statuses == [202, 202, 202], statuses


# --- The micro-cache: reads are cached, but only for a moment -----------------------

def test_micro_cache_hits_yet_shows_an_approved_comment_within_two_seconds(stage):
    uri = "/essays/micro-cached/"
    status, _, body = stage.post(uri, "Cached for a second, then shown.")
    assert status == 202
    cid = json.loads(body)["id"]
    path = "/isso/?uri=" + urllib.parse.quote(uri, safe="")
    stage.request("GET", path)
    status, headers, body = stage.request("GET", path)
    assert status == 200 and headers["X-Cache"] == "HIT", headers["X-Cache"]
    assert cid not in thread_comments(body)

    approve_comments(stage.db, cid)
    approved = time.monotonic()
    seen = shown_after(stage, uri, cid)
    elapsed = time.monotonic() - approved
    assert elapsed < CACHE_PASSED, f"the approved comment showed after {elapsed:.2f}s: {seen}"


def fresh(stage, method: str, path: str, body=None, headers=None, clients=("plain",)) -> tuple:
    """A read through nginx as a reader gets it once nginx has asked Isso
    again: past the micro-cache's second, nginx serves its last copy once more
    (X-Cache STALE, then UPDATING) while it asks Isso in the background. Each
    kind of client in `clients` has its own copy; the last one's answer."""
    for client in clients:
        deadline = time.monotonic() + 10
        while True:
            status, answer_headers, answer = stage.request(method, path, body, {**(headers or {}), **CLIENTS[client]})
            if answer_headers.get("X-Cache") not in ("STALE", "UPDATING") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    if answer_headers.get("Content-Encoding"):
        answer = DECOMPRESS[answer_headers["Content-Encoding"]](answer)
    return status, answer_headers, answer


def counted_after(stage, uri: str, count: int, seconds: float = 5) -> list:
    """POST /isso/count as the widget does until it answers `count`."""
    started, seen = time.monotonic(), []
    while time.monotonic() - started < seconds:
        status, headers, body = stage.request("POST", "/isso/count", json.dumps([uri]).encode(),
                                              form_headers(stage.url))
        seen.append((round(time.monotonic() - started, 2), headers.get("X-Cache"), body))
        if status == 200 and json.loads(body) == [count]:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{uri} not counted {count} in {seconds} s: {seen}")


# What a reader's client asks for: nothing, gzip, or (Chromium, over HTTPS and on loopback) brotli too.
CLIENTS = {"plain": {}, "gzip": {"Accept-Encoding": "gzip, deflate"},
           "brotli": {"Accept-Encoding": "gzip, deflate, br, zstd"}}
DECOMPRESS = {"gzip": gzip.decompress, "br": brotli.decompress}


def approved_thread(stage, uri: str, comments: int = 3) -> list[int]:
    ids = []
    for n in range(comments):
        status, _, body = stage.post(uri, f"Comment {n}: " + "words worth reading, kindly. " * 40)
        assert status == 202, body
        ids.append(json.loads(body)["id"])
    approve_comments(stage.db, *ids)
    return ids


def test_browsers_get_the_copy_compressed_once_per_refresh_and_caches_the_policy(stage):
    uri = "/essays/compressed/"
    ids = approved_thread(stage, uri)
    path = "/isso/?uri=" + urllib.parse.quote(uri, safe="")
    time.sleep(CACHE_PASSED)
    _, plain_headers, plain = stage.request("GET", path)
    assert set(thread_comments(plain)) == set(ids)
    for client, encoding in (("gzip", "gzip"), ("brotli", "br")):
        answers = [stage.request("GET", path, headers=CLIENTS[client]) for _ in range(3)]
        for status, headers, body in answers:
            assert status == 200 and headers["Content-Encoding"] == encoding, (client, dict(headers))
            assert DECOMPRESS[encoding](body) == plain
        # After the first, from nginx's cache as they were stored: nginx compresses nothing itself here
        # (its own gzip is level 1, and it has no brotli filter): Isso's one copy, made at level 6.
        assert [headers["X-Cache"] for _, headers, _ in answers[1:]] == ["HIT", "HIT"]
        assert len({body for _, _, body in answers}) == 1
        if encoding == "gzip":
            assert answers[0][2] == gzip.compress(plain, compresslevel=6, mtime=0)
    # What a CDN in front is told: nginx's own one-second policy, a copy per encoding; the reader's
    # browser asks each time, so a reload shows what nginx has now, never the browser's older copy.
    for headers in (plain_headers, answers[0][1]):
        assert headers.get_all("CDN-Cache-Control") == [read_policy.CACHE_CONTROL]
        assert headers.get_all("Cache-Control") == ["no-cache"]
        assert headers.get_all("Vary") == ["Accept-Encoding"]
    assert f"max-age={read_policy.FRESH_SECONDS}," in read_policy.CACHE_CONTROL
    assert "stale-while-revalidate=" in read_policy.CACHE_CONTROL
    # Counts too, which every list page asks for.
    status, headers, body = stage.request("POST", "/isso/count", json.dumps([uri]).encode(), form_headers(stage.url))
    assert status == 200 and json.loads(body) == [len(ids)]
    assert headers.get_all("CDN-Cache-Control") == [read_policy.CACHE_CONTROL]


def test_no_reader_waits_while_isso_refreshes_a_read(stage):
    """Isso stopped dead (SIGSTOP) after the reads were cached: past the
    micro-cache's second, every kind of reader still gets the thread and the
    count at once, as they were, while nginx asks Isso in the background."""
    uri = "/essays/stale/"
    ids = approved_thread(stage, uri, comments=2)
    path = "/isso/?uri=" + urllib.parse.quote(uri, safe="")
    count = json.dumps([uri]).encode()
    time.sleep(CACHE_PASSED)
    for client in CLIENTS:
        assert stage.request("GET", path, headers=CLIENTS[client])[0] == 200
    assert json.loads(stage.request("POST", "/isso/count", count, form_headers(stage.url))[2]) == [2]
    master = stage.processes["comments"].pid
    isso = [master, *children(master)]
    for pid in isso:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(CACHE_PASSED)
        for client in CLIENTS:
            # A reader who waited for Isso would wait for ever (the timeout fails the test).
            status, headers, body = stage.request("GET", path, headers=CLIENTS[client], timeout=3)
            assert status == 200 and headers["X-Cache"] in ("STALE", "UPDATING"), (client, dict(headers))
            if headers.get("Content-Encoding"):
                body = DECOMPRESS[headers["Content-Encoding"]](body)
            assert set(thread_comments(body)) == set(ids)
        status, headers, body = stage.request("POST", "/isso/count", count, form_headers(stage.url), timeout=3)
        assert status == 200 and json.loads(body) == [2] and headers["X-Cache"] in ("STALE", "UPDATING")
    finally:
        for pid in isso:
            os.kill(pid, signal.SIGCONT)
    # Isso answers the background requests it was sent, and the next reads are fresh again.
    assert shown_after(stage, uri, ids[-1])


def shown_after(stage, uri: str, cid: int, seconds: float = 5) -> list:
    """Read a thread through nginx, as readers keep doing, until both kinds
    of client are shown comment cid (each read past the micro-cache's second
    may still get the answer before, while nginx asks Isso in the
    background; each kind's copy is refreshed on its own); the reads seen."""
    path = "/isso/?uri=" + urllib.parse.quote(uri, safe="")
    started, seen, waiting = time.monotonic(), [], set(CLIENTS)
    while time.monotonic() - started < seconds:
        for client in sorted(waiting):
            status, headers, body = stage.request("GET", path, headers=CLIENTS[client])
            if headers.get("Content-Encoding"):
                body = DECOMPRESS[headers["Content-Encoding"]](body)
            seen.append((client, round(time.monotonic() - started, 2), headers.get("X-Cache")))
            if status == 200 and cid in thread_comments(body):
                waiting.discard(client)
        if not waiting:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"comment {cid} not shown to {waiting} in {seconds} s of reads: {seen}")


# --- A crash of the comment server loses no acknowledged comment --------------------

def children(pid: int) -> list[int]:
    """Direct children of pid, from /proc/<pid>/task/*/children when the kernel has
    it, else from every process's parent in /proc/*/stat."""
    found = set()
    files = list(Path(f"/proc/{pid}/task").glob("*/children"))
    for file in files:
        found.update(int(word) for word in file.read_text().split())
    if not files:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(stat.parent.name))
    return sorted(found)


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie nobody has reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what() if callable(what) else what}")
        time.sleep(0.02)


def test_sigkill_during_a_burst_loses_no_acknowledged_comment(stage):
    uri = "/essays/crashed/"
    results: list = []
    done = threading.Event()
    clients = [threading.Thread(target=post_many, args=(stage.stage.port, stage.url, uri, 0, results, done, 0.01))
               for _ in range(10)]

    def acknowledged():
        return sum(1 for status, _ in list(results) if status in (201, 202))

    for client in clients:
        client.start()
    try:
        wait_for(lambda: acknowledged() >= 30, 30, "30 comments acknowledged before the crash")

        master = stage.processes["comments"]
        workers = children(master.pid)
        assert len(workers) == stage.stage.workers, f"gunicorn {master.pid} has children {workers}"
        for pid in [master.pid, *workers]:
            os.kill(pid, signal.SIGKILL)
        master.wait(10)
        wait_for(lambda: all(gone(pid) for pid in workers), 10, f"workers {workers} dead")
        crashed_at = len(results)

        # Down: nginx answers 502 (the clients keep posting).
        wait_for(lambda: sum(1 for status, _ in results[crashed_at:] if status == 502) >= 10, 10,
                 "nginx answering 502 while the comment server is down")

        command, environment = stage.commands["comments"]
        restarted = subprocess.Popen(command, cwd=ROOT, env=environment)
        stage.processes["comments"] = restarted  # processes.running stops it by pid at teardown
        wait_until_listening(stage.stage.isso_port, restarted)
        after = acknowledged()
        wait_for(lambda: acknowledged() >= after + 30, 30,
                 lambda: f"30 comments acknowledged after the restart (gunicorn {restarted.poll()}, "
                         f"{Counter(status for status, _ in results)}, last {results[-3:]})")
    finally:
        done.set()
        for client in clients:
            client.join(60)

    statuses = Counter(status for status, _ in results)
    # Unacknowledged, as a reader's browser would see it: 502 while Isso is
    # down, or an answer cut short when its worker died mid-reply (at most one
    # per client). Anything else (a 500, nginx refusing) is a failure.
    assert set(statuses) <= {201, 202, 502, "cut short"}, (statuses, [r for r in results if r[0] not in (201, 202, 502, "cut short")][:5])
    assert statuses["cut short"] <= len(clients), statuses
    assert statuses[502] >= 10, statuses
    ids = [cid for status, cid in results if status in (201, 202)]
    assert len(ids) == len(set(ids)), "Isso gave the same id twice"
    stored = comment_ids(stage.db, uri)
    lost = sorted(set(ids) - stored)
    assert not lost, f"{len(lost)} acknowledged comments are not in the database: {lost[:20]}"
    with contextlib.closing(sqlite3.connect(stage.db)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    print(f"crash: {dict(statuses)}; {len(ids)} acknowledged, {len(stored)} stored")


def test_the_access_log_keeps_only_the_network_part_of_an_address(stage):
    """As the privacy page says: nginx logs 127.0.0.0 for a reader at 127.0.0.5, as Isso keeps it."""
    marker = f"/essays/unresolved-desire-to-connect/?logged={time.monotonic_ns()}"
    assert stage.request("GET", marker, source="127.0.0.5")[0] == 200
    log = stage.stage.prefix / "access.log"
    deadline = time.monotonic() + 5
    while marker not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)  # nginx flushes its log every second
    (line,) = [line for line in log.read_text().splitlines() if marker in line]
    assert line.startswith("127.0.0.0 - ["), line
    assert "127.0.0.5" not in log.read_text()
