"""Shared fixtures: real builds of the real site, and throwaway copies of the
repository for tests that change content or run tasks as a writer would."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kizuna import CONTENT, DEV_SETTINGS, PROD_SETTINGS, ROOT
from kizuna.browser import CHROMIUM, CHROMIUM_ARGS, launch  # noqa: F401 (re-exported for tests)
from kizuna.build import build
from kizuna.processes import wait_until_listening  # noqa: F401 (tests import it from here)

sys.path.insert(0, str(ROOT))
IN_CI = os.environ.get("CI") == "true"
# What a writer's checkout is made of; copies leave out output/, cache/, .venv.
REPO_PARTS = ["content", "theme", "plugins", "kizuna", "comments", "pelicanconf.py", "publishconf.py", "tasks.py"]


def require_tool(name: str) -> str:
    """The path of an external program; missing is a failure in CI, a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (./setup --dev installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def dev_site(tmp_path_factory) -> Path:
    """output/ of a development build of the repository's own content."""
    return build(DEV_SETTINGS, tmp_path_factory.mktemp("dev") / "output", CONTENT, quiet=True)


@pytest.fixture(scope="session")
def prod_site(tmp_path_factory) -> Path:
    """output/ of a production build (publishconf.py) of the repository's content."""
    return build(PROD_SETTINGS, tmp_path_factory.mktemp("prod") / "output", CONTENT, quiet=True)


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """A private copy of the writer's checkout, so tasks can write to content/ and output/."""
    copy = tmp_path / "site"
    copy.mkdir()
    for part in REPO_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__", "data", "backups"))
        else:
            shutil.copy2(source, copy / part)
    return copy


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


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def site_url(dev_site):
    """The development build served by kizuna.serve on loopback; stopped by pid."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kizuna.serve", "--root", str(dev_site), "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def isso(tmp_path):
    """A real Isso server (comments/isso.cfg, `isso run`) on a free loopback
    port with its own database under tmp_path; stopped by pid afterwards.
    Yields an object with .url, .db, .env (the expanded environment) and
    .site_origin (the origin allowed to post)."""
    from types import SimpleNamespace

    from kizuna.comments.server import isso_command
    from kizuna.comments.settings import development_environment

    port = free_port()
    site_origin = "http://127.0.0.1:8000"
    env = development_environment(site_origin=site_origin, port=port, db=tmp_path / "data" / "comments.db",
                                  base={k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")})
    env["KIZUNA_ISSO_RATELIMIT"] = "1000"  # tests post quickly from one address
    yield from _isso_running(env, port, site_origin, tmp_path)


def _isso_running(env, port, site_origin, tmp_path):
    from types import SimpleNamespace

    from kizuna.comments.server import isso_command

    log = (tmp_path / "isso.log").open("w")
    server = subprocess.Popen(isso_command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(port, server)
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", db=Path(env["KIZUNA_ISSO_DB"]), env=env,
                              site_origin=site_origin, log=tmp_path / "isso.log", port=port)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
