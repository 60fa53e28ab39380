"""plugins/baked_comments, hardened: production bakes through the site's own
nginx (from the site's origin) and refuses to ship pages without comments;
the count on a page is the number of comments baked into it, however large
the thread; and one thread that cannot be fetched costs only its own essay.

Everything here is real: Debian's nginx in front of gunicorn Isso (the stage),
`isso run` with its SQLite database, and, for a thread that fails, a small
HTTP server on loopback standing in for Isso."""

import http.server
import json
import re
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from support import ESSAY_PATH, approve_comments, free_port, invoke, isso_post, writer_env
from kizuna.stage import build_site
from test_stage import CACHE_PASSED, RAISED_LIMITS, staged

TITLE = "Unresolved Desire to Connect"
ESSAY_FILE = Path(ESSAY_PATH.strip("/")) / "index.html"


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """nginx + gunicorn Isso on loopback, the site built against it (kizuna.stage)."""
    yield from staged(tmp_path_factory.mktemp("stage-baking"), RAISED_LIMITS)



def essay(output: Path, path: str = ESSAY_PATH) -> BeautifulSoup:
    return BeautifulSoup((output / path.strip("/") / "index.html").read_text(), "html.parser")


def heading(page: BeautifulSoup) -> str:
    return page.select_one("#comments-heading").get_text(" ", strip=True)


