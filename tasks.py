"""Kizuna's front door: every job a writer does is one `invoke` command.

Each task is a few lines that call into kizuna/, so tests can call the same
code, and tasks themselves work from Python: `tasks.build(invoke.Context())`.
`ns` at the end is the list of commands; a task not named there does not exist.
"""

import socket
import sys
from pathlib import Path

import invoke
from invoke import Collection, Exit

from kizuna import CONTENT, DEV_SETTINGS, OUTPUT, PROD_SETTINGS, ROOT, build as site, init as setup, publish as publishing
from kizuna.comments import settings as comment_settings
from kizuna.comments.server import isso_command
from kizuna.errors import KizunaError
from kizuna.new_essay import new_essay
from kizuna.processes import run_until_interrupted, running, wait_until_listening
from kizuna.serve import PORT, command as site_server
from kizuna.settings import is_site_address, site_value


# --- How a task fails: a writer's mistake is a message and exit code 1 --------

class _WriterTask(invoke.Task):
    """Every task: a KizunaError is told in its own words, with no traceback
    (anything else is Kizuna's bug and keeps its traceback)."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except KizunaError as error:
            raise Exit(str(error), code=1) from None


def task(*args, **kwargs):
    return invoke.task(*args, klass=_WriterTask, **kwargs)


def _free(port, option):
    """Refuse before starting a server whose port another program holds; the
    server itself would fail later, with a traceback, or not at all."""
    if not 0 < port < 65536:
        raise KizunaError(f"{port} is not a port: choose one from 1024 to 65535 with {option}")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a just-stopped server's port is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise KizunaError(f"Port {port} is in use by another program (another `invoke serve`?): stop it, "
                              f"or choose another port with {option} {port + 1}") from None


def _listening(port, process, name):
    try:
        wait_until_listening(port, process)
    except (RuntimeError, TimeoutError) as error:
        raise KizunaError(f"{name} did not start: {error}. Its own messages are above.") from None


# Options several tasks share (the comment tasks, and the import, which brings comments in).
_DB = {"db": "the comment database (default: $KIZUNA_ISSO_DB, else comments/data/comments.db)"}
_DIR = {"dir": "the folder for backups (default: comments/backups/)"}
_IDS = {"ids": "comment id(s): 12 or 12,14"}


# --- Making the site your own ----------------------------------------------------

@task(help={"name": "the site's name", "author": "your name, as essays are signed",
            "url": "the site's public address, https://…", "language": "the site's language: en, ja, pt-BR…"})
def init(c, name=None, author=None, url=None, language=None):
    """Make the site your own: name, author, URL, language."""
    given = {"KIZUNA_SITENAME": name, "KIZUNA_AUTHOR": author, "KIZUNA_SITEURL": url, "KIZUNA_LANG": language}
    ask = setup.ask_on_terminal if sys.stdin is not None and sys.stdin.isatty() else None  # else: current values
    print("\n".join(setup.init(given, ask)))


# --- Building ------------------------------------------------------------------

@task
def build(c):
    """Build into output/ with development settings (drafts too)."""
    site.build(DEV_SETTINGS)


@task
def clean(c):
    """Remove output/ and the content cache."""
    site.clean()


@task(pre=[clean])
def rebuild(c):
    """Clean, then build from scratch."""
    site.build(DEV_SETTINGS)


@task
def regenerate(c):
    """Rebuild output/ on every change (no server)."""
    c.run(f"{sys.executable} -m pelican content -s {DEV_SETTINGS} -o {OUTPUT} --autoreload", pty=False)


@task(help={"port": "where to serve it (127.0.0.1)",
            "build_only": "only build into output/, linked to the public address, as publish would",
            "at": "build as if it were this time (e.g. \"2026-12-24 08:00\"): scheduled essays due by then appear"})
def preview(c, port=PORT, build_only=False, at=None):
    """Production build, served on 127.0.0.1 until Ctrl-C."""
    clock = site.clock_settings(at)
    if build_only:
        site.build(PROD_SETTINGS, extra_settings=clock)
        return
    _free(port, "--port")
    here = f"http://127.0.0.1:{port}"
    isso = site_value("KIZUNA_DEV_ISSO_URL")  # `invoke comments.serve` runs it, if you want comments

    def build_addressed_here(processes):  # links to this address, not the public one, so it can be looked at
        site.build(PROD_SETTINGS, extra_settings={"SITEURL": here, "FEED_DOMAIN": here,
                                                  "ISSO_URL": isso, "ISSO_BAKE_URL": isso, **clock})
        print(f"The production build, at {here}/ (Ctrl-C stops). `invoke stage` runs all of production.", flush=True)

    run_until_interrupted({"site": (site_server(OUTPUT, port), None)}, cwd=ROOT, after_start=build_addressed_here)


@task(help={"title": "the essay's title", "tags": "comma-separated tags"})
def new(c, title, tags=""):
    """Start a draft essay: invoke new "Title"."""
    print(f"Created {new_essay(title, tags=tags).relative_to(ROOT)}")


@task(name="import", positional=["kind", "export"],
      help={"kind": "what the export comes from: wordpress", "export": "the export file (WordPress: Tools → Export)",
            "content": "where essays go (default content/)",
            "media": "the blog's uploads folder (wp-content/uploads): images found there are copied in",
            "dry_run": "say what would happen, write nothing", **_DB})
def import_(c, kind, export, content=None, media=None, dry_run=False, db=None):
    """Move in: invoke import wordpress EXPORT.xml (posts, pages, comments)."""
    from kizuna.importing import comments
    from kizuna.importing.essays import import_wordpress

    if kind != "wordpress":
        raise KizunaError(f"Kizuna imports from wordpress (not {kind!r}): invoke import wordpress EXPORT.xml")
    from kizuna.importing.essays import REPORT_NAME
    from kizuna.redirects import summary

    content = Path(content) if content else CONTENT
    print(import_wordpress(Path(export), content, media, dry_run).text(), end="")
    more = f"{comments.import_wordpress(Path(export), content, db, dry_run=dry_run)}\n{summary(content)}\n"
    print(more, end="")
    if not dry_run:  # the report file tells all of it too
        with (content.parent / REPORT_NAME).open("a", encoding="utf-8") as report:
            report.write("\n" + more)


# --- Serving while you write ---------------------------------------------------

def _site_and_comments(port, comments_port):
    """The site and Isso side by side, Isso taking posts from this site's origin."""
    environment = comment_settings.development_environment(site_origin=f"http://127.0.0.1:{port}",
                                                           port=comments_port)
    return {"site": (site_server(OUTPUT, port), None), "comments": (isso_command(), environment)}


