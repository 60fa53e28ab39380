"""Serve the built site on loopback, the way a real server would: clean URLs
(/essays/<slug>/ → index.html), our 404.html for unknown addresses, and the
precompressed .br/.gz copies that publishconf.py writes, chosen as nginx's
brotli_static and gzip_static choose them."""

import argparse
import functools
import http.server
import re
import sys
import urllib.parse
from pathlib import Path

from kizuna import OUTPUT
from kizuna.assets import CONTENT_NAMED as NAMED, KEPT_A_YEAR

HOST = "127.0.0.1"
PORT = 8000
CONTENT_NAMED = re.compile(NAMED)

# Precompressed siblings, best first: brotli is smaller, so it wins when the
# client takes both (as every current browser does).
ENCODINGS = [("br", ".br"), ("gzip", ".gz")]


def accepted_encodings(header: str) -> set[str]:
    """The content codings an Accept-Encoding header allows, lower-cased.
    "gzip;q=0" refuses gzip; "*" stands for every coding not named."""
    allowed, refused, wildcard = set(), set(), False
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0  # a malformed weight is not consent
        if coding == "*":
            wildcard = quality > 0
        elif quality > 0:
            allowed.add(coding)
        else:
            refused.add(coding)
    if wildcard:
        allowed |= {coding for coding, _ in ENCODINGS} - refused
    return allowed


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        # As production does: files named by their content (kizuna/assets.py)
        # never change, so keep them a year; pages are checked again each visit.
        path = urllib.parse.urlsplit(self.path).path
        immutable = CONTENT_NAMED.search(path) and self.command in ("GET", "HEAD")
        self.send_header("Cache-Control", KEPT_A_YEAR if immutable else "no-cache")
        super().end_headers()

    def send_head(self):
        """Serve <file>.br or <file>.gz in place of <file> when the client takes
        that coding and the copy exists; everything else (redirects of folders
        without a slash, plain files, 404s) is the standard handler's job."""
        path = Path(self.translate_path(self.path))
        if urllib.parse.urlsplit(self.path).path.endswith("/"):
            path = path / "index.html"  # a folder's page; a file named with "/" stays a 404
        if not path.is_file():
            return super().send_head()
        siblings = [(coding, path.with_name(path.name + suffix)) for coding, suffix in ENCODINGS]
        siblings = [(coding, copy) for coding, copy in siblings if copy.is_file()]
        if not siblings:
            return super().send_head()  # nothing to choose between: no Vary either
        accepted = accepted_encodings(self.headers.get("Accept-Encoding", ""))
        coding, served = next(((c, copy) for c, copy in siblings if c in accepted), (None, path))
        body = served.open("rb")
        try:
            stat = served.stat()
            self.send_response(200)
            # The type is the original file's: index.html.br is still HTML.
            self.send_header("Content-Type", self.guess_type(str(path)))
            if coding:
                self.send_header("Content-Encoding", coding)
            # The answer depends on Accept-Encoding, so caches must key on it,
            # whichever variant this client got.
            self.send_header("Vary", "Accept-Encoding")
            self.send_header("Content-Length", str(stat.st_size))
            self.send_header("Last-Modified", self.date_time_string(stat.st_mtime))
            self.end_headers()
        except BaseException:
            body.close()
            raise
        return body  # do_GET copies it and closes it; do_HEAD only closes it

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


def command(root: Path = OUTPUT, port: int = PORT) -> list[str]:
    """The command that serves `root` on 127.0.0.1:port, as `invoke serve`,
    the tests, the screenshots and the benchmarks all start it."""
    return [sys.executable, "-m", "kizuna.serve", "--root", str(root), "--port", str(port)]


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
