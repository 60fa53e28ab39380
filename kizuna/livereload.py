"""`invoke livereload`: the writing loop. Save a file, the browser reloads
the page the writer is looking at; if the build fails, the page stays the
last good one and shows why, and the terminal says what happened and how
long it took.

On every save of an essay or page, its own page is rendered first, in this
process (kizuna/render_first.py), and the browser reloads; then the whole site
is rebuilt as `invoke build` would, and the browser reloads again. A save
that comes while the whole-site build runs stops that build: the newest save
is shown first, and one build brings the site up to date with it.

python-livereload looks for changes every 0.8 s by walking every watched
file, runs the rebuild on its web server's thread (pages wait for it), and
ignores any change within 3 s of its last reload: two saves 1.5-2.5 s apart
left the browser on the first one for good. Here watchfiles (Pelican's own
file watcher) hears of a save from the kernel, the work runs on a thread of
its own, and every change may reload: the window is 0. python-livereload
still serves the pages and talks to livereload.js in the browser.
"""

import tempfile
import threading
import time
from pathlib import Path

import watchfiles
from livereload import Server
from livereload import handlers, server as livereload_server
from livereload.watcher import Watcher
from tornado.ioloop import IOLoop

from kizuna import CONTENT, DEV_SETTINGS, OUTPUT, ROOT
from kizuna import build as site
from kizuna.render_first import LOOP_FILE, forget_plugins, render_first
from kizuna.serve import HOST

PLUGINS = ROOT / "plugins"
WATCHED = (CONTENT, ROOT / "theme", PLUGINS, DEV_SETTINGS)

ERROR_FILE = ".kizuna-build-error"  # in output/, beside the last good build; a good build has none
# Added to every page the writing loop serves: shows the last build's error, if any, over the page.
ERROR_SCRIPT = (
    b'<script>fetch("/' + ERROR_FILE.encode() + b'",{cache:"no-store"}).then(function(r){return r.ok?r.text():""})'
    b'.then(function(t){if(!t)return;var d=document.createElement("pre");d.id="kizuna-build-error";'
    b'd.setAttribute("role","alert");d.textContent="The last build failed; this is the last good page.\\n\\n"+t;'
    b'd.style.cssText="position:fixed;left:0;right:0;bottom:0;max-height:60vh;overflow:auto;margin:0;'
    b'padding:1em;background:#fff4f4;color:#600;border-top:3px solid #b00;font:14px/1.4 monospace;'
    b'white-space:pre-wrap;z-index:2147483647";document.body.appendChild(d)})</script>'
)


def _with_error_script(transform):
    if getattr(transform, "adds_error_script", False):  # once, however often the loop starts
        return transform

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        status_code, headers, chunk = transform(self, status_code, headers, chunk, finishing)
        if "html" in headers.get("Content-Type", "") and livereload_server.HEAD_END in chunk:
            chunk = chunk.replace(livereload_server.HEAD_END, ERROR_SCRIPT + livereload_server.HEAD_END, 1)
            if "Content-Length" in headers:
                headers["Content-Length"] = str(int(headers["Content-Length"]) + len(ERROR_SCRIPT))
        return status_code, headers, chunk
    transform_first_chunk.adds_error_script = True
    return transform_first_chunk


def shown(path) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class WholeSiteBuild(threading.Thread):
    """One whole-site build on a thread of its own, that a newer save can stop."""

    def __init__(self, extra_settings: dict, reload, changed: str, seen: float):
        super().__init__(daemon=True)
        self.extra_settings, self.reload, self.changed, self.seen = extra_settings, reload, changed, seen
        self.stop_asked = threading.Event()
        self.pelican = None

    def started(self, pelican):
        self.pelican = pelican
        if self.stop_asked.is_set():
            pelican.terminate()

    def stop(self):
        """Stop the build if it still runs and wait for it: after this, only the caller writes to output/."""
        self.stop_asked.set()
        if self.pelican is not None:
            self.pelican.terminate()
        self.join()

    def run(self):
        try:
            build_site(self.extra_settings, started=self.started)
        except site.BuildStopped:
            print(f"Stopped the whole-site build for {self.changed}: a newer save came.", flush=True)
            return
        except Exception as error:  # noqa: BLE001 (invoke.Exit, BuildError: the loop goes on)
            # The last good output/ stays; the page shows why it did not change.
            (OUTPUT / ERROR_FILE).write_text(str(error), encoding="utf-8")
            print(f"Build failed after {self.changed} changed ({time.monotonic() - self.seen:.2f} s); the page "
                  f"stays the last good one and shows why:\n{error}", flush=True)
        else:
            print(f"Rebuilt after {self.changed} changed, in {time.monotonic() - self.seen:.2f} s.", flush=True)
        self.reload(self.changed)