def _isso_at(comments_port):
    """A development build's settings: its pages use, and bake from, the Isso on comments_port."""
    isso = f"http://127.0.0.1:{comments_port}/"
    return {"ISSO_URL": isso, "ISSO_BAKE_URL": isso}


def _build_for(comments_port):
    site.build(DEV_SETTINGS, extra_settings=_isso_at(comments_port))


@task
def serve(c, port=PORT, comments_port=comment_settings.ISSO_PORT):
    """Build, then serve site and comments until Ctrl-C."""
    _free(port, "--port")
    _free(comments_port, "--comments-port")

    def build_when_isso_listens(processes):  # so approved comments are baked in
        _listening(comments_port, processes["comments"], "Isso")
        _build_for(comments_port)

    run_until_interrupted(_site_and_comments(port, comments_port), cwd=ROOT, after_start=build_when_isso_listens)


@task
def reserve(c, port=PORT, comments_port=comment_settings.ISSO_PORT):
    """Same as serve (the name Pelican users know)."""
    serve(c, port, comments_port)


@task
def livereload(c, port=PORT, comments_port=comment_settings.ISSO_PORT):
    """Serve site and comments, rebuilding on every change."""
    from kizuna.livereload import serve_and_watch

    _free(port, "--port")
    _free(comments_port, "--comments-port")
    comments = _site_and_comments(port, comments_port)
    del comments["site"]  # livereload serves the site itself
    with running(comments, cwd=ROOT) as processes:
        _listening(comments_port, processes["comments"], "Isso")
        serve_and_watch(_isso_at(comments_port), port=port)


# --- Publishing ------------------------------------------------------------------

@task(help={"dry_run": "show what would change (rsync, or object storage) without changing it",
            "allow_http": "publish at an http:// address (a local network, a test)"})
def publish(c, dry_run=False, allow_http=False):
    """Production build, then rsync or upload (s3://) to $KIZUNA_DEPLOY_TARGET."""
    publishing.ready(allow_http=allow_http)  # a missing target or a wrong address is said before the build
    # Pages without their comments are not shipped: unlike preview, the build fails.
    site.build(PROD_SETTINGS, extra_settings={"COMMENTS_BAKE_REQUIRED": True})
    publishing.publish(dry_run=dry_run)


