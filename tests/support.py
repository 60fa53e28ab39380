"""What the tests share besides fixtures (those are in conftest.py): running
tasks as a writer would, real servers started and stopped by pid, and
talking to Isso and to a real SMTP server the way the site's pages do."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kizuna import CONTENT, DEV_SETTINGS, ROOT  # noqa: F401 (ROOT: tests import it from here)
from kizuna.build import build
from kizuna.processes import free_port, server  # noqa: F401 (free_port: tests import it from here)
from kizuna.serve import command as site_server

sys.path.insert(0, str(ROOT))


IN_CI = os.environ.get("CI") == "true"


# What a writer's checkout is made of; copies leave out output/, cache/, .venv.
# Real exports other systems made (a copy of shared/fixtures/imports, byte for byte, with its README).
IMPORTS = ROOT / "tests" / "fixtures" / "imports"
REPO_PARTS = ["content", "theme", "plugins", "kizuna", "comments", "deploy", "pelicanconf.py", "publishconf.py", "tasks.py"]


def require_tool(name: str) -> str:
    """The path of an external program; missing is a failure in CI, a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (./setup --dev installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def writer_env(**values) -> dict:
    """The shell of a writer who set only these KIZUNA_* variables (this machine's environment without any)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}, **values}


def watch(page) -> list[str]:
    """What goes wrong in a browser page from now on: console errors and warnings, uncaught exceptions,
    failed or refused requests (a list that fills as the page runs)."""
    problems = []
    page.on("console", lambda message: message.type in ("error", "warning")
            and problems.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400
            and problems.append(f"HTTP {response.status}: {response.request.method} {response.url}"))
    return problems


def invoke(copy: Path, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` in a repository copy, as a writer would from the shell."""
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=copy, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"invoke {' '.join(args)} failed:\n{result.stdout}")
    return result


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def serving(root: Path):
    """Serve a folder with kizuna.serve on a free loopback port; yields its
    URL, and stops the server by pid afterwards (use with `yield from`)."""
    port = free_port()
    with server(site_server(root, port), port, cwd=ROOT):
        yield f"http://127.0.0.1:{port}"


# Essays the test comment servers take comments on, {thread id: title}: the
# site's comment-threads.json as a build writes it (kizuna/comments/hardening.py
# refuses comments on any other page, and takes titles from here).
TEST_THREADS = {
    "/essays/unresolved-desire-to-connect/": "Unresolved Desire to Connect",
    "/essays/on-waiting/": "On Waiting",
    **{f"/essays/{name}/": "An Essay" for name in ("fine", "a", "after-restore", "cut-0", "cut-1", "cut-2")},
}


def open_threads(path: Path, threads: dict[str, str] | None = None) -> Path:
    """Add essays to a comment-threads.json (made if missing); return its path."""
    import json

    path = Path(path)
    known = json.loads(path.read_text())["threads"] if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"threads": {**known, **(TEST_THREADS if threads is None else threads)}}))
    return path


# The bot check (kizuna/comments/bot_check.py): every comment server a test
# starts asks for it unless its fixture says otherwise, as production does.
# isso_post and live_comments' post solve each challenge in Python, as check.js
# does in the browser (bot_check_answer), so the check stays on for them.
# Fixtures whose tests also post their own bodies straight to the API, as a
# script would, to test something else (limits, mail, hostile bodies), turn it
# off with BOT_CHECK_OFF (conftest.py also sets it in this process's
# environment, which the stage and `invoke serve` inherit). test_bot_check.py
# tests the check itself with it on, through the stage and in Chromium.
BOT_CHECK_OFF = {"KIZUNA_ISSO_BOT_CHECK": "off"}


def bot_check_answer(challenge: dict) -> str:
    """The "altcha" field for a comment: a challenge from GET /kizuna/challenge,
    solved as check.js solves it (the number whose SHA-256 after the salt is
    the challenge), in a few milliseconds."""
    import base64
    import hashlib
    import json

    target, salted = bytes.fromhex(challenge["challenge"]), hashlib.sha256(challenge["salt"].encode())
    for number in range(challenge["maxnumber"] + 1):
        attempt = salted.copy()
        attempt.update(str(number).encode())
        if attempt.digest() == target:
            return base64.b64encode(json.dumps({
                "algorithm": challenge["algorithm"], "challenge": challenge["challenge"], "number": number,
                "salt": challenge["salt"], "signature": challenge["signature"]}).encode()).decode()
    raise AssertionError(f"no number up to {challenge['maxnumber']} solves {challenge}")


