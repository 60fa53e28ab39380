"""Readers' comments moved in with their essays: from a WordPress export
(its wp:comment elements) or a Disqus export, into Isso, under each essay's
thread, with author, website, date, text and replies as they were.

Approved comments go in approved, pending ones pending; spam, trash,
pingbacks, trackbacks and deleted ones stay out and are counted. E-mail
addresses are kept as Isso keeps them (for reply notices, and removed after
KIZUNA_ISSO_RETENTION_DAYS like any reader's); addresses only as Isso keeps
them, the network part. Texts become Markdown, as Isso stores what readers
type, with the same converter the essays use.

Safe to run again: each comment brought in is noted in kizuna_imported
(its source and its id there), so a second run adds nothing. The database is
backed up before the first write of every run that writes.
"""

import html as html_lib
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kizuna.comments.store import PENDING, PUBLIC, CommentError, database_path, isso_database

TABLE = "kizuna_imported"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (source TEXT NOT NULL, old_id TEXT NOT NULL, comment INTEGER NOT NULL," \
         f" PRIMARY KEY (source, old_id))"
TAKEN = ("approved", "pending")


@dataclass
class OldComment:
    source: str          # "wordpress" or "disqus"
    old_id: str
    thread: str | None   # the essay's thread id here, None when no essay matches
    title: str
    parent: str | None   # the old id of the comment it answers
    author: str
    email: str
    website: str
    address: str
    created: float
    html: str
    state: str           # approved, pending, spam, trash, pingback, trackback, deleted


def _text(element, name: str, namespace: str = "") -> str:
    found = element.find(f"{namespace}{name}")
    return (found.text or "").strip() if found is not None else ""


