"""Kizuna's front door: every job a writer does is one `invoke` command.

Each task is a few lines that call into kizuna/, so tests can call the same
code, and tasks themselves work from Python: `tasks.build(invoke.Context())`.
"""

import contextlib
import os
import sys
from pathlib import Path

from invoke import Collection, Exit, Task, task

from kizuna import DEV_SETTINGS, OUTPUT, PROD_SETTINGS, ROOT, build as site
from kizuna.comments import settings as comment_settings
from kizuna.comments.server import isso_command
from kizuna.new_essay import new_essay
from kizuna.processes import run_until_interrupted, running, wait_until_listening
from kizuna.publish import PublishError, publish as rsync_publish
from kizuna.serve import PORT


def _build(settings, **extra_settings):
    try:
        site.build(settings, extra_settings=extra_settings)
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
    """Build, then serve site and comments until Ctrl-C."""
    def build_when_isso_listens(processes):  # so approved comments are baked in
        wait_until_listening(comments_port, processes["comments"])
        _build(DEV_SETTINGS)

    run_until_interrupted(_site_and_comments(port, comments_port), cwd=ROOT, after_start=build_when_isso_listens)


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
    """Serve site and comments, rebuilding on every change."""
    from kizuna.livereload import serve_and_watch

    comments = _site_and_comments(port, comments_port)
    del comments["site"]  # livereload serves the site itself
    with running(comments, cwd=ROOT) as processes:
        wait_until_listening(comments_port, processes["comments"])
        _build(DEV_SETTINGS)
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
    # Pages without their comments are not shipped: unlike preview, the build fails.
    _build(PROD_SETTINGS, COMMENTS_BAKE_REQUIRED=True)
    try:
        rsync_publish(dry_run=dry_run)
    except PublishError as error:
        raise Exit(str(error), code=1)


@task(help={"k": "only tests whose names match this expression"})
def test(c, k=""):
    """Run every test."""
    selection = f" -k {k!r}" if k else ""
    c.run(f"{sys.executable} -m pytest{selection}", pty=False)


@task(help={"port": "where nginx listens (127.0.0.1)", "isso_port": "where gunicorn Isso listens"})
def stage(c, port=8088, isso_port=8089):
    """Production setup on loopback: nginx + gunicorn Isso."""
    from kizuna import stage as staging

    setup = staging.Stage(port=port, isso_port=isso_port)

    def build_when_isso_listens(processes):
        wait_until_listening(isso_port, processes["comments"])
        try:
            staging.build_site(setup)
        except site.BuildError as error:
            raise Exit(str(error), code=1)
        print(f"Staged at {setup.url}/ (nginx + gunicorn Isso); Ctrl-C stops both.", flush=True)

    run_until_interrupted(staging.prepare(setup), cwd=ROOT, after_start=build_when_isso_listens)


@task
def screenshots(c):
    """Screenshot the essay page, light and dark, into docs/."""
    c.run(f"{sys.executable} -m kizuna.screenshots --out {ROOT / 'docs'}", pty=False)


@task
def bench(c):
    """Run every benchmark, printing ratios against anchors."""
    for script in sorted((ROOT / "bench").glob("*.py")):
        c.run(f"{sys.executable} {script}", pty=False)



# --- invoke comments.…: moderation, backups and export (kizuna/comments/) -----
# Each takes --db (default: $KIZUNA_ISSO_DB, else comments/data/comments.db) and
# works while Isso runs. Ids go as one argument: 12 or 12,14,15.
# Keep this block last: `ns` at its end gathers every task defined above it.

_DB = {"db": "the comment database (default: $KIZUNA_ISSO_DB, else comments/data/comments.db)"}
_DIR = {"dir": "the folder for backups (default: comments/backups/)"}
_IDS = {"ids": "comment id(s): 12 or 12,14"}


@contextlib.contextmanager
def _told():
    """A comment tool's refusal is a message and exit code 1, not a traceback."""
    from kizuna.comments.store import CommentError

    try:
        yield
    except CommentError as error:
        raise Exit(str(error), code=1)