def listed_count(output: Path, path: str = ESSAY_PATH) -> str:
    home = BeautifulSoup((output / "index.html").read_text(), "html.parser")
    return home.select_one(f'a[data-comments="{path}"]').get_text(strip=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- Production bakes through nginx, from the site's origin ----------------------

def post_through_nginx(stage, text: str) -> int:
    body = json.dumps({"text": text, "title": TITLE}).encode()
    status, _, answer = stage.request("POST", "/isso/new?uri=" + urllib.parse.quote(ESSAY_PATH, safe=""), body,
                                      {"Origin": stage.url, "Content-Type": "application/json"})
    assert status == 202, answer[:300]  # waiting for the writer
    return json.loads(answer)["id"]


def nginx_logged(stage, pattern: str, seconds: float = 5.0) -> bool:
    """Whether nginx logged a request matching pattern (it flushes its log every second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(pattern, (stage.stage.prefix / "access.log").read_text()):
            return True
        time.sleep(0.2)
    return False


def test_publish_bakes_comments_through_the_sites_nginx(stage, repo_copy, tmp_path):
    ids = [post_through_nginx(stage, "Read at night, and answered."),
           post_through_nginx(stage, "A second thought, from the same reader.")]
    approve_comments(stage.db, *ids)
    # nginx micro-caches counts and reads for "1s", kept in whole seconds: the
    # count the stage's first build read ([0]) may be served for up to 2 s.
    time.sleep(CACHE_PASSED)

    # The stage's build reads them as production does: through nginx, not from gunicorn.
    build_site(stage.stage)
    thread_read = r'"GET /isso/\?uri=%2Fessays%2Funresolved-desire-to-connect%2F HTTP/1\.1" 200 '
    assert nginx_logged(stage, thread_read), "the stage's build did not read the thread through nginx"
    staged_page = essay(stage.stage.prefix / "www")
    assert staged_page.select_one(f"ol.comments-list[data-baked] #isso-{ids[1]}")
    assert heading(staged_page) == "Thoughts (2)"

    # `invoke publish` as the writer runs it, the site living at the stage.
    deployed = tmp_path / "deployed"
    result = invoke(repo_copy, "publish", "--allow-http", env=writer_env(KIZUNA_SITEURL=stage.url,
                                                                         KIZUNA_DEPLOY_TARGET=str(deployed)))
    assert "not baked" not in result.stdout, result.stdout
    page = essay(deployed)
    baked = page.select_one("ol.comments-list[data-baked]")
    assert baked is not None, "no comments baked into the published page"
    assert [int(li["id"].removeprefix("isso-")) for li in baked.select("li")] == ids
    assert heading(page) == "Thoughts (2)"
    assert listed_count(deployed) == "2 thoughts"


@pytest.mark.parametrize("isso", ["refusing", "unreachable"])
def test_publish_fails_without_comments_and_keeps_output(request, repo_copy, tmp_path, isso):
    if isso == "refusing":  # the stage's nginx, asked from another site's origin: 403
        stage = request.getfixturevalue("stage")
        env = writer_env(KIZUNA_SITEURL="https://writer.example", KIZUNA_ISSO_BAKE_URL=stage.url + "/isso/")
        expected = f"{stage.url}/isso/count: HTTP 403"
    else:  # nothing listens there
        site = f"http://127.0.0.1:{free_port()}"
        env = writer_env(KIZUNA_SITEURL=site)
        expected = f"{site}/isso/count: "
    output = repo_copy / "output"
    (output / "essays" / "earlier").mkdir(parents=True)
    (output / "index.html").write_text("<p>The site as it was.</p>")
    (output / "essays" / "earlier" / "index.html").write_bytes(b"<p>An earlier essay.</p>\n")
    before = snapshot(output)
    deployed = tmp_path / "deployed"

    result = invoke(repo_copy, "publish", "--allow-http", check=False,
                    env={**env, "KIZUNA_DEPLOY_TARGET": str(deployed)})

    assert result.returncode != 0, f"published without comments:\n{result.stdout}"
    assert "Comments could not be baked" in result.stdout and expected in result.stdout, result.stdout
    if isso == "unreachable":
        assert "Connection refused" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout
    assert snapshot(output) == before, "output/ changed"
    assert not deployed.exists(), "something was shipped"


def test_preview_without_isso_only_warns(repo_copy):
    site = f"http://127.0.0.1:{free_port()}"
    result = invoke(repo_copy, "preview", "--build-only", env=writer_env(KIZUNA_SITEURL=site))
    assert result.stdout.count("Comments not baked") == 1, result.stdout
    assert (repo_copy / "output" / ESSAY_FILE).exists()


# --- The count is what is baked ---------------------------------------------------

def backdate(db: Path, comment_id: int) -> None:
    """Isso refuses a reply to your own comment while you may still edit it
    (15 minutes); let that time pass."""
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE comments SET created = created - 3600 WHERE id = ?", (comment_id,))


def dev_build(repo_copy: Path, isso_url: str):
    return invoke(repo_copy, "build", env=writer_env(KIZUNA_DEV_ISSO_URL=isso_url))


def test_a_thread_of_ten_thousand_replies_is_baked_whole_and_counted_as_baked(repo_copy, isso):
    top = isso_post(isso, ESSAY_PATH, "One thought that many answered.", title=TITLE)["id"]
    approve_comments(isso.db, top)
    replies = 10_000
    with sqlite3.connect(isso.db) as db:  # the row Isso writes for an approved reply
        db.executemany(
            "INSERT INTO comments (tid, parent, created, modified, mode, remote_addr, text, author, email,"
            " website, likes, dislikes, voters, notification)"
            " SELECT tid, id, created + ?, NULL, 1, '127.0.0.0', ?, NULL, NULL, NULL, 0, 0, voters, 0"
            " FROM comments WHERE id = ?",
            [(n + 1, f"Answer number {n}.", top) for n in range(replies)])

    result = dev_build(repo_copy, isso.url + "/")
    assert "not baked" not in result.stdout, result.stdout

    html = (repo_copy / "output" / ESSAY_FILE).read_text()
    baked = re.findall(r'<li id="isso-(\d+)">', html)
    assert len(baked) == len(set(baked)) == replies + 1, f"{len(baked)} comments baked"
    assert f"Answer number {replies - 1}." in html
    count = re.search(r'<h2 id="comments-heading">Thoughts <span[^>]*>\((\d+)\)</span>', html)
    assert count and int(count.group(1)) == replies + 1
    assert listed_count(repo_copy / "output") == f"{replies + 1} thoughts"


def test_an_approved_reply_to_a_waiting_comment_is_neither_shown_nor_counted(repo_copy, isso):
    shown = isso_post(isso, ESSAY_PATH, "Approved, and shown.", title=TITLE)["id"]
    waiting = isso_post(isso, ESSAY_PATH, "Still waiting for the writer.", title=TITLE)["id"]
    backdate(isso.db, waiting)
    reply = isso_post(isso, ESSAY_PATH, "An answer to the one still waiting.", title=TITLE, parent=waiting)["id"]
    approve_comments(isso.db, shown, reply)

    dev_build(repo_copy, isso.url + "/")

    page = essay(repo_copy / "output")
    assert [li["id"] for li in page.select("ol.comments-list[data-baked] li")] == [f"isso-{shown}"]
    assert page.find(id=f"isso-{reply}") is None and page.find(id=f"isso-{waiting}") is None
    assert heading(page) == "Thoughts (1)"
    assert listed_count(repo_copy / "output") == "1 thought"


# --- One thread that fails costs only its own essay -------------------------------

ESSAYS = {  # slug → (title, what the stand-in Isso does with its thread)
    "unresolved-desire-to-connect": (TITLE, "answers"),
    "a-flaky-evening": ("A Flaky Evening", "fails once"),
    "a-silent-night": ("A Silent Night", "hangs"),
}
BAKE_TIMEOUT = 2  # seconds; the writer's setting for this test (production's is 60)


def thread(comment_id: int, text: str) -> dict:
    """A thread as Isso 0.14 answers GET /?uri=: one approved comment."""
    comment = {"id": comment_id, "parent": None, "created": 1764320400.0, "modified": None, "mode": 1,
               "text": f"<p>{text}</p>", "author": "Ren", "website": None, "likes": 0, "dislikes": 0,
               "notification": 0, "hash": "0123456789ab", "total_replies": 0, "hidden_replies": 0, "replies": []}
    return {"id": None, "total_replies": 1, "hidden_replies": 0, "replies": [comment], "config": {}}


class StandIn(http.server.BaseHTTPRequestHandler):
    """Isso's /count and thread reads: one thread answered, one failing the
    first time it is asked, one never answered in time."""
    protocol_version = "HTTP/1.0"
    seen: list  # (method, path, headers) of every request
    asked: dict

    def do_POST(self):
        self.seen.append(("POST", self.path, dict(self.headers)))
        uris = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.answer(200, [1] * len(uris))

    def do_GET(self):
        self.seen.append(("GET", self.path, dict(self.headers)))
        uri = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["uri"][0]
        slug = uri.strip("/").split("/")[-1]
        self.asked[slug] = self.asked.get(slug, 0) + 1
        behaviour = ESSAYS[slug][1]
        if behaviour == "hangs":
            time.sleep(BAKE_TIMEOUT + 1)
            return self.answer(200, thread(3, "Too late to be baked."))
        if behaviour == "fails once" and self.asked[slug] == 1:
            return self.answer(500, {"error": "database is locked"})
        self.answer(200, thread(list(ESSAYS).index(slug) + 1, f"A thought on {slug}."))

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in():
    handler = type("Handler", (StandIn,), {"seen": [], "asked": {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def test_one_failing_thread_costs_only_its_own_essay(repo_copy, stand_in):
    server, handler = stand_in
    for slug, (title, _) in ESSAYS.items():
        if slug != "unresolved-desire-to-connect":
            (repo_copy / "content" / f"{slug}.md").write_text(
                f"Title: {title}\nSlug: {slug}\nDate: 2026-11-20 09:00\n\nA few quiet words.\n")
    with (repo_copy / "pelicanconf.py").open("a") as settings:
        settings.write(f"\nCOMMENTS_BAKE_TIMEOUT = {BAKE_TIMEOUT}\n")

    result = dev_build(repo_copy, f"http://127.0.0.1:{server.server_address[1]}/")

    output = repo_copy / "output"
    for slug in ("unresolved-desire-to-connect", "a-flaky-evening"):
        page = essay(output, f"/essays/{slug}/")
        assert f"A thought on {slug}." in page.select_one("ol.comments-list[data-baked]").get_text(), slug
        assert heading(page) == "Thoughts (1)", slug
        assert listed_count(output, f"/essays/{slug}/") == "1 thought"
    silent = essay(output, "/essays/a-silent-night/")
    assert silent.select_one("ol.comments-list[data-baked]") is None and heading(silent) == "Thoughts"
    assert handler.asked == {"unresolved-desire-to-connect": 1, "a-flaky-evening": 2, "a-silent-night": 2}
    warnings = [line for line in result.stdout.splitlines() if "not baked" in line]
    assert len(warnings) == 1 and "“A Silent Night”" in warnings[0] and "a-silent-night.md" in warnings[0], warnings

    # Every request came from the development site's origin; writes said JSON.
    assert {headers.get("Origin") for _, _, headers in handler.seen} == {"http://127.0.0.1:8000"}
    assert all(headers.get("Content-Type") == "application/json" for method, _, headers in handler.seen
               if method == "POST")
    reads = [path for method, path, _ in handler.seen if method == "GET"]
    assert all(re.fullmatch(r"/\?uri=[^&]+", path) for path in reads), f"not whole threads: {reads}"
