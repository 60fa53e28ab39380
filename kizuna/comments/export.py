"""Every comment as JSON in the format Isso's own importer reads back:
`isso -c comments/isso.cfg import -t generic FILE` (isso/migrate.py, Generic).

    [{"id": "/essays/slug/", "title": "…",
      "comments": [{"id": 1, "author": …, "email": …, "website": …,
                    "remote_addr": …, "created": "YYYY-MM-DD HH:MM:SS", "text": …}]}]

What that format cannot carry, so an export followed by an import loses it:
  * moderation state: Isso imports every comment as public, pending ones too
    (export --approved-only leaves pending comments out);
  * replies: there is no parent, so replies come back as top-level comments;
  * likes, dislikes and who voted, the edit time (`modified`), and readers'
    reply-notification opt-ins;
  * comment ids: "id" only orders comments within a thread (here 1, 2, … by
    time); Isso numbers them anew, so old links to #isso-ID change;
  * fractions of a second, and the time zone: "created" is local time, and
    the importer reads it as local time, so export and import in one zone;
  * deleted comments kept as placeholders for their replies (no text, no
    author): they are left out.
Texts are exported as Isso stores them, the reader's raw Markdown (the API
serves rendered HTML); names and e-mail addresses as Isso stores them, which
is HTML-escaped. The file holds readers' e-mail addresses: keep it private.
"""

import contextlib
import json
import time
from pathlib import Path

from kizuna.comments.store import DELETED, PENDING, CommentError, existing, read_only

CREATED = "%Y-%m-%d %H:%M:%S"  # what migrate.Generic parses, as local time


def threads(db=None, approved_only: bool = False) -> list[dict]:
    """The database's comments, grouped by thread, in one consistent read."""
    skip = (DELETED, PENDING) if approved_only else (DELETED,)
    with contextlib.closing(read_only(existing(db))) as connection:
        rows = connection.execute(
            "SELECT threads.uri, threads.title, comments.author, comments.email, comments.website,"
            " comments.remote_addr, comments.created, comments.text"
            " FROM comments JOIN threads ON comments.tid = threads.id"
            f" WHERE comments.mode NOT IN ({','.join('?' * len(skip))})"
            " ORDER BY threads.uri, comments.created, comments.id", skip).fetchall()
    exported: dict[str, dict] = {}
    for uri, title, author, email, website, remote_addr, created, text in rows:
        thread = exported.setdefault(uri, {"id": uri, "title": title, "comments": []})
        thread["comments"].append({
            "id": len(thread["comments"]) + 1, "author": author, "email": email, "website": website,
            "remote_addr": remote_addr, "created": time.strftime(CREATED, time.localtime(created)), "text": text,
        })
    return list(exported.values())


def pending_count(db=None) -> int:
    with contextlib.closing(read_only(existing(db))) as connection:
        return connection.execute("SELECT COUNT(*) FROM comments WHERE mode = ?", (PENDING,)).fetchone()[0]


def export(db=None, out=None, approved_only: bool = False) -> tuple[str | None, str]:
    """Write the export to `out` (a new file: an old one is never replaced),
    or return it as text when out is None; and a one-line summary."""
    data = threads(db, approved_only)
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    count = sum(len(thread["comments"]) for thread in data)
    summary = f"{count} comment{'s' if count != 1 else ''} in {len(data)} thread{'s' if len(data) != 1 else ''}"
    waiting = 0 if approved_only else pending_count(db)
    if waiting:
        summary += f" ({waiting} still pending: `isso import` would publish them; --approved-only leaves them out)"
    if out is None:
        return text, summary
    path = Path(out).expanduser()
    try:
        file = path.open("x", encoding="utf-8")
    except FileExistsError:
        raise CommentError(f"{path} already exists; choose a new file name (an export never replaces a file).")
    except OSError as error:  # no such folder, not allowed
        raise CommentError(f"Could not make {path}: {error.strerror}.") from None
    with file:
        file.write(text)
    path.chmod(0o600)
    return None, f"Wrote {summary} to {path}"