@task(name="serve", help={"port": "where Isso listens (127.0.0.1)", "site_port": "the local site allowed to post"})
def comments_serve(c, port=comment_settings.ISSO_PORT, site_port=PORT):
    """Run Isso alone on http://127.0.0.1:8080 until Ctrl-C."""
    environment = comment_settings.development_environment(site_origin=f"http://127.0.0.1:{site_port}", port=port)
    run_until_interrupted({"comments": (isso_command(), environment)}, cwd=ROOT)


@task(name="pending", help=_DB)
def comments_pending(c, db=None):
    """List the comments waiting for approval."""
    from kizuna.comments import moderation

    with _told():
        print(moderation.listing(moderation.pending(db)))


@task(name="approve", help={**_IDS, **_DB})
def comments_approve(c, ids, db=None):
    """Publish waiting comments (and send reply notices)."""
    from kizuna.comments import moderation

    with _told():
        report = moderation.approve(ids, db)
    print("\n".join(report))
    if report.failed:  # the whole report first, then a failing exit
        raise Exit(code=1)


@task(name="delete", help={**_IDS, **_DB, **_DIR})
def comments_delete(c, ids, db=None, dir=None):
    """Back up, then delete comments."""
    from kizuna.comments import moderation

    with _told():
        print("\n".join(moderation.delete(ids, db, dir)))


@task(name="backup", help={**_DB, **_DIR})
def comments_backup(c, db=None, dir=None):
    """Snapshot the comment database, safe while Isso runs."""
    from kizuna.comments import backup

    with _told():
        print(backup.backup(db, dir))


@task(name="restore", help={"file": "a backup made by comments.backup", **_DB, **_DIR})
def comments_restore(c, file, db=None, dir=None):
    """Check a backup, back up the live DB, then restore."""
    from kizuna.comments import backup

    with _told():
        before = backup.restore(file, db, dir)
    print(f"Backed up the current comments first: {before}" if before else "There was no comment database yet.")
    print(f"Restored {file}. Restart Isso so that it starts afresh from the restored database.")


@task(name="export", help={"out": "a new file to write (default: print)", "approved_only": "leave pending comments out",
                           **_DB})
def comments_export(c, out=None, db=None, approved_only=False):
    """Every comment as JSON that `isso import` reads."""
    from kizuna.comments import export

    with _told():
        text, summary = export.export(db, out, approved_only)
    if text is not None:
        sys.stdout.write(text)
    print(summary, file=sys.stderr)


@task(name="render", help={"site_url": "the public address (default $KIZUNA_SITEURL)",
                           "out": "folder to write (default deploy/rendered)",
                           "site_root": "where the site's files live on the server",
                           "isso_upstream": "where gunicorn listens on the server"})
def deploy_render(c, site_url=None, out=None, site_root="/srv/kizuna/www", isso_upstream="127.0.0.1:8081"):
    """Write the nginx and systemd files for a real server."""
    from kizuna.deploy import Deployment, render

    site_url = site_url or os.environ.get("KIZUNA_SITEURL")
    if not site_url:
        raise Exit("Say where the site lives: --site-url https://essays.example.org (or set KIZUNA_SITEURL)", code=1)
    folder = Path(out) if out else ROOT / "deploy" / "rendered"
    for path in render(Deployment(site_url=site_url, site_root=site_root, isso_upstream=isso_upstream), folder):
        print(path)


_COMMENT_TASKS = (comments_serve, comments_pending, comments_approve, comments_delete, comments_backup, comments_restore, comments_export)
_DEPLOY_TASKS = (deploy_render,)
ns = Collection(*[t for t in list(globals().values())
                  if isinstance(t, Task) and t not in _COMMENT_TASKS + _DEPLOY_TASKS],
                Collection("comments", *_COMMENT_TASKS), Collection("deploy", *_DEPLOY_TASKS))
