"""`invoke livereload`: the writing loop. Save a file, the browser reloads."""

from livereload import Server

from kizuna import CONTENT, DEV_SETTINGS, OUTPUT, ROOT
from kizuna.serve import HOST


def serve_and_watch(rebuild, port: int) -> None:
    server = Server()

    def rebuild_quietly():
        # A broken essay while writing should not stop the loop: the error is
        # printed and the last good output/ stays up.
        try:
            rebuild()
        except Exception as error:  # invoke.Exit included
            print(error)

    for watched in (CONTENT, ROOT / "theme", ROOT / "plugins", DEV_SETTINGS):
        server.watch(str(watched), rebuild_quietly)
    server.serve(host=HOST, port=port, root=str(OUTPUT), open_url_delay=None)
