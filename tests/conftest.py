"""Fixtures: real builds of the real site, throwaway copies of the
repository, and real servers (Isso, gunicorn, SMTP, a browser), each
stopped by its process id. Helpers live in support.py."""

import os
from pathlib import Path

import pytest

from kizuna import CONTENT, DEV_SETTINGS, PROD_SETTINGS, ROOT
from kizuna.browser import CHROMIUM, launch
from kizuna.build import build
from kizuna.processes import free_port, server
from support import (BOT_CHECK_OFF, Mailbox, copy_repository, _isso_running, gunicorn_command, live_comments_running,
                     open_threads, production_comment_environment, require_tool, serving)

# The stage and `invoke serve`, as tests start them, take this process's
# environment: their tests post straight to the API, so the bot check is off
# there (support.BOT_CHECK_OFF says why; test_bot_check.py turns it on).
os.environ.update(BOT_CHECK_OFF)


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
    return copy_repository(tmp_path / "site")


@pytest.fixture(scope="session")
def site_url(dev_site):
    """The development build served by kizuna.serve on loopback; stopped by pid."""
    yield from serving(dev_site)


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
    from kizuna.comments.settings import development_environment

    port = free_port()
    site_origin = "http://127.0.0.1:8000"
    env = development_environment(site_origin=site_origin, port=port, db=tmp_path / "data" / "comments.db",
                                  base={k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")})
    env["KIZUNA_ISSO_RATELIMIT"] = "1000"  # tests post quickly from one address
    env.update(BOT_CHECK_OFF)  # and straight to the API
    env["KIZUNA_ISSO_THREADS"] = str(open_threads(tmp_path / "comment-threads.json"))
    yield from _isso_running(env, port, site_origin, tmp_path)


@pytest.fixture
def live_comments(tmp_path):
    """The essay site and a real Isso wired together (see live_comments_running)."""
    yield from live_comments_running(tmp_path)


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free loopback port; .port, .mailbox."""
    from types import SimpleNamespace

    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SimpleNamespace(port=controller.port, mailbox=mailbox)
    finally:
        controller.stop()


@pytest.fixture
def isso_with_smtp(tmp_path, smtp):
    """Like `isso`, but mailing the writer (and readers who ask) through the
    `smtp` fixture's server; moderation links are built on the configured
    public endpoint, http://localhost:PORT (the request host is 127.0.0.1).
    Isso trusts X-Forwarded-For from loopback, so tests can post as several
    readers. Adds .mailbox and .writer (the writer's address)."""
    from kizuna.comments.settings import development_environment

    port = free_port()
    site_origin = "http://127.0.0.1:8000"
    base = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    base.update({
        "KIZUNA_SMTP_HOST": "127.0.0.1", "KIZUNA_SMTP_PORT": str(smtp.port), "KIZUNA_SMTP_SECURITY": "none",
        "KIZUNA_SMTP_TO": "writer@kizuna.test", "KIZUNA_SMTP_FROM": "Kizuna comments <comments@kizuna.test>",
        "KIZUNA_ISSO_PUBLIC_ENDPOINT": f"http://localhost:{port}", "KIZUNA_ISSO_TRUSTED_PROXIES": "127.0.0.1",
        "KIZUNA_ISSO_RATELIMIT": "1000", **BOT_CHECK_OFF,
        "KIZUNA_ISSO_THREADS": str(open_threads(tmp_path / "comment-threads.json")),
    })
    env = development_environment(site_origin=site_origin, port=port, db=tmp_path / "data" / "comments.db", base=base)
    running = _isso_running(env, port, site_origin, tmp_path)
    isso = next(running)
    isso.mailbox, isso.writer = smtp.mailbox, "writer@kizuna.test"
    try:
        yield isso
    finally:
        running.close()


@pytest.fixture(scope="module")
def comments_wsgi(tmp_path_factory):
    """Isso as production runs it: gunicorn with kizuna/comments/wsgi.py (the
    hardening middleware included) on a free loopback port; stopped by pid.
    Same attributes as `isso`."""
    from types import SimpleNamespace

    folder = tmp_path_factory.mktemp("comments-wsgi")
    port = free_port()
    env = production_comment_environment(folder, port)
    with (folder / "gunicorn.log").open("w") as log, server(gunicorn_command(port), port, env, ROOT, log):
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", db=Path(env["KIZUNA_ISSO_DB"]), env=env, port=port,
                              site_origin=env["KIZUNA_ISSO_HOST"], log=folder / "gunicorn.log")


@pytest.fixture(scope="module")
def isso_alone(tmp_path_factory):
    """`isso run` as it is (no middleware), module-wide, for comparison."""
    from kizuna.comments.settings import development_environment

    folder = tmp_path_factory.mktemp("isso-alone")
    port = free_port()
    site_origin = "http://127.0.0.1:8000"
    env = development_environment(site_origin=site_origin, port=port, db=folder / "data" / "comments.db",
                                  base={k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")})
    env["KIZUNA_ISSO_RATELIMIT"] = "1000"
    from kizuna.comments.server import raw_isso_command

    yield from _isso_running(env, port, site_origin, folder, command=raw_isso_command())