@task(help={"port": "where nginx listens (127.0.0.1)", "isso_port": "where gunicorn Isso listens"})
def stage(c, port=8088, isso_port=8089):
    """Production setup on loopback: nginx + gunicorn Isso."""
    from kizuna import stage as staging

    _free(port, "--port")
    _free(isso_port, "--isso-port")
    setup = staging.Stage(port=port, isso_port=isso_port)
    try:
        servers = staging.prepare(setup)
    except RuntimeError as error:  # nginx is not installed
        raise KizunaError(str(error)) from None

    def build_when_isso_listens(processes):
        _listening(isso_port, processes["comments"], "gunicorn Isso")
        _listening(port, processes["nginx"], "nginx")
        staging.build_site(setup)
        print(f"Staged at {setup.url}/ (nginx + gunicorn Isso); Ctrl-C stops both.", flush=True)

    run_until_interrupted(servers, cwd=ROOT, after_start=build_when_isso_listens)


# --- Checking the work -----------------------------------------------------------

@task(help={"k": "only tests whose names match this expression"})
def test(c, k=""):
    """Run every test."""
    selection = f" -k {k!r}" if k else ""
    c.run(f"{sys.executable} -m pytest{selection}", pty=False)


@task
def bench(c):
    """Run every benchmark, printing ratios against anchors."""
    for script in sorted((ROOT / "bench").glob("*.py")):
        c.run(f"{sys.executable} {script}", pty=False)


@task
def screenshots(c):
    """Screenshot the essay page, light and dark, into docs/."""
    c.run(f"{sys.executable} -m kizuna.screenshots --out {ROOT / 'docs'}", pty=False)


# --- invoke comments.…: moderation, backups and export (kizuna/comments/) -----
# Each takes --db (default: $KIZUNA_ISSO_DB, else comments/data/comments.db) and
# works while Isso runs. Ids go as one argument: 12 or 12,14,15.

@task(name="serve", help={"port": "where Isso listens (127.0.0.1)", "site_port": "the local site allowed to post"})
def comments_serve(c, port=comment_settings.ISSO_PORT, site_port=PORT):
    """Run Isso alone on http://127.0.0.1:8080 until Ctrl-C."""
    _free(port, "--port")
    environment = comment_settings.development_environment(site_origin=f"http://127.0.0.1:{site_port}", port=port)
    run_until_interrupted({"comments": (isso_command(), environment)}, cwd=ROOT)


@task(name="pending", help=_DB)
def comments_pending(c, db=None):
    """Show each waiting comment whole, with its essay."""
    from kizuna.comments import writer

    print(writer.waiting(db))


@task(name="show", help={"id": "a comment's id", **_DB})
def comments_show(c, id, db=None):
    """Show one comment whole, with its essay."""
    from kizuna.comments import writer

    print(writer.show(int(id), db))


@task(name="reply", help={"id": "the comment to answer", "text": "your reply (Markdown)", **_DB})
def comments_reply(c, id, text, db=None):
    """Answer a comment as the writer, marked as yours."""
    from kizuna.comments import writer

    print("\n".join(writer.reply(int(id), text, db)))


@task(name="approve", help={**_IDS, **_DB})
def comments_approve(c, ids, db=None):
    """Publish waiting comments (and send reply notices)."""
    from kizuna.comments import moderation

    report = moderation.approve(ids, db)
    if report.failed:  # every id was handled; the report says which notice did not go
        raise KizunaError("\n".join(report))
    print("\n".join(report))


@task(name="delete", help={**_IDS, **_DB, **_DIR})
def comments_delete(c, ids, db=None, dir=None):
    """Back up, then delete comments."""
    from kizuna.comments import moderation

    print("\n".join(moderation.delete(ids, db, dir)))


@task(name="purge", help={**_DB, **_DIR})
def comments_purge(c, db=None, dir=None):
    """Clear old e-mail and network addresses, and old backups."""
    from kizuna.comments import retention

    print("\n".join(retention.purge_now(db, dir)))


@task(name="backup", help={**_DB, **_DIR})
def comments_backup(c, db=None, dir=None):
    """Snapshot the comment database, safe while Isso runs."""
    from kizuna.comments import backup

    print(backup.backup(db, dir))


class _FileOrReplica(_WriterTask):
    """comments.restore FILE, or comments.restore --from-replica with no FILE:
    invoke's parser knows no optional positional argument, so FILE is one
    unless the command line asks for the replica."""

    def get_arguments(self, *args, **kwargs):
        arguments = super().get_arguments(*args, **kwargs)
        if "--from-replica" in sys.argv:
            for argument in arguments:
                argument.positional = argument.positional and argument.name != "file"
        return arguments