def build_site(extra_settings: dict, started=None) -> None:
    """The writing loop's whole-site build: `invoke build`, plus what render_first needs."""
    site.build(DEV_SETTINGS, extra_settings={**extra_settings, "WRITING_LOOP_FILE": LOOP_FILE},
               started=started)


class WritingLoop:
    """Saves in, reloads out: each batch of changes stops the running build,
    shows the saved essays first, then starts the whole-site build."""

    def __init__(self, extra_settings: dict, reload):
        self.extra_settings, self.reload = extra_settings, reload
        self.building: WholeSiteBuild | None = None

    def changed(self, changes: set) -> None:
        seen = time.monotonic()
        if self.building is not None:
            self.building.stop()
        paths = sorted({Path(path) for _, path in changes})
        if any(path.is_relative_to(PLUGINS) for path in paths):
            forget_plugins(PLUGINS)
        # An editor's atomic save (and sed -i) writes a temporary file and renames it: gone by now, not news.
        saved = [path for path in paths if path.exists()]
        told = saved or paths
        names = ", ".join(shown(path) for path in told[:3]) + (f" and {len(told) - 3} more" if len(told) > 3 else "")
        if saved and all(path.is_relative_to(CONTENT) for path in paths):  # not a theme, plugin or settings change
            first = [page for path in saved for page in render_first(path, extra_settings=self.extra_settings)]
            if first:
                self.reload(names)
                print(f"Showed {', '.join(first)} {time.monotonic() - seen:.2f} s after {names} changed; "
                      f"rebuilding the whole site.", flush=True)
        self.building = WholeSiteBuild(self.extra_settings, self.reload, names, seen)
        self.building.start()

    def stop(self) -> None:
        if self.building is not None:
            self.building.stop()

    def watch(self, stop: threading.Event) -> None:
        warmed = False
        # Empty batches every half second: the first one is the moment to warm up (the watcher already
        # listens, so a save made meanwhile waits in line rather than being missed).
        for changes in watchfiles.watch(*WATCHED, stop_event=stop, step=30, rust_timeout=500,
                                        yield_on_timeout=True, raise_interrupt=False):
            if not warmed:
                self.warm_up()
                warmed = True
                print(f"Watching {', '.join(shown(path) for path in WATCHED)}: save, and the page reloads.",
                      flush=True)
            if changes:
                self.changed(changes)

    def warm_up(self) -> None:
        """A render into a folder thrown away, so that the first save does not wait for imports."""
        with tempfile.TemporaryDirectory(prefix=".warm-up-", dir=ROOT) as thrown_away:
            render_first(next(CONTENT.rglob("*.md"), CONTENT / "none.md"), output=Path(thrown_away),
                         extra_settings=self.extra_settings)


class _ToldByWatchfiles(Watcher):
    """python-livereload's watcher, minus its polling: the writing loop tells it."""

    def __init__(self, begin):
        super().__init__()
        self.begin = begin
        for path in WATCHED:  # what it would otherwise say it watches (the working directory)
            self.watch(str(path))

    def start(self, callback):
        self.begin(IOLoop.current())  # the loop python-livereload is about to run
        return True  # no polling

    def examine(self):
        return None, None


def serve_and_watch(extra_settings: dict, port: int) -> None:
    """Build, then serve output/ at port and rebuild on every change until Ctrl-C.
    extra_settings are the development build's (where Isso is)."""
    build_site(extra_settings)
    handlers.LiveReloadHandler.DEFAULT_RELOAD_TIME = 0
    livereload_server.LiveScriptInjector.transform_first_chunk = _with_error_script(
        livereload_server.LiveScriptInjector.transform_first_chunk)
    stop = threading.Event()
    writing = WritingLoop(extra_settings, reload=None)

    def begin(loop):
        def reload(path):  # from the loop's threads to the web server's
            loop.add_callback(handlers.LiveReloadHandler.reload_waiters, path)
        writing.reload = reload
        threading.Thread(target=writing.watch, args=(stop,), daemon=True).start()

    server = Server(watcher=_ToldByWatchfiles(begin))
    try:
        server.serve(host=HOST, port=port, root=str(OUTPUT), open_url_delay=None)
    finally:
        stop.set()
        writing.stop()  # no Pelican left writing after the loop has gone
