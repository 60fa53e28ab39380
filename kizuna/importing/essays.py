"""Writing an export's posts and pages as Kizuna files, safely again and again.

What is decided here, and why:

* Status: only a published post or page without a password becomes
  `Status: published`. Drafts, pending, private, scheduled (future) and
  password-protected ones become `Status: draft`, which Kizuna never shows in
  a production build or a feed: nothing the writer kept from readers is
  published by accident, and nothing they wrote is lost. Trash, auto-drafts
  and revisions are left out. The report names each.
* Category: an essay has one. The first of the post's WordPress categories
  (in the export's order) other than "Uncategorized" becomes it; the others
  become tags, so nothing the writer filed a post under is lost. A post with
  none is in Kizuna's default category.
* Slugs: WordPress's post_name (percent-decoded, made a slug the site's way,
  in its own script); a slug another file already has gets -2, -3…, and the
  report says so. A second run reuses each item's slug from the state file.
* The state file, content/.imported/wordpress.json (a hidden folder, which
  Pelican and Kizuna's checks pass over), records for each item what was
  written (file, SHA-256) and what later steps need (WordPress id, old
  permalink, guid, post_name, new slug, address and comment thread). A file
  whose bytes are no longer those written was edited: it is left alone. A
  file the writer deleted is not written again. Nothing is ever deleted.
"""

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pelican.settings import DEFAULT_CONFIG
from pelican.utils import slugify

from kizuna.importing import html, wordpress

STATE = Path(".imported") / "wordpress.json"
REPORT_NAME = "import-report.txt"  # beside content/, not in it: not a page, and it changes with every run
HELD_BACK = {"draft": "a draft", "pending": "pending review", "private": "private", "future": "scheduled"}
LEFT_OUT = {"trash": "in the trash", "auto-draft": "an unsaved auto-draft", "inherit": "a revision"}
# Addresses the site's own pages take (pelicanconf.py): a page there would be written over them.
RESERVED_PAGE_SLUGS = {"essays", "drafts", "tags", "categories", "authors", "archives", "privacy", "feeds",
                       "images", "extra", "theme", "page", "404"}
UNCATEGORIZED = {"uncategorized", "uncategorised"}
FIELD_ORDER = ["Title", "Slug", "Date", "Modified", "Author", "Status", "Category", "Tags", "Summary"]


def make_slug(text: str) -> str:
    """As Pelican makes one with Kizuna's settings (SLUGIFY_USE_UNICODE)."""
    return slugify(text, regex_subs=DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"], use_unicode=True)


def one_line(text: str) -> str:
    return " ".join((text or "").split())


def iso_date(item: wordpress.Item) -> tuple[str, str | None]:
    """(Date: value, a note if the time zone is unknown)."""
    if item.date_gmt:
        return f"{item.date_gmt}+00:00", None
    if item.date_local:  # drafts WordPress never dated: the blog's own time, zone unknown
        return item.date_local, "date has no time zone in the export (read as the site's TIMEZONE)"
    return "", "no date in the export"


def term_list(names: list[str]) -> str:
    """Tags as content_checks reads them: commas, or semicolons if a tag has a comma."""
    names = [one_line(name).strip("\"'“”‘’«»„ ") for name in names]
    names = [name for name in names if name]
    return ("; " if any("," in name for name in names) else ", ").join(names)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Report:
    """What an import did, in the writer's words (lines) and as counts."""

    export: str
    dry_run: bool
    counts: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)  # heading → [line]
    seconds: float = 0.0

    def count(self, name, by=1):
        self.counts[name] = self.counts.get(name, 0) + by

    def add(self, heading, line):
        self.lines.setdefault(heading, []).append(line)

    def text(self) -> str:
        head = "Would import (dry run: nothing written)" if self.dry_run else "Imported"
        out = [f"{head} from {self.export} in {self.seconds:.2f} s", ""]
        out += [f"  {name}: {number}" for name, number in self.counts.items()]
        for heading, lines in self.lines.items():
            out += ["", f"{heading} ({len(lines)}):"] + [f"  - {line}" for line in lines]
        return "\n".join(out) + "\n"


