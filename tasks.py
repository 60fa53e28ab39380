"""Kizuna's front door: every job a writer does is one `invoke` command.

Each task is a few lines that call into kizuna/, so tests can call the same
code, and tasks themselves work from Python: `tasks.build(invoke.Context())`.
"""

import os
import sys

from invoke import Collection, Exit, task

from kizuna import DEV_SETTINGS, OUTPUT, PROD_SETTINGS, ROOT, build as site
from kizuna.comments import settings as comment_settings
from kizuna.comments.server import isso_command
from kizuna.new_essay import new_essay
from kizuna.processes import run_until_interrupted, running
from kizuna.publish import PublishError, publish as rsync_publish
from kizuna.serve import PORT


def _build(settings):
    try:
        site.build(settings)
    except site.BuildError as error:
        raise Exit(str(error), code=1)


def _site_server(port=PORT):
    return [sys.executable, "-m", "kizuna.serve", "--root", str(OUTPUT), "--port", str(port)]


@task
def build(c):
    """Build into output/ with development settings (drafts too)."""
    _build(DEV_SETTINGS)


@task
def clean(c):
    """Remove output/ and the content cache."""
    site.clean()


@task(pre=[clean])
def rebuild(c):
    """Clean, then build from scratch."""
    _build(DEV_SETTINGS)


@task
def regenerate(c):
    """Rebuild output/ on every change (no server)."""
    c.run(f"{sys.executable} -m pelican content -s {DEV_SETTINGS} -o {OUTPUT} --autoreload", pty=False)


def _site_and_comments(port, comments_port):
    """The site and Isso side by side; Isso accepts posts from this site's
    origin, and the pages (built after this) point at this Isso."""
    os.environ["KIZUNA_DEV_ISSO_URL"] = f"http://127.0.0.1:{comments_port}/"
    environment = comment_settings.development_environment(site_origin=f"http://127.0.0.1:{port}",
                                                           port=comments_port)
    return {"site": (_site_server(port), None), "comments": (isso_command(), environment)}


@task
def serve(c, port=PORT, comments_port=comment_settings.ISSO_PORT):
    """Build, then serve site and comments on 127.0.0.1 until Ctrl-C."""
    servers = _site_and_comments(port, comments_port)
    _build(DEV_SETTINGS)
    run_until_interrupted(servers, cwd=ROOT)


@task
def reserve(c, port=PORT, comments_port=comment_settings.ISSO_PORT):
    """Same as serve (the name Pelican users know)."""
    serve(c, port, comments_port)


@task
def preview(c):
    """Build into output/ with production settings."""
    _build(PROD_SETTINGS)


@task
def livereload(c, port=PORT, comments_port=comment_settings.ISSO_PORT):
    """Serve site and comments; rebuild and reload on every change."""
    from kizuna.livereload import serve_and_watch

    comments = _site_and_comments(port, comments_port)
    del comments["site"]  # livereload serves the site itself
    _build(DEV_SETTINGS)
    with running(comments, cwd=ROOT):
        serve_and_watch(lambda: _build(DEV_SETTINGS), port=port)


@task(help={"title": "the essay's title", "tags": "comma-separated tags"})
def new(c, title, tags=""):
    """Start a draft essay: invoke new "Title"."""
    try:
        print(f"Created {new_essay(title, tags=tags).relative_to(ROOT)}")
    except (FileExistsError, ValueError) as error:
        raise Exit(str(error), code=1)


@task(help={"dry_run": "show what rsync would change without changing it"})
def publish(c, dry_run=False):
    """Production build, then rsync to $KIZUNA_DEPLOY_TARGET."""
    _build(PROD_SETTINGS)
    try:
        rsync_publish(dry_run=dry_run)
    except PublishError as error:
        raise Exit(str(error), code=1)


@task(help={"k": "only tests whose names match this expression"})
def test(c, k=""):
    """Run every test."""
    selection = f" -k {k!r}" if k else ""
    c.run(f"{sys.executable} -m pytest{selection}", pty=False)


@task
def screenshots(c):
    """Screenshot the essay page, light and dark, into docs/."""
    c.run(f"{sys.executable} -m kizuna.screenshots --out {ROOT / 'docs'}", pty=False)


@task
def bench(c):
    """Run every benchmark, printing ratios against anchors."""
    for script in sorted((ROOT / "bench").glob("*.py")):
        c.run(f"{sys.executable} {script}", pty=False)