def solved_bot_check(isso_url: str) -> str:
    """Ask the comment server at isso_url (Isso's address, or the site's /isso)
    for a challenge and solve it: the "altcha" field for one comment."""
    import json
    import urllib.request

    with urllib.request.urlopen(isso_url.rstrip("/") + "/kizuna/challenge", timeout=10) as response:
        return bot_check_answer(json.load(response))


def _isso_running(env, port, site_origin, tmp_path, command=None):
    from types import SimpleNamespace

    from kizuna.comments.server import isso_command

    with (tmp_path / "isso.log").open("w") as log, server(command or isso_command(), port, env, ROOT, log):
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", db=Path(env["KIZUNA_ISSO_DB"]), env=env,
                              site_origin=site_origin, log=tmp_path / "isso.log", port=port)


ESSAY_PATH = "/essays/unresolved-desire-to-connect/"


def approve_comments(db: Path, *ids: int) -> subprocess.CompletedProcess:
    """Approve comments the way the writer does: `invoke comments.approve 12,14 --db PATH`
    (one call, however many ids)."""
    result = subprocess.run([sys.executable, "-m", "invoke", "comments.approve", ",".join(map(str, ids)), "--db", str(db)],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"invoke comments.approve failed ({result.returncode}):\n{result.stdout}")
    return result


def live_comments_running(tmp_path: Path):
    """Generator behind the `live_comments` fixture (usable at any scope with a
    folder): Isso on a free port accepting posts from the site's origin, the
    development build pointed at it and baked from it (ISSO_URL and
    ISSO_BAKE_URL passed to the build as Pelican settings),
    and kizuna.serve serving that build on another free port. Isso trusts
    X-Forwarded-For from loopback, as behind the production proxy, so a test
    can post as many readers (Isso allows three top-level comments per
    address and thread). Everything is stopped by pid afterwards."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request
    from types import SimpleNamespace

    from kizuna.comments.settings import development_environment

    site_port = free_port()
    isso_port = free_port()
    while isso_port == site_port:
        isso_port = free_port()
    site_origin = f"http://127.0.0.1:{site_port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    base["KIZUNA_ISSO_RATELIMIT"] = "100000"  # tests post quickly
    base["KIZUNA_ISSO_TRUSTED_PROXIES"] = "127.0.0.1"
    output = tmp_path / "site" / "output"
    base["KIZUNA_ISSO_THREADS"] = str(output / "comment-threads.json")  # as the build below writes it
    env = development_environment(site_origin=site_origin, port=isso_port, db=tmp_path / "data" / "comments.db",
                                  base=base)
    isso_run = _isso_running(env, isso_port, site_origin, tmp_path)
    isso = next(isso_run)
    this_isso = {"ISSO_URL": isso.url + "/", "ISSO_BAKE_URL": isso.url + "/"}
    try:
        build(DEV_SETTINGS, output, CONTENT, quiet=True, extra_settings=this_isso)
        with server(site_server(output, site_port), site_port, cwd=ROOT):

            def post(text, thread=ESSAY_PATH, reader=None, **fields):
                """POST /new as a browser on the site would; returns (status, JSON body or error text)."""
                body = json.dumps({"text": text, "title": "Unresolved Desire to Connect",
                                   "altcha": solved_bot_check(isso.url), **fields}).encode()
                headers = {"Content-Type": "application/json", "Origin": site_origin}
                if reader:
                    headers["X-Forwarded-For"] = reader
                request = urllib.request.Request(f"{isso.url}/new?uri={urllib.parse.quote(thread, safe='')}",
                                                 data=body, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status, json.load(response)
                except urllib.error.HTTPError as error:
                    return error.code, error.read().decode("utf-8", "replace")

            yield SimpleNamespace(
                isso=isso, site_url=site_origin, essay_url=site_origin + ESSAY_PATH, output=output,
                essay_html=output / ESSAY_PATH.strip("/") / "index.html", post=post,
                approve=lambda *ids: approve_comments(isso.db, *ids),
                rebuild=lambda: build(DEV_SETTINGS, output, CONTENT, quiet=True, extra_settings=this_isso),
            )
    finally:
        isso_run.close()


def isso_request(isso, method: str, path: str, body=None, headers=None, reader: str | None = None):
    """One request to a running Isso as the site's pages make it; returns
    (status, body bytes). `reader` becomes X-Forwarded-For (an Isso that
    trusts loopback as its proxy then sees that reader's address); a body
    that is an iterable of bytes goes chunked."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", isso.port, timeout=15)
    headers = {"Origin": isso.site_origin, **(headers or {})}
    if reader:
        headers["X-Forwarded-For"] = reader
    try:
        chunked = body is not None and not isinstance(body, (bytes, str))  # an iterable: send it chunked
        connection.request(method, path, body=body, headers=headers, encode_chunked=chunked)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def isso_post(isso, uri: str, text: str, reader: str | None = None, **fields) -> dict:
    """POST /new as the comment form does, the bot check solved as the page
    solves it (where the server has one); the new comment (Isso's JSON)."""
    import json
    import urllib.parse

    status, challenge = isso_request(isso, "GET", "/kizuna/challenge")
    check = {"altcha": bot_check_answer(json.loads(challenge))} if status == 200 else {}  # bare Isso: 404
    body = json.dumps({"text": text, "title": fields.pop("title", "An Essay"), **check, **fields}).encode()
    status, answer = isso_request(isso, "POST", f"/new?uri={urllib.parse.quote(uri, safe='')}", body,
                                  {"Content-Type": "application/json"}, reader)
    assert status in (201, 202), (status, answer)
    return json.loads(answer)