class Media:
    """Images the writer supplies (--media: the blog's uploads folder): a
    referenced image found there is copied into content/images/ and linked by
    a relative path; any other keeps its absolute URL (which builds)."""

    def __init__(self, folder: Path | None, content: Path, dry_run: bool, report: Report):
        self.folder, self.content, self.dry_run, self.report = folder, content, dry_run, report
        self.copied, self.kept = {}, {}

    def find(self, url: str) -> tuple[Path, str] | None:
        path = unquote(urlsplit(url).path)
        after = path.split("/uploads/", 1)[1] if "/uploads/" in path else path.lstrip("/")
        candidates = [after, path.lstrip("/"), Path(path).name]
        sized = re.sub(r"-\d+x\d+(\.\w+)$", r"\1", after)  # WordPress's resized copy → the original
        candidates += [sized, Path(sized).name]
        for candidate in dict.fromkeys(candidates):
            if candidate and (self.folder / candidate).is_file():
                return self.folder / candidate, candidate
        return None

    def __call__(self, url: str) -> str:
        if self.folder is None or not url.startswith(("http://", "https://", "/")):
            self.kept[url] = True
            return url
        found = self.find(url)
        if found is None:
            self.kept[url] = True
            return url
        source, relative = found
        target = self.content / "images" / relative
        if target.exists() and target.read_bytes() != source.read_bytes():
            self.report.add("To check by hand", f"{url}: content/images/{relative} exists and differs; linked "
                                                f"to the URL instead")
            self.kept[url] = True
            return url
        if not self.dry_run and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        self.copied[url] = f"images/{relative}"
        return f"images/{relative}"


def _file_text(fields: dict, body: str) -> str:
    lines = [f"{name}: {fields[name]}" for name in FIELD_ORDER if fields.get(name)]
    return "\n".join(lines) + "\n\n" + body


def _taken_slugs(content: Path, ours: set) -> dict:
    """{(kind, slug): file} for files not written by this importer."""
    taken = {}
    for path in sorted(content.rglob("*.md")):
        relative = path.relative_to(content).as_posix()
        if relative in ours or any(part.startswith(".") for part in path.relative_to(content).parts):
            continue
        kind = "page" if relative.startswith("pages/") else "post"
        head = path.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
        slug = re.search(r"^Slug:\s*(.+)$", head, re.M | re.I)
        title = re.search(r"^Title:\s*(.+)$", head, re.M | re.I)
        name = slug[1].strip() if slug else make_slug(title[1]) if title else path.stem
        taken[(kind, name)] = relative
        taken[(kind, "file:" + path.stem)] = relative
    return taken


