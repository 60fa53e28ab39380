"""Names for the theme's static files that change when their content does, so
nginx can let browsers keep them for a year (see deploy/)."""

import hashlib
from pathlib import Path
from urllib.parse import quote

from kizuna import ROOT

THEME_STATIC = ROOT / "theme" / "static"


def hashed(path: str) -> str:
    """'css/kizuna.css' → 'css/kizuna.css?v=<first 10 hex of its sha256>'.
    A Jinja filter: {{ SITEURL }}/{{ THEME_STATIC_DIR }}/{{ 'css/kizuna.css'|hashed }}"""
    digest = hashlib.sha256((THEME_STATIC / path).read_bytes()).hexdigest()[:10]
    return f"{path}?v={digest}"


def svg_data_uri(path: Path) -> str:
    """An SVG as a data: URI: the favicon then costs the reader no request."""
    svg = " ".join(Path(path).read_text(encoding="utf-8").split()).replace('"', "'")
    return "data:image/svg+xml," + quote(svg, safe="=:/'")
