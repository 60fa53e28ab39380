"""`invoke serve` serves the built site on loopback and stops cleanly by
process id; `invoke publish` ships output/ with rsync and never touches
comment data on the server."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from support import free_port, invoke, require_tool


def wait_for(url: str, seconds: float = 30.0, status: int = 200):
    """The response once the server answers with `status` (the site server
    starts before the first build lands, answering 404 until then)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError as error:
            response = error
        except OSError:
            response = None
        if response is not None and response.status == status:
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer {status} within {seconds}s")
        time.sleep(0.2)


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_runs_site_and_comments_and_stops_both_by_pid(repo_copy):
    port, comments_port = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "invoke", "serve", "--port", str(port),
                               "--comments-port", str(comments_port)],
                              cwd=repo_copy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = wait_for(f"http://127.0.0.1:{port}/essays/unresolved-desire-to-connect/")
        assert page.status == 200
        html = page.read().decode()
        assert "Unresolved Desire to Connect" in html
        assert f'data-isso="http://127.0.0.1:{comments_port}/"' in html  # the page talks to this Isso
        missing = wait_for(f"http://127.0.0.1:{port}/no/such/page/", status=404)
        assert missing.code == 404
        assert "This page is not here" in missing.read().decode()
        # Isso answers, and accepts a comment from the local site's origin.
        wait_for(f"http://127.0.0.1:{comments_port}/config")
        request = urllib.request.Request(
            f"http://127.0.0.1:{comments_port}/new?uri=%2Fessays%2Funresolved-desire-to-connect%2F",
            data=b'{"text": "A first thought, from the local site.", "title": "Unresolved"}',
            headers={"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}"})
        assert urllib.request.urlopen(request).status == 202  # waiting for moderation
        assert (repo_copy / "comments/data/comments.db").is_file()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
    assert not port_is_open(port), "the site server outlived invoke serve"
    assert not port_is_open(comments_port), "Isso outlived invoke serve"


@pytest.fixture
def server_folder(tmp_path):
    """A stand-in for the web server's folder, holding comment data that must survive."""
    folder = tmp_path / "www"
    (folder / "comments" / "data").mkdir(parents=True)
    (folder / "comments" / "data" / "comments.db").write_bytes(b"precious")
    (folder / "stale.html").write_text("from an older publish")
    return folder


def test_publish_dry_run_changes_nothing(repo_copy, server_folder, isso):
    require_tool("rsync")
    result = invoke(repo_copy, "publish", "--dry-run", env=_env(server_folder, isso))
    assert "essays/unresolved-desire-to-connect/index.html" in result.stdout
    assert sorted(p.name for p in server_folder.iterdir()) == ["comments", "stale.html"]


def test_publish_ships_site_and_keeps_comment_data(repo_copy, server_folder, isso):
    require_tool("rsync")
    (repo_copy / "content" / "extra" / "comments").mkdir()
    (repo_copy / "content" / "extra" / "comments" / "leak.db").write_text("must not ship")
    invoke(repo_copy, "publish", env=_env(server_folder, isso))
    assert (repo_copy / "output/extra/comments/leak.db").is_file()  # built, yet not shipped: a database file
    assert (server_folder / "essays/unresolved-desire-to-connect/index.html").is_file()
    assert "https://writer.example" in (server_folder / "index.html").read_text()
    assert (server_folder / "comments/data/comments.db").read_bytes() == b"precious"
    assert not (server_folder / "stale.html").exists()  # --delete keeps the site exact
    assert not list(server_folder.rglob("leak.db"))


def test_publish_without_target_says_what_to_set(repo_copy, isso):
    env = _env(None, isso)
    result = invoke(repo_copy, "publish", check=False, env=env)
    assert result.returncode != 0 and "KIZUNA_DEPLOY_TARGET" in result.stdout


def _env(folder, isso):
    """Publishing as the writer does; comments are baked from a real Isso
    (a publish that cannot bake them ships nothing)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env["KIZUNA_SITEURL"] = "https://writer.example"
    env["KIZUNA_ISSO_BAKE_URL"] = isso.url + "/"
    if folder is not None:
        env["KIZUNA_DEPLOY_TARGET"] = str(folder)
    return env
