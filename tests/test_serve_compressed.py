"""kizuna.serve hands out the precompressed .br/.gz copies the production build
writes, as nginx's brotli_static and gzip_static would: brotli when the client
takes it, gzip when it takes only gzip, the plain file otherwise; always with
the original's Content-Type, an exact Content-Length and Vary: Accept-Encoding."""

import gzip
import re
import urllib.error
import urllib.request

import brotli
import pytest

from support import serving

PAGE = ("<!doctype html><html lang=en><title>Kizuna</title><p>"
        + "A quiet place to answer essays. " * 40 + "</p></html>").encode()
SUB_PAGE = PAGE.replace(b"Kizuna", b"Sub folder")


def write_with_copies(path, body: bytes) -> None:
    """A page and its .gz/.br siblings, as pelican-precompress writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(body))
    path.with_name(path.name + ".br").write_bytes(brotli.compress(body))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    write_with_copies(root / "index.html", PAGE)
    write_with_copies(root / "sub" / "index.html", SUB_PAGE)
    (root / "plain.css").write_text("body { color: black }")  # no copies at all
    yield from serving(root)


def fetch(url: str, accept_encoding: str | None, method: str = "GET"):
    """Status, headers and raw (still encoded) body; urllib never decodes."""
    request = urllib.request.Request(url, method=method)
    if accept_encoding is not None:
        request.add_header("Accept-Encoding", accept_encoding)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_brotli_when_accepted(base_url):
    status, headers, body = fetch(base_url + "/", "gzip, deflate, br")
    assert status == 200
    assert headers["Content-Encoding"] == "br"
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Vary"] == "Accept-Encoding"
    assert int(headers["Content-Length"]) == len(body) < len(PAGE)
    assert brotli.decompress(body) == PAGE


def test_gzip_when_only_gzip_accepted(base_url):
    status, headers, body = fetch(base_url + "/index.html", "gzip")
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Vary"] == "Accept-Encoding"
    assert int(headers["Content-Length"]) == len(body)
    assert gzip.decompress(body) == PAGE


@pytest.mark.parametrize("accept_encoding", [None, "identity", "deflate", "br;q=0, gzip;q=0"])
def test_identity_otherwise(base_url, accept_encoding):
    status, headers, body = fetch(base_url + "/", accept_encoding)
    assert status == 200
    assert headers["Content-Encoding"] is None
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Vary"] == "Accept-Encoding"  # a cache must still not reuse it for br clients
    assert int(headers["Content-Length"]) == len(body) == len(PAGE)
    assert body == PAGE


def test_refused_brotli_falls_back_to_gzip(base_url):
    _, headers, body = fetch(base_url + "/", "br;q=0, *")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == PAGE


def test_folder_url_serves_its_index_compressed(base_url):
    _, headers, body = fetch(base_url + "/sub/", "br, gzip")
    assert headers["Content-Encoding"] == "br"
    assert headers["Content-Type"].startswith("text/html")
    assert brotli.decompress(body) == SUB_PAGE


def test_folder_without_slash_still_redirects(base_url):
    # urllib follows the 301 to /sub/, which is then served compressed.
    request = urllib.request.Request(base_url + "/sub", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.url == base_url + "/sub/"
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.read()) == SUB_PAGE


def test_head_sends_the_headers_of_get_and_no_body(base_url):
    _, get_headers, get_body = fetch(base_url + "/", "br")
    status, headers, body = fetch(base_url + "/", "br", method="HEAD")
    assert status == 200
    assert body == b""
    assert headers["Content-Encoding"] == "br"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Length"] == get_headers["Content-Length"] == str(len(get_body))


def test_file_without_copies_is_served_plain(base_url):
    _, headers, body = fetch(base_url + "/plain.css", "br, gzip")
    assert headers["Content-Encoding"] is None
    assert headers["Content-Type"] == "text/css"
    assert body == b"body { color: black }"


def test_unknown_address_is_still_404(base_url):
    with pytest.raises(urllib.error.HTTPError) as error:
        fetch(base_url + "/index.html/", "br")
    assert error.value.code == 404


def test_hashed_assets_are_cached_for_a_year_and_pages_revalidated(site_url):
    page = urllib.request.urlopen(f"{site_url}/essays/unresolved-desire-to-connect/")
    assert page.headers["Cache-Control"] == "no-cache"
    stylesheet = re.search(r'href="(/theme/css/kizuna\.[0-9a-f]{10}\.css)"', page.read().decode()).group(1)
    asset = urllib.request.urlopen(site_url + stylesheet)
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