def import_wordpress(export_path: Path, content: Path, media: Path | None = None, dry_run: bool = False) -> Report:
    """Import the export's posts and pages into content; return the report
    (also written beside content/ unless dry_run)."""
    started = time.perf_counter()
    content = Path(content)
    export = wordpress.read(Path(export_path))
    report = Report(export=Path(export_path).name, dry_run=dry_run)
    state_path = content / STATE
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
    known = state.get("items", {})
    taken = _taken_slugs(content, {entry["file"] for entry in known.values() if entry.get("file")})
    media_files = Media(Path(media) if media else None, content, dry_run, report)
    if media and not Path(media).is_dir():
        raise wordpress.ExportError(f"--media {media} is not a folder: give the blog's uploads folder "
                                    f"(wp-content/uploads)")

    kinds = {"post": 0, "page": 0, "attachment": 0, "other": 0}
    items, used = {}, set()
    attachments = {a.post_id: a for a in export.items if a.post_type == "attachment"}
    for item in export.items:
        kinds[item.post_type if item.post_type in kinds else "other"] += 1
        if item.post_type not in ("post", "page"):
            continue
        what = f"{item.post_type} {item.post_id} “{one_line(item.title) or '(no title)'}”"
        if item.status in LEFT_OUT:
            report.add("Left out", f"{what}: {LEFT_OUT[item.status]}")
            report.count(f"{item.post_type}s left out")
            continue
        entry = _import_item(item, export, attachments, content, known, taken, used, media_files, report, what)
        items[item.post_id] = entry
        if entry.get("written") and not dry_run:
            target = content / entry["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(entry.pop("written"))
        entry.pop("written", None)

    report.counts = {"posts in the export": kinds["post"], "pages in the export": kinds["page"],
                     "attachments (not essays; their images are used where posts show them)": kinds["attachment"],
                     "other items (menus, blocks…: not imported)": kinds["other"], **report.counts,
                     "images copied into content/images/": len(media_files.copied),
                     "images left at their URL": len(media_files.kept)}
    for url in sorted(media_files.kept):
        report.add("Images left at their URL (supply the uploads folder with --media to copy them)", url)
    # Items the writer edited or removed stay recorded as they were, so later steps still find them.
    new_state = {"export": {"title": export.title, "site": export.site},
                 "items": {**known, **items}}
    new_state["archives"] = archive_addresses(export, new_state["items"])
    new_state["items"] = dict(sorted(new_state["items"].items(), key=lambda pair: int(pair[0] or 0)))
    state_text = json.dumps(new_state, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    report.seconds = time.perf_counter() - started
    if not dry_run:
        if not state_path.exists() or state_path.read_text(encoding="utf-8") != state_text:
            state_path.parent.mkdir(parents=True, exist_ok=True)
            state_path.write_text(state_text, encoding="utf-8")
        (content.parent / REPORT_NAME).write_text(report.text(), encoding="utf-8")
    return report


def archive_addresses(export: wordpress.Export, items: dict) -> dict[str, str]:
    """The blog's archive pages (category, tag, year, month, day) and attachment
    pages, by old path, with the page here that shows what they showed: the
    category's or tag's page (as Pelican names them with the site's settings),
    the year's archive, the post an attachment belonged to. Only where that
    page exists: an archive of drafts alone leads nowhere."""
    from pelican.settings import read_settings
    from pelican.urlwrappers import Category, Tag

    from kizuna import DEV_SETTINGS

    settings = read_settings(str(DEV_SETTINGS))
    published = [entry for entry in items.values() if entry.get("type") == "post" and entry.get("status") == "published"]
    categories = {Category(entry["category"], settings).slug for entry in published if entry.get("category")}
    tags = {Tag(name, settings).slug for entry in published for name in entry.get("tags", [])}
    years = {entry["year"] for entry in published if entry.get("year")}
    found = {}

    def here(name: str) -> str | None:
        if Category(name, settings).slug in categories:
            return f"/categories/{Category(name, settings).slug}/"
        if Tag(name, settings).slug in tags:
            return f"/tags/{Tag(name, settings).slug}/"
        return None
    for nicename, (name, _) in export.categories.items():
        path, parent, seen = [nicename], export.categories[nicename][1], {nicename}
        while parent and parent in export.categories and parent not in seen:  # /category/parent/child/
            path.insert(0, parent)
            seen.add(parent)
            parent = export.categories[parent][1]
        if here(name):
            found[f"/category/{'/'.join(path)}/"] = here(name)
    for slug, name in export.tags.items():
        if Tag(name, settings).slug in tags:
            found[f"/tag/{slug}/"] = f"/tags/{Tag(name, settings).slug}/"
    for item in export.items:
        if item.post_type == "post" and item.status == "publish" and item.date_local[:4] in years:
            year, month, day = item.date_local[:4], item.date_local[5:7], item.date_local[8:10]
            for path in (f"/{year}/", f"/{year}/{month}/", f"/{year}/{month}/{day}/"):
                found[path] = f"/archives/{year}/"
        parent = items.get(item.parent) if item.post_type == "attachment" else None
        if parent and parent.get("status") == "published" and item.link:
            old = urlsplit(item.link).path
            if old and old != "/":
                found[unquote(old)] = parent["url"]
    return dict(sorted(found.items()))


def _choose_slug(item, kind, content, known, taken, used, report, what) -> tuple[str, str]:
    """(slug, file relative to content) for an item: its earlier one, else a free one."""
    if item.post_id in known and known[item.post_id].get("file"):
        return known[item.post_id]["slug"], known[item.post_id]["file"]
    wanted = make_slug(item.post_name) if item.post_name else ""
    if not wanted:
        wanted = make_slug(one_line(re.sub(r"<[^>]+>", "", item.title))) or f"{kind}-{item.post_id}"
    slug, number = wanted, 1
    folder = "pages/" if kind == "page" else ""
    while ((kind, slug) in taken or (kind, "file:" + slug) in taken or (kind, slug) in used
           or (kind == "page" and slug in RESERVED_PAGE_SLUGS) or (content / f"{folder}{slug}.md").exists()
           and f"{folder}{slug}.md" not in {e.get("file") for e in known.values()}):
        number += 1
        slug = f"{wanted}-{number}"
    if slug != wanted:
        holder = taken.get((kind, wanted)) or taken.get((kind, "file:" + wanted))
        why = f"content/{holder} has that address" if holder else "the site uses that address"
        report.add("Slugs changed", f"{what}: {wanted} → {slug} ({why})")
    used.add((kind, slug))
    return slug, f"{folder}{slug}.md"


def _import_item(item, export, attachments, content, known, taken, used, media, report, what) -> dict:
    kind = item.post_type
    slug, relative = _choose_slug(item, kind, content, known, taken, used, report, what)
    published = item.status == "publish" and not item.password
    if published:
        report.count(f"{kind}s published")
    else:
        reason = "password-protected" if item.password else HELD_BACK.get(item.status, item.status)
        report.count(f"{kind}s imported as drafts ({reason})")
        report.add("Imported as drafts, not published (change Status: when ready)", f"{what}: {reason}")
    if item.sticky:
        report.add("Sticky in WordPress (Kizuna has no sticky essays; it is in date order)", what)
    if item.comments:
        report.count("comments in the export (brought in below)", len(item.comments))

    dropped = []

    def gallery(ids):
        chosen = [attachments[i] for i in ids if i in attachments] if ids else [
            a for a in attachments.values() if a.parent == item.post_id]
        return [(a.attachment_url, one_line(a.title)) for a in chosen if a.attachment_url]

    body = html.to_markdown(item.content, dropped, image=media, base=item.link or export.site, gallery=gallery)
    if item.password and body:
        body = f"<!-- password-protected in WordPress (the password is not imported) -->\n\n{body}"
    date, date_note = iso_date(item)
    title = one_line(item.title)
    if not title:
        title = f"Untitled ({slug})"
        report.add("To check by hand", f"{what}: had no title; given “{title}”")
    if date_note:
        report.add("To check by hand", f"{what}: {date_note}")
    if item.formats:
        dropped.append(f"post format {', '.join(item.formats)} (WordPress styling)")
    fields = {"Title": title, "Slug": slug, "Date": date,
              "Modified": f"{item.modified_gmt}+00:00" if item.modified_gmt and item.modified_gmt != item.date_gmt
              else "",
              "Author": export.authors.get(item.creator, item.creator),
              "Status": "published" if published else "draft"}
    if kind == "post":
        categories = [name for name in item.categories if name.lower() not in UNCATEGORIZED]
        fields["Category"] = one_line(categories[0]) if categories else ""
        tags = {}  # one of each, whatever its case: Pelican would give "Markup" and "markup" one address
        for name in categories[1:] + item.tags:
            tags.setdefault(make_slug(name), name)
        if fields["Category"]:
            tags.pop(make_slug(fields["Category"]), None)
        fields["Tags"] = term_list(list(tags.values()))
    elif item.categories or item.tags:
        dropped.append("categories and tags (pages have none in Kizuna)")
    if item.excerpt.strip():
        summary = html.to_markdown(item.excerpt, [], image=media, base=item.link or export.site)
        fields["Summary"] = one_line(summary)
    for line in dict.fromkeys(dropped):
        report.add("Dropped or changed in conversion", f"{what}: {line}")
    if dropped:
        report.count("items with something dropped or changed")

    data = _file_text(fields, body).encode("utf-8")
    target = content / relative
    earlier = known.get(item.post_id, {})
    entry = {"type": kind, "wordpress_status": item.status, "status": fields["Status"], "title": title,
             "link": item.link, "guid": item.guid, "post_name": item.post_name, "slug": slug,
             "url": f"/essays/{slug}/" if kind == "post" else f"/{slug}/",
             "thread": f"/essays/{slug}/" if kind == "post" else None,
             "parent": item.parent if item.parent != "0" else None,
             "file": relative, "sha256": earlier.get("sha256")}
    if kind == "post":  # for the old category, tag and date archives' addresses (kizuna/redirects.py)
        entry.update(category=fields["Category"], tags=list(tags.values()), year=fields["Date"][:4])
    if not target.exists() and earlier.get("sha256"):
        report.add("Left alone: removed since import (not written again)", f"{what}: content/{relative}")
        report.count("left alone")
    elif target.exists() and earlier.get("sha256") and sha256(target.read_bytes()) != earlier["sha256"]:
        report.add("Left alone: edited since import", f"{what}: content/{relative}")
        report.count("left alone")
    elif target.exists() and target.read_bytes() == data:
        report.count("unchanged since the last import")
    else:
        entry["written"] = data
        entry["sha256"] = sha256(data)
        report.count("files written" if not target.exists() else "files updated (not edited since import)")
    return entry

