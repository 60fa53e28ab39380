"""Old addresses that keep working: every address an imported blog's posts
and pages had (their permalink, their guid, WordPress's `?p=ID` and
`?page_id=ID`), its category, tag, date and attachment pages (which the
import maps to the page here that shows the same, kizuna/importing/essays.py)
and its main feed send readers, and search engines, on for good (301).

Read from what `invoke import` noted (content/.imported/wordpress.json).
An old address that is also an address of this site (its own About page, a
section such as /tags/) is left to the site. Two ways out, so it works
whatever serves the site: `invoke deploy.render` writes them into the nginx
server block (kizuna/deploy.py), which answers 301; and the build writes a
small page at each old address (plugins/old_addresses), for hosts without
nginx. Only published essays and pages are sent to: a draft has no page to
go to.
"""

import html
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

STATE = Path(".imported") / "wordpress.json"
FEEDS = {"/feed/": "/feeds/all.atom.xml", "/comments/feed/": "/"}  # WordPress's main feeds
# What nginx would read as more than a plain string in a map (and a path never needs).
UNSAFE = set('"\\$;{}\'') | {chr(n) for n in range(32)} | {" "}


def _state(content: Path) -> dict:
    path = Path(content) / STATE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def site_addresses(content: Path, items: dict) -> tuple[set[str], set[str]]:
    """(addresses of this site's essays and pages, its sections' first folders)."""
    from kizuna.importing.essays import RESERVED_PAGE_SLUGS

    own = {item["url"] for item in items.values() if item.get("url")}
    for page in (Path(content) / "pages").glob("*.md"):
        slug = next((line.split(":", 1)[1].strip() for line in page.read_text(encoding="utf-8").splitlines()[:20]
                     if line.lower().startswith("slug:")), page.stem)
        own.add(f"/{slug}/")
    return own, RESERVED_PAGE_SLUGS


def moved(content: Path) -> dict[str, dict[str, str]]:
    """{"paths": {old path: new url}, "p": {id: new url}, "page_id": {id: new url}}."""
    paths, ids = {}, {"p": {}, "page_id": {}}
    state = _state(content)
    items = state.get("items", {})
    own, sections = site_addresses(content, items)
    # The blog's archive and attachment pages first: an item's own address wins over them.
    for old, new in state.get("archives", {}).items():
        path = re.sub("/+", "/", old)
        if not set(path) & UNSAFE and path.rstrip("/") + "/" not in own:
            paths[path.rstrip("/") + "/"] = paths[path.rstrip("/")] = quote(new, safe="/")
    for post_id, item in items.items():
        if item.get("status") != "published" or not item.get("url"):
            continue
        new = quote(item["url"], safe="/")  # an address in a header is ASCII: a slug in its own script, encoded
        ids["page_id" if item.get("type") == "page" else "p"][str(post_id)] = new
        for old in (item.get("link"), item.get("guid")):
            if not old:
                continue
            parts = urlsplit(old)
            query = parse_qs(parts.query)
            for key in ("p", "page_id"):
                if key in query:
                    ids[key][query[key][0]] = new
            path = re.sub("/+", "/", unquote(parts.path)) or "/"  # as nginx reads it (merge_slashes)
            taken = path.rstrip("/") + "/" in own or path.strip("/").split("/")[0] in sections
            if path != "/" and not taken and not set(path) & UNSAFE:
                paths[path.rstrip("/") + "/"] = new
                paths[path.rstrip("/")] = new
    if items:
        paths.update(FEEDS)
        paths.update({old.rstrip("/"): new for old, new in FEEDS.items()})
    return {"paths": paths, **ids}


def page(new_url: str, what: str = "This page") -> str:
    """A page that sends its reader on to new_url: for hosts that cannot answer 301."""
    address = html.escape(new_url, quote=True)
    return (f'<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>Moved</title>'
            f'<meta name="robots" content="noindex"><link rel="canonical" href="{address}">'
            f'<meta http-equiv="refresh" content="0; url={address}">'
            f'<p>{what} now lives at <a href="{address}">{address}</a>.</p></html>\n')


def write_pages(output: Path, redirects: dict[str, str], what: str = "This page") -> list[Path]:
    """A redirect page at each old address that nothing of the site holds."""
    written = []
    for old, new in redirects.items():
        if not old.endswith("/") or ".." in old.split("/"):
            continue  # one page per address: the trailing-slash form
        target = Path(output) / old.strip("/") / "index.html"
        if target.exists() or target.parent.is_file() or (Path(output) / old.strip("/")).is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page(new, what), encoding="utf-8")
        written.append(target)
    return written


def summary(content: Path) -> str:
    """What the report says of the old addresses."""
    found = moved(content)
    pages = {old.rstrip("/") + "/" for old in found["paths"]}
    ids = len(found["p"]) + len(found["page_id"])
    return (f"Old addresses: {len(pages)} paths and {ids} ?p= / ?page_id= links forward, for good, to their new place"
            f" (nginx: invoke deploy.render writes them; other hosts: each build leaves a forwarding page).")