def isso_thread(isso, uri: str) -> dict[int, dict]:
    """What readers see of a thread (GET /?uri=): public comments by id, replies included."""
    import urllib.parse

    status, answer = isso_request(isso, "GET", f"/?uri={urllib.parse.quote(uri, safe='')}")
    if status == 404:  # no such thread (yet, or any more)
        return {}
    assert status == 200, (status, answer)
    return thread_comments(answer)


def thread_comments(body: bytes) -> dict[int, dict]:
    """The public comments in Isso's GET /?uri= answer, by id, replies included."""
    import json

    shown, todo = {}, list(json.loads(body)["replies"])
    while todo:
        comment = todo.pop()
        shown[comment["id"]] = comment
        todo.extend(comment.get("replies", []))
    return shown


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        import threading

        self.messages = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, predicate, seconds: float = 10.0):
        """The first message for which predicate(message, body) is true, waiting for it to arrive."""
        import time

        deadline = time.monotonic() + seconds
        with self._changed:
            while True:
                for message in self.messages:
                    if predicate(message, message.get_body().get_content()):
                        return message
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    subjects = [(m["To"], m["Subject"]) for m in self.messages]
                    raise AssertionError(f"no such mail within {seconds}s; got {subjects}")


def production_comment_environment(folder: Path, port: int) -> dict[str, str]:
    """What a writer sets in production (README, 'Comments'), on loopback:
    fresh secrets, a database under folder, no mail actually sent."""
    import secrets

    (folder / "data").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update({
        "KIZUNA_ISSO_DB": str(folder / "data" / "comments.db"),
        "KIZUNA_ISSO_THREADS": str(open_threads(folder / "comment-threads.json")),
        "KIZUNA_ISSO_HOST": f"http://127.0.0.1:{free_port()}",  # the site; nothing listens there
        "KIZUNA_ISSO_LISTEN": f"http://127.0.0.1:{port}",
        "KIZUNA_ISSO_PUBLIC_ENDPOINT": f"http://127.0.0.1:{port}",
        "KIZUNA_ISSO_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "KIZUNA_ISSO_SALT": secrets.token_hex(16),
        "KIZUNA_SMTP_HOST": "127.0.0.1", "KIZUNA_SMTP_PORT": str(free_port()), "KIZUNA_SMTP_SECURITY": "none",
        "KIZUNA_SMTP_TO": "writer@kizuna.test", "KIZUNA_SMTP_FROM": "Kizuna comments <comments@kizuna.test>",
        "KIZUNA_ISSO_NOTIFY": "stdout", "KIZUNA_ISSO_REPLY_NOTIFICATIONS": "false",
        "KIZUNA_ISSO_RATELIMIT": "1000",  # tests post quickly from one address
        **BOT_CHECK_OFF,  # and straight to the API
    })
    return env


def gunicorn_command(port: int) -> list[str]:
    """Production's command line (kizuna.comments.server), one worker, on loopback."""
    from kizuna.comments import server as comment_server

    return comment_server.gunicorn_command(f"127.0.0.1:{port}", workers=1)


def copy_repository(copy: Path) -> Path:
    """A private copy of the writer's checkout at `copy` (REPO_PARTS: no
    output/, cache/ or .venv), so tasks can write to content/ and output/."""
    copy.mkdir(parents=True, exist_ok=True)
    for part in REPO_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part,
                            ignore=shutil.ignore_patterns("__pycache__", "data", "backups", "rendered"))
        else:
            shutil.copy2(source, copy / part)
    return copy


def tree_digest(folder: Path) -> str:
    """One hash of every path and file under folder: equal means untouched."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()