@invoke.task(name="restore", positional=["file"], klass=_FileOrReplica,
             help={"file": "a backup made by comments.backup", "from_replica": "restore from the live replica "
                   "($KIZUNA_COMMENTS_REPLICA) instead; refused while Isso or a replication runs",
                   "at": "with --from-replica: the replica as it was then, \"2026-11-29 08:00\" (local time) or ISO 8601",
                   **_DB, **_DIR})
def comments_restore(c, file=None, db=None, dir=None, from_replica=False, at=None):
    """Check a backup (or the replica), back up the live DB, then restore."""
    from kizuna.comments import backup, replica

    if (file is None) == (not from_replica):
        raise KizunaError("Restore from one place: a backup file (invoke comments.restore FILE) or the replica "
                          "(invoke comments.restore --from-replica [--at TIME]).")
    if at and not from_replica:
        raise KizunaError("--at chooses a time in the replica: use it with --from-replica.")
    if from_replica:
        before = replica.restore_from_replica(db, at, dir)
        file = f"the replica {replica.configured()}" + (f" as it was at {at}" if at else "")
    else:
        before = backup.restore(file, db, dir)
    print(f"Backed up the current comments first: {before}" if before else "There was no comment database yet.")
    print(f"Restored {file}. Restart Isso so that it starts afresh from the restored database.")


@task(name="replicate", help=_DB)
def comments_replicate(c, db=None):
    """Stream the comment DB to its replica (Litestream) until Ctrl-C."""
    from kizuna.comments import replica

    with replica.replication(db) as (command, environment):
        run_until_interrupted({"litestream": (command, environment)}, cwd=ROOT)


@task(name="export", help={"out": "a new file to write (default: print)", "approved_only": "leave pending comments out",
                           **_DB})
def comments_export(c, out=None, db=None, approved_only=False):
    """Every comment as JSON that `isso import` reads."""
    from kizuna.comments import export

    text, summary = export.export(db, out, approved_only)
    if text is not None:
        sys.stdout.write(text)
    print(summary, file=sys.stderr)


@task(name="import", positional=["kind", "export"],
      help={"kind": "disqus", "export": "the export file", "dry_run": "say what would be brought in, write nothing",
            **_DB, **_DIR})
def comments_import(c, kind, export, dry_run=False, db=None, dir=None):
    """Bring readers' comments in from a Disqus export, by the essays' addresses."""
    from kizuna.importing import comments

    print(comments.import_disqus(kind, Path(export), db, dry_run=dry_run, backups=dir))


# --- invoke deploy.…: a real server ----------------------------------------------

@task(name="render", help={"site_url": "the public address (default $KIZUNA_SITEURL)",
                           "out": "folder to write (default deploy/rendered)",
                           "site_root": "where the site's files live on the server",
                           "isso_upstream": "where gunicorn listens on the server"})
def deploy_render(c, site_url=None, out=None, site_root="/srv/kizuna/www", isso_upstream="127.0.0.1:8081"):
    """Write the nginx and systemd files for a real server."""
    from kizuna.deploy import Deployment, render

    site_url = site_url or site_value("KIZUNA_SITEURL")  # the environment's, else site.env's (invoke init)
    if not site_url or not is_site_address(site_url):
        raise KizunaError("Say where the site lives, from https:// on: --site-url https://essays.example.org "
                          "(or set KIZUNA_SITEURL, or run invoke init)")
    folder = Path(out) if out else ROOT / "deploy" / "rendered"
    try:
        paths = render(Deployment(site_url=site_url, site_root=site_root, isso_upstream=isso_upstream), folder)
    except OSError as error:
        raise KizunaError(f"Could not write the files into {folder} ({error.strerror}): choose another --out") from None
    print("\n".join(map(str, paths)))


# --- The commands, as `invoke --list` shows them ---------------------------------

ns = Collection(
    init, build, clean, rebuild, regenerate, preview, new, import_,
    serve, reserve, livereload,
    publish, stage,
    test, bench, screenshots,
    Collection("comments", comments_serve, comments_pending, comments_show, comments_reply, comments_approve,
               comments_delete, comments_import,
               comments_purge, comments_backup, comments_restore, comments_replicate, comments_export),
    Collection("deploy", deploy_render),
)
