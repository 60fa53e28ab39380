"""Moderation from the terminal: list the comments waiting for the writer,
approve them, or delete them (after a backup). Safe while Isso runs."""

import contextlib
import html
import re
import smtplib
import time
from dataclasses import dataclass
from pathlib import Path

from kizuna.comments import backup
from kizuna.comments.store import DELETED, PENDING, PUBLIC, CommentError, existing, isso_database, read_only


@dataclass
class Waiting:
    id: int
    uri: str
    author: str
    created: float
    text: str


def pending(db=None) -> list[Waiting]:
    """Every comment waiting for approval, oldest first."""
    with contextlib.closing(read_only(existing(db))) as connection:
        rows = connection.execute(
            "SELECT comments.id, threads.uri, comments.author, comments.created, comments.text"
            " FROM comments JOIN threads ON comments.tid = threads.id"
            " WHERE comments.mode = ? ORDER BY comments.created, comments.id", (PENDING,)).fetchall()
    # Isso stores author names HTML-escaped; show them as the reader typed them.
    return [Waiting(id, uri, html.unescape(author) if author else "anonymous", created, text)
            for id, uri, author, created, text in rows]


def printable(text: str) -> str:
    """Readers' words, safe for the writer's terminal: no control characters
    (an escape sequence in a comment must not drive the terminal)."""
    return "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in text)


def first_line(text: str, width: int = 60) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    more = line != text.strip()
    if len(line) > width:
        line, more = line[:width - 1].rstrip(), True
    return printable(line) + ("…" if more else "")


def listing(waiting: list[Waiting]) -> str:
    if not waiting:
        return "No comments are waiting."
    rows = [(str(w.id), printable(w.uri), first_line(w.author, 20), time.strftime("%Y-%m-%d %H:%M", time.localtime(w.created)),
             first_line(w.text)) for w in waiting]
    header = ("ID", "ESSAY", "AUTHOR", "POSTED", "FIRST LINE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = ["  ".join([cell.rjust(widths[0]) if i == 0 else cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
                       + [row[4]]) for row in [header, *rows]]
    count = f"{len(rows)} comment{'s' if len(rows) != 1 else ''} waiting"
    return "\n".join([*lines, "", f"{count}: invoke comments.approve ID[,ID…] or invoke comments.delete ID[,ID…]"])


def parse_ids(ids) -> list[int]:
    """'3', '3,5' or '3 5' (or a list of those) → [3, 5]."""
    words = [word for part in ([ids] if isinstance(ids, (str, int)) else ids)
             for word in re.split(r"[\s,]+", str(part)) if word]
    if not words:
        raise CommentError("Name at least one comment id, e.g. invoke comments.approve 12")
    bad = [word for word in words if not word.isdigit()]
    if bad:
        raise CommentError(f"Not a comment id: {', '.join(bad)}. Nothing was changed.")
    return list(dict.fromkeys(int(word) for word in words))


def _comments(database, ids: list[int], path: Path) -> dict[int, dict]:
    found = {id: database.comments.get(id) for id in ids}
    unknown = [str(id) for id, comment in found.items() if comment is None]
    if unknown:
        raise CommentError(f"No comment with id {', '.join(unknown)} in {path}. Nothing was changed.")
    return found


def approve(ids, db=None, env: dict | None = None) -> list[str]:
    """Make pending comments public, as Isso's activate link does, and send
    reply notifications for them. Returns what happened, one line each."""
    from kizuna.comments import notify

    ids = parse_ids(ids)
    with isso_database(db, env) as (database, conf):
        found = _comments(database, ids, existing(db))
        gone = [str(id) for id, comment in found.items() if comment["mode"] == DELETED]
        if gone:
            raise CommentError(f"Comment {', '.join(gone)} was deleted (only a placeholder for its replies is left)."
                               " Nothing was changed.")
        report = []
        for id, comment in found.items():
            if comment["mode"] == PUBLIC:
                report.append(f"Comment {id} was already public.")
                continue
            database.comments.activate(id)
            report.append(f"Approved comment {id}.")
            try:
                told = notify.reply_approved(database, conf, id)
            except (OSError, smtplib.SMTPException) as error:
                report.append(f"  but the reply notification for it could not be sent: {error}")
            else:
                report.extend(f"  told {address} of this reply" for address in told)
        return report


def delete(ids, db=None, backups: Path | None = None, env: dict | None = None) -> list[str]:
    """Back the database up, then delete the comments as Isso does: one with
    replies keeps a text-less placeholder so the replies keep their place."""
    ids = parse_ids(ids)
    path = existing(db)
    with isso_database(path, env) as (database, conf):
        _comments(database, ids, path)
        report = [f"Backed up the comments first: {backup.backup(path, backups, label='before-delete')}"]
        for id in ids:
            if database.comments.delete(id) is None:
                report.append(f"Deleted comment {id}.")
            else:
                report.append(f"Deleted comment {id}; it has replies, so an empty placeholder keeps their place.")
        return report
