"""Names for the theme's static files that change when their content does.

Pelican copies theme/static/css/kizuna.css to output/theme/css/kizuna.css;
the build (plugins/theme_assets) also writes it as
output/theme/css/kizuna.<first 10 hex of its sha256>.css, and pages name that
copy. A new version is a new file, so nginx, object storage and a CDN keep it
a year; a page keeps the stylesheet it was made with while a publish is under
way (object storage overwrites a name in place), and a cache that leaves the
query out of its key (`kizuna.css?v=…`, as this was named before) cannot hand
a new page an old stylesheet."""

import hashlib
import shutil
from pathlib import Path
from urllib.parse import quote

from kizuna import ROOT

THEME_STATIC = ROOT / "theme" / "static"
NAMED_SUFFIXES = (".css", ".js")  # what pages link to; what those files name, they name by content too
# What a file named by its content may be kept for, wherever it is served.
KEPT_A_YEAR = "public, max-age=31536000, immutable"
# Files named by their content: the theme's copies (css/kizuna.0123456789.css)
# and essay photos' smaller copies (plugins/responsive_images:
# photo-800w.0123456789.avif). nginx (deploy/nginx-site.conf.j2), object
# storage (kizuna/object_storage.py) and the local server (kizuna/serve.py)
# keep them a year.
CONTENT_NAMED = r"(\.[0-9a-f]{10}\.(css|js)|-[0-9]+w\.[0-9a-f]{10}\.(avif|webp|jpg|png))$"


def hashed(path: str) -> str:
    """'css/kizuna.css' → 'css/kizuna.<first 10 hex of its sha256>.css'.
    A Jinja filter: {{ SITEURL }}/{{ THEME_STATIC_DIR }}/{{ 'css/kizuna.css'|hashed }}"""
    digest = hashlib.sha256((THEME_STATIC / path).read_bytes()).hexdigest()[:10]
    stem, _, suffix = str(path).rpartition(".")
    return f"{stem}.{digest}.{suffix}"


def write_named_copies(theme_output: Path) -> list[Path]:
    """Beside each of the theme's CSS and JavaScript files in the built site,
    its copy named by its content (the name `hashed` gives pages)."""
    written = []
    for source in sorted(THEME_STATIC.rglob("*")):
        if source.suffix in NAMED_SUFFIXES and source.is_file():
            target = Path(theme_output) / hashed(source.relative_to(THEME_STATIC).as_posix())
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


def svg_data_uri(path: Path) -> str:
    """An SVG as a data: URI: the favicon then costs the reader no request."""
    svg = " ".join(Path(path).read_text(encoding="utf-8").split()).replace('"', "'")
    return "data:image/svg+xml," + quote(svg, safe="=:/'")
