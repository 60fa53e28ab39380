"""Moderation from the terminal: approve waiting comments, or delete them
(after a backup). Safe while Isso runs. (Reading them, and answering them:
kizuna/comments/writer.py.) Each decision is noted, so that the comment's
e-mail and network address go when their days are up (retention.py)."""

import re
import sqlite3
from pathlib import Path

from kizuna.comments import backup, retention
from kizuna.comments.store import DELETED, PUBLIC, CommentError, existing, isso_database


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


class Report(list):
    """What a command did, one line each; .failed names the ids for which
    something went wrong (the command goes on with the others)."""

    def __init__(self, lines=()):
        super().__init__(lines)
        self.failed: list[int] = []


def approve(ids, db=None, env: dict | None = None) -> Report:
    """Make pending comments public, as Isso's activate link does, and send
    reply notifications for them. Each id on its own: a failure (a locked
    database, the mail server, a reader's address) is reported for that id
    and the next goes on. Returns what happened, one line each; unknown or
    deleted ids stop it before anything changes (CommentError)."""
    ids = parse_ids(ids)
    with isso_database(db, env) as (database, conf):
        found = _comments(database, ids, existing(db))
        gone = [str(id) for id, comment in found.items() if comment["mode"] == DELETED]
        if gone:
            raise CommentError(f"Comment {', '.join(gone)} was deleted (only a placeholder for its replies is left)."
                               " Nothing was changed.")
        report = Report()
        for id, comment in found.items():
            if comment["mode"] == PUBLIC:
                report.append(f"Comment {id} was already public.")
                continue
            try:
                database.comments.activate(id)
            except (sqlite3.Error, OSError) as error:
                report.append(f"Comment {id} could not be approved ({error}); it is still waiting:"
                              f" run invoke comments.approve {id} again.")
                report.failed.append(id)
                continue
            report.append(f"Approved comment {id}.")
            _decided(database, id, report)
            if not _tell_readers(database, conf, id, report):
                report.failed.append(id)
        if report.failed:
            report.append(_after_failures(report.failed))
        return report


def _tell_readers(database, conf, id: int, report: Report) -> bool:
    """Send the reply notices for comment `id`, now public, and report on
    each; False if any was not sent. Nothing here may stop the approval."""
    from kizuna.comments import notify

    try:
        notices = notify.reply_approved(database, conf, id)
    except Exception as error:  # noqa: BLE001 — the comment is approved; whatever broke, say it and go on
        report.append(f"  but its reply notices could not be sent: {printable(str(error)) or type(error).__name__}")
        return False
    report.extend(f"  told {address} of this reply" for address in notices.sent)
    report.extend(f"  not told {address}: its owner has not confirmed it for reply notices"
                  for address in notices.unconfirmed)
    report.extend(f"  but the reply notice to {_shown(address)} was not sent: it is not a plain e-mail address"
                  f" (fix or clear comments.email in the database)" for address in notices.skipped)
    report.extend(f"  but the reply notice to {address} could not be sent:"
                  f" {printable(str(error)) or type(error).__name__}" for address, error in notices.failed)
    return not (notices.skipped or notices.failed)


def _shown(address) -> str:
    """A stored address as the writer may safely see it: CR, LF and other
    control characters spelled out (\\r\\n), never acted on by the terminal."""
    if not address:
        return "(no address)"
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(address))


def _after_failures(ids: list[int]) -> str:
    named = ", ".join(map(str, ids))
    return (f"Not everything went through for comment {named} (see above). A comment reported as approved stays"
            " approved, and approving it again sends nothing: for mail, check the KIZUNA_SMTP_* settings or the"
            " reader's address, and tell the reader yourself if it matters.")


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
                _decided(database, id, report)
        return report


def _decided(database, id: int, report: list[str]) -> None:
    """Note when the writer decided: the comment's e-mail and network address
    are removed KIZUNA_ISSO_RETENTION_DAYS later (kizuna/comments/retention.py).
    Not noted, the next purge starts those days instead: a little later."""
    try:
        retention.record_decision(database.path, id)
    except sqlite3.Error as error:
        report.append(f"  (when it was decided could not be noted: {error}; its e-mail and network address will"
                      " be removed a little later than the privacy page says)")
