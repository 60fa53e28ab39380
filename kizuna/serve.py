"""Serve the built site on loopback, the way a real server would: clean URLs
(/essays/<slug>/ → index.html) and our 404.html for unknown addresses."""

import argparse
import functools
import http.server
from pathlib import Path

from kizuna import OUTPUT

HOST = "127.0.0.1"
PORT = 8000


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "404.html"
        if code == 404 and page.is_file():
            body = page.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)


def make_server(root: Path = OUTPUT, host: str = HOST, port: int = PORT) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(SiteHandler, directory=str(root))
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    return http.server.ThreadingHTTPServer((host, port), handler)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the built site on loopback.")
    parser.add_argument("--root", type=Path, default=OUTPUT)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    server = make_server(args.root, HOST, args.port)
    print(f"Serving {args.root} at http://{HOST}:{args.port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
