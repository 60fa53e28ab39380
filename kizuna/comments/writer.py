"""The writer's voice in the thread: read one comment whole, answer it from
the terminal, and the mark that says a comment is the writer's.

A comment is the writer's when `invoke comments.reply` made it: its id and
time go into the table kizuna_writer, which only this module writes. Isso's
answers carry "writer": true for those comments (isso_rules), and the widget
and the baked pages show the mark from that alone, so nothing a reader types
can earn it. Readers cannot take the writer's name or its look-alikes either
(hardening.name_key), so the name alone does not mislead.
"""

import contextlib
import html
import time
from dataclasses import dataclass

from kizuna.comments.hardening import LIMITS
from kizuna.comments.store import DELETED, PENDING, PUBLIC, CommentError, existing, isso_database, read_only
from kizuna.settings import site_value

TABLE = "kizuna_writer"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (comment INTEGER NOT NULL, created REAL NOT NULL)"
STATES = {PUBLIC: "shown", PENDING: "waiting for you", DELETED: "deleted (a placeholder keeps its replies' place)"}


def writer_ids(execute) -> set[int]:
    """Ids of the comments the writer made here. `execute` runs SQL (a sqlite3
    connection's, or Isso's database's). A comment id Isso gave again after a
    deletion does not count: the time must match too."""
    try:
        rows = execute(f"SELECT w.comment FROM {TABLE} AS w JOIN comments AS c"
                       " ON c.id = w.comment AND c.created = w.created").fetchall()
    except Exception as error:  # noqa: BLE001 — no table yet: the writer has not replied here
        if "no such table" in str(error):
            return set()
        raise
    return {row[0] for row in rows}


def mark(replies: list, ids: set[int]) -> None:
    """Isso's thread answer, with "writer": true on the writer's comments (replies nested)."""
    for comment in replies:
        if comment.get("id") in ids:
            comment["writer"] = True
        mark(comment.get("replies") or [], ids)


@dataclass
class Comment:
    id: int
    uri: str
    title: str
    author: str
    created: float
    state: str
    text: str
    parent: int | None
    by_writer: bool


def comments(db=None, where: str = "1", args=()) -> list[Comment]:
    """Comments with their essay, as the writer reads them (names unescaped), oldest first."""
    with contextlib.closing(read_only(existing(db))) as connection:
        rows = connection.execute(
            "SELECT c.id, t.uri, t.title, c.author, c.created, c.mode, c.text, c.parent FROM comments AS c"
            f" JOIN threads AS t ON c.tid = t.id WHERE {where} ORDER BY c.created, c.id", args).fetchall()
        mine = writer_ids(connection.execute)
    return [Comment(id, uri, html.unescape(title or ""), html.unescape(author) if author else "anonymous", created,
                    STATES.get(mode, f"mode {mode}"), text or "", parent, id in mine)
            for id, uri, title, author, created, mode, text, parent in rows]


def whole(comment: Comment, parent: Comment | None = None) -> str:
    """One comment, all of it, safe for the terminal."""
    from kizuna.comments.moderation import first_line, printable

    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(comment.created))
    who = "you (the writer)" if comment.by_writer else printable(comment.author)
    lines = [f"Comment {comment.id} on {printable(comment.uri)} (“{printable(comment.title)}”), {comment.state}",
             f"  by {who}, {when}"]
    if parent is not None:
        lines.append(f"  in reply to comment {parent.id} by {printable(parent.author)}: {first_line(parent.text)}")
    lines.append("")
    lines.extend("    " + printable(line) for line in comment.text.splitlines() or [""])
    return "\n".join(lines)


def waiting(db=None) -> str:
    """Every comment waiting for the writer, whole, oldest first, and what to do with them."""
    found = comments(db, "c.mode = ?", (PENDING,))
    if not found:
        return "No comments are waiting."
    parents = {c.id: c for c in comments(db, f"c.id IN ({','.join('?' * len(found))})",
                                         [c.parent for c in found])} if any(c.parent for c in found) else {}
    blocks = [whole(comment, parents.get(comment.parent)) for comment in found]
    count = f"{len(found)} comment{'s' if len(found) != 1 else ''} waiting"
    return "\n\n".join([*blocks, f"{count}: invoke comments.approve ID[,ID…], invoke comments.delete ID[,ID…],"
                                   f" or answer one with invoke comments.reply ID \"…\""])


def show(id: int, db=None) -> str:
    found = comments(db, "c.id = ?", (id,))
    if not found:
        raise CommentError(f"No comment with id {id} in {existing(db)}.")
    comment = found[0]
    parent = comments(db, "c.id = ?", (comment.parent,)) if comment.parent is not None else []
    return whole(comment, parent[0] if parent else None)


def reply(id: int, text: str, db=None, env: dict | None = None) -> list[str]:
    """Answer comment `id` as the writer: shown at once, marked as the writer's,
    and its reply notices sent as an approval sends them."""
    from kizuna.comments.moderation import Report, _tell_readers

    text = (text or "").strip()
    if not text:
        raise CommentError('Write the reply after the id: invoke comments.reply 12 "Thank you for this."')
    if len(text) > LIMITS["text"]:
        raise CommentError(f"The reply is longer than {LIMITS['text']:,} characters. Nothing was sent.")
    with isso_database(db, env) as (database, conf):
        parent = database.comments.get(id)
        if parent is None:
            raise CommentError(f"No comment with id {id} in {existing(db)}. Nothing was sent.")
        if parent["mode"] == PENDING:
            raise CommentError(f"Comment {id} is still waiting: approve it first (invoke comments.approve {id}),"
                               f" then reply. Nothing was sent.")
        if parent["mode"] == DELETED:
            raise CommentError(f"Comment {id} was deleted. Nothing was sent.")
        (uri,) = database.execute("SELECT uri FROM threads WHERE id = ?", (parent["tid"],)).fetchone()
        name = site_value("KIZUNA_AUTHOR", environ=env)
        comment = database.comments.add(uri, {
            "text": text, "author": html.escape(name, quote=False), "email": None, "website": None,
            "parent": id, "mode": PUBLIC, "remote_addr": "", "notification": 0})
        database.execute(CREATE)
        database.execute(f"INSERT INTO {TABLE} (comment, created) VALUES (?, ?)", (comment["id"], comment["created"]))
        report = Report([f"Replied to comment {id} as {name}: comment {comment['id']}, shown now."])
        _tell_readers(database, conf, comment["id"], report)
        report.append("Rebuild or publish to bake it into the page for readers without JavaScript"
                      " (invoke publish); the live thread shows it already.")
        return report
