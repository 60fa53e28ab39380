"""`invoke livereload`: the writing loop. Save a file, the browser reloads
the page the writer is looking at; if the build fails, the page stays the
last good one and shows why, and the terminal says what happened and how
long it took.

python-livereload ignores any change that comes within 3 seconds of its last
reload (LiveReloadHandler.DEFAULT_RELOAD_TIME): two saves 1.5-2.5 s apart
left the browser on the first one for good. Our rebuild runs to the end
before the next change is looked at, so every change may reload: the window
is 0 here.
"""

import time

from livereload import Server
from livereload import handlers, server as livereload_server

from kizuna import CONTENT, DEV_SETTINGS, OUTPUT, ROOT
from kizuna.serve import HOST

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


def serve_and_watch(rebuild, port: int) -> None:
    handlers.LiveReloadHandler.DEFAULT_RELOAD_TIME = 0
    livereload_server.LiveScriptInjector.transform_first_chunk = _with_error_script(
        livereload_server.LiveScriptInjector.transform_first_chunk)
    server = Server()

    def rebuild_and_say():
        changed = server.watcher.filepath or "a file"
        started = time.monotonic()
        try:
            rebuild()
        except Exception as error:  # noqa: BLE001 (invoke.Exit, BuildError: the loop goes on)
            # The last good output/ stays; the page shows why it did not change.
            (OUTPUT / ERROR_FILE).write_text(str(error), encoding="utf-8")
            print(f"Build failed after {changed} changed ({time.monotonic() - started:.2f} s); the page stays "
                  f"the last good one and shows why:\n{error}", flush=True)
        else:
            print(f"Rebuilt after {changed} changed, in {time.monotonic() - started:.2f} s.", flush=True)

    for watched in (CONTENT, ROOT / "theme", ROOT / "plugins", DEV_SETTINGS):
        server.watch(str(watched), rebuild_and_say)
    server.serve(host=HOST, port=port, root=str(OUTPUT), open_url_delay=None)