def wordpress_comments(export: Path, threads: dict[str, tuple[str, str]]) -> list[OldComment]:
    """Every comment of a WordPress export (as kizuna/importing/wordpress.py
    reads it); `threads` maps a WordPress post id to (thread id, title) for the
    essays imported (others' comments get thread None)."""
    from kizuna.importing import wordpress

    comments = []
    for item in wordpress.read(export).items:
        thread, title = threads.get(item.post_id, (None, ""))
        for comment in item.comments:
            state = (comment.kind if comment.kind in ("pingback", "trackback")
                     else {"1": "approved", "0": "pending", "spam": "spam"}.get(comment.approved, "trash"))
            comments.append(OldComment(
                "wordpress", comment.comment_id, thread, title,
                comment.parent if comment.parent not in ("", "0") else None, comment.author, comment.email,
                comment.website, comment.address,
                datetime.strptime(comment.date_gmt, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp(),
                comment.content, state))
    return comments


DSQ = "{http://disqus.com}"
DSQ_ID = "{http://disqus.com/disqus-internals}id"


def disqus_comments(export: Path, threads_by_url: dict[str, tuple[str, str]]) -> list[OldComment]:
    """Every post of a Disqus export; `threads_by_url` maps an old page address
    (as Disqus knew it) to (thread id, title) here."""
    root = ET.parse(export).getroot()
    links = {thread.get(DSQ_ID): _text(thread, "link", DSQ) for thread in root.findall(f"{DSQ}thread")}
    comments = []
    for post in root.findall(f"{DSQ}post"):
        thread_ref = post.find(f"{DSQ}thread")
        link = links.get(thread_ref.get(DSQ_ID)) if thread_ref is not None else None
        thread, title = match(threads_by_url, link) if link else (None, "")
        parent = post.find(f"{DSQ}parent")
        author = post.find(f"{DSQ}author")
        deleted, spam = _text(post, "isDeleted", DSQ) == "true", _text(post, "isSpam", DSQ) == "true"
        created = datetime.strptime(_text(post, "createdAt", DSQ), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        comments.append(OldComment(
            "disqus", post.get(DSQ_ID), thread, title, parent.get(DSQ_ID) if parent is not None else None,
            _text(author, "name", DSQ) if author is not None else "",
            _text(author, "email", DSQ) if author is not None else "", "", _text(post, "ipAddress", DSQ),
            created.timestamp(), _text(post, "message", DSQ), "spam" if spam else "deleted" if deleted else "approved"))
    return comments


def match(threads_by_url: dict[str, tuple[str, str]], link: str) -> tuple[str | None, str]:
    """The essay an old address names: the same address with or without its
    scheme, host or trailing slash."""
    from urllib.parse import urlsplit

    def key(url: str) -> str:
        parts = urlsplit(url)
        return (parts.path.rstrip("/") or "/") + (f"?{parts.query}" if parts.query else "")
    wanted = key(link)
    for url, found in threads_by_url.items():
        if key(url) == wanted:
            return found
    return None, ""


@dataclass
class Imported:
    counts: Counter
    lines: list[str]


def import_comments(comments: list[OldComment], db=None, env: dict | None = None, dry_run: bool = False,
                    backups: Path | None = None) -> Imported:
    """Put the approved and pending comments into Isso, parents before their
    replies. A site whose comment server has never run has no database yet:
    it is made here, as Isso would make it (readable by its owner only)."""
    from isso.utils import anonymize

    from kizuna.comments import backup
    from kizuna.importing.html import to_markdown, wpautop

    counts, lines = Counter(), []
    for comment in comments:
        if comment.state not in TAKEN:
            counts[f"left out: {comment.state}"] += 1
        elif comment.thread is None:
            counts["left out: on a page, or on no essay here (pages take no comments)"] += 1
    wanted = [c for c in comments if c.state in TAKEN and c.thread is not None]
    by_id = {(c.source, c.old_id): c for c in wanted}
    path = database_path(db)
    new = not path.exists()
    if new and wanted and not dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()  # Isso's own layer makes its tables in it below
        path.chmod(0o600)
    if not path.exists():  # a dry run on a site without comments yet: nothing is here already
        counts.update(c.state for c in wanted)
        return Imported(counts, lines)
    with isso_database(path, env) as (database, _):
        database.execute(CREATE)
        done = {(source, old): new for source, old, new in database.execute(f"SELECT source, old_id, comment FROM {TABLE}")}
        todo = [c for c in wanted if (c.source, c.old_id) not in done]
        counts["already here"] += len(wanted) - len(todo)
        if todo and not dry_run and not new:  # a database made just now holds nothing to lose
            lines.append(f"Backed up the comments first: {backup.backup(path, backups, label='before-import')}")
        # Parents first: oldest first is parents first, as a reply comes after what it answers.
        for comment in sorted(todo, key=lambda c: (c.created, c.old_id)):
            parent = None
            if comment.parent is not None:
                parent = done.get((comment.source, comment.parent))
                if parent is None and (comment.source, comment.parent) not in by_id:
                    counts["replies whose parent stayed out, kept as comments of their own"] += 1
            counts[f"{comment.state}"] += 1
            if dry_run:
                done[(comment.source, comment.old_id)] = -1
                continue
            if comment.thread not in database.threads:
                database.threads.new(comment.thread, comment.title)
            dropped: list = []
            text = to_markdown(wpautop(comment.html) if comment.source == "wordpress" else comment.html, dropped)
            added = database.comments.add(comment.thread, {
                "text": text.strip() or "…", "author": html_lib.escape(comment.author, quote=False) or None,
                "email": comment.email or None, "website": comment.website or None,
                "parent": parent if parent and parent > 0 else None, "mode": PUBLIC if comment.state == "approved" else PENDING,
                "remote_addr": anonymize(comment.address) if comment.address else "", "notification": 0,
                "created": comment.created})
            database.execute(f"INSERT INTO {TABLE} (source, old_id, comment) VALUES (?, ?, ?)",
                             (comment.source, comment.old_id, added["id"]))
            done[(comment.source, comment.old_id)] = added["id"]
    return Imported(counts, lines)


def summary(result: Imported, dry_run: bool = False) -> str:
    verb = "would bring in" if dry_run else "brought in"
    taken = result.counts["approved"] + result.counts["pending"]
    lines = [*result.lines, f"Comments: {verb} {taken} ({result.counts['approved']} approved,"
                            f" {result.counts['pending']} waiting for you); {result.counts['already here']} were here"
                            f" already."]
    lines += [f"  {reason}: {count}" for reason, count in sorted(result.counts.items())
              if reason.startswith(("left out", "replies whose"))]
    return "\n".join(lines)


def imported_items(content: Path) -> dict[str, dict]:
    """What an import of the blog noted of each post and page (kizuna/importing/essays.py)."""
    from kizuna.importing.essays import STATE

    path = Path(content) / STATE
    return json.loads(path.read_text(encoding="utf-8")).get("items", {}) if path.is_file() else {}


def threads_by_url_from_site(output: Path, content: Path) -> dict[str, tuple[str, str]]:
    """The essays by the addresses a comment export may name: the built
    site's own (its thread ids), and the old ones an import of the blog noted."""
    found = {}
    threads_file = output / "comment-threads.json"
    if threads_file.is_file():
        for uri, title in json.loads(threads_file.read_text(encoding="utf-8"))["threads"].items():
            found[uri] = (uri, title)
    for entry in imported_items(content).values():
        if entry.get("thread"):
            for old in (entry.get("link"), entry.get("guid")):
                if old:
                    found[old] = (entry["thread"], entry.get("title") or "")
    return found


def import_wordpress(export: Path, content: Path, db=None, dry_run: bool = False, backups=None) -> str:
    """The comments of a WordPress export, for the posts an import brought in."""
    threads = {post_id: (entry["thread"], entry.get("title") or "")
               for post_id, entry in imported_items(content).items() if entry.get("thread")}
    found = wordpress_comments(export, threads)
    return summary(import_comments(found, db, dry_run=dry_run, backups=backups), dry_run)


def import_disqus(kind: str, export: Path, db=None, dry_run: bool = False, backups=None,
                  output: Path | None = None) -> str:
    """`invoke comments.import disqus EXPORT.xml`: Disqus threads are matched to
    the site's essays by their addresses (the built site's, and the old ones an
    import of the blog noted)."""
    from kizuna import CONTENT, OUTPUT

    if kind != "disqus":
        raise CommentError(f"Unknown export kind {kind!r}: invoke comments.import disqus EXPORT.xml"
                           " (a WordPress blog's comments come with invoke import wordpress).")
    if not export.is_file():
        raise CommentError(f"No export file at {export}.")
    threads = threads_by_url_from_site(output or OUTPUT, CONTENT)
    if not threads:
        raise CommentError("No essays to match the comments to: build the site first (invoke build).")
    try:
        found = disqus_comments(export, threads)
    except (ET.ParseError, ValueError) as error:
        raise CommentError(f"{export} is not a Disqus export Kizuna can read: {error}") from None
    return summary(import_comments(found, db, dry_run=dry_run, backups=backups), dry_run)
