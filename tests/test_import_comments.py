"""Readers' comments moved in (issue 12): a real Disqus export and the
comments of the real WordPress export go into a real Isso's database under
the essays' threads, replies nested, nothing twice, the database backed up
first; spam, deleted, pingbacks and trackbacks stay out."""

import sqlite3

from kizuna.importing import comments
from support import IMPORTS, isso_thread

DISQUS = IMPORTS / "disqus-isso-tests.xml"
WORDPRESS = IMPORTS / "wordpress-theme-unit-test.xml"
ESSAY = "/essays/unresolved-desire-to-connect/"


def rows(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT id, parent, mode, author, text, created FROM comments ORDER BY id").fetchall()


def test_a_disqus_export_comes_in_nested_once_and_backed_up(isso, tmp_path):
    threads = {"https://example.org/": (ESSAY, "Unresolved Desire to Connect")}  # the scheme may differ
    found = comments.disqus_comments(DISQUS, threads)
    assert {c.old_id: (c.thread, c.state) for c in found} == {
        "4": (ESSAY, "approved"), "5": (ESSAY, "approved"), "6": (None, "approved"), "8": (None, "approved")}

    result = comments.import_comments(found, isso.db, env=isso.env, backups=tmp_path / "backups")
    assert result.counts["approved"] == 2 and result.counts["left out: on a page, or on no essay here (pages take no comments)"] == 2
    assert len(list((tmp_path / "backups").iterdir())) == 1
    shown = isso_thread(isso, ESSAY)
    (first,) = [c for c in shown.values() if c["author"] == "peter"]
    (reply,) = [c for c in shown.values() if c["author"] == "user"]
    assert reply["parent"] == first["id"] and reply["text"] == "<p>Hello, World.</p>"
    assert first["created"] == 1381432829.0  # 2013-10-10T19:20:29Z, as Disqus had it

    before = rows(isso.db)
    again = comments.import_comments(comments.disqus_comments(DISQUS, threads), isso.db, env=isso.env,
                                     backups=tmp_path / "backups")
    assert again.counts["already here"] == 2 and again.counts["approved"] == 0
    assert rows(isso.db) == before
    assert len(list((tmp_path / "backups").iterdir())) == 1  # nothing to write: no backup either


def test_wordpress_comments_keep_their_threads_states_and_nesting(isso, tmp_path):
    import xml.etree.ElementTree as ET

    root = ET.parse(WORDPRESS).getroot()
    wp = "{*}"  # http:// or https://, as WordPress versions write it
    posts = {item.findtext(f"{wp}post_id"): item for item in root.iter("item")
             if item.findall(f"{wp}comment")}
    # Every post with comments to the one essay this Isso knows, as an import would map them to theirs.
    threads = {post_id: (ESSAY, "Unresolved Desire to Connect") for post_id in posts}
    found = comments.wordpress_comments(WORDPRESS, threads)
    expected = {"approved": 0, "pending": 0, "other": 0}
    for item in posts.values():
        for element in item.findall(f"{wp}comment"):
            kind, approved = element.findtext(f"{wp}comment_type"), element.findtext(f"{wp}comment_approved")
            if kind in ("pingback", "trackback") or approved not in ("0", "1"):
                expected["other"] += 1
            else:
                expected["approved" if approved == "1" else "pending"] += 1
    assert expected["approved"] > 10 and expected["other"] > 0, expected

    result = comments.import_comments(found, isso.db, env=isso.env, backups=tmp_path / "backups")
    assert result.counts["approved"] == expected["approved"] and result.counts["pending"] == expected["pending"]
    assert sum(n for reason, n in result.counts.items() if reason.startswith("left out")) == expected["other"]
    shown = isso_thread(isso, ESSAY)
    assert len(shown) == expected["approved"]
    # Replies sit under the comment they answered, as they did on the old blog (Isso nests one level:
    # a reply to a reply sits under the conversation's first comment).
    with sqlite3.connect(isso.db) as connection:
        new_id = dict(connection.execute("SELECT old_id, comment FROM kizuna_imported WHERE source = 'wordpress'"))
    old = {c.old_id: c for c in found}

    def first(comment):
        while comment.parent and comment.parent in old:
            comment = old[comment.parent]
        return comment
    replies = [c for c in found if c.state == "approved" and c.parent and old.get(c.parent)
               and old[c.parent].state == "approved"]
    assert len(replies) >= 5, len(replies)
    for reply in replies:
        assert shown[new_id[reply.old_id]]["parent"] == new_id[first(reply).old_id], reply.old_id
    tops = [c for c in found if c.state == "approved" and not c.parent]
    assert all(shown[new_id[c.old_id]]["parent"] is None for c in tops)
    assert comments.import_comments(found, isso.db, env=isso.env).counts["already here"] == \
        expected["approved"] + expected["pending"]


def test_invoke_import_wordpress_brings_each_essays_comments_once(repo_copy):
    import json
    import xml.etree.ElementTree as ET

    from support import invoke

    wp = "{*}"
    expected = {}  # post_id → approved comments, from the export itself
    for item in ET.parse(WORDPRESS).getroot().iter("item"):
        if item.findtext(f"{wp}post_type") == "post":
            approved = [c for c in item.findall(f"{wp}comment") if c.findtext(f"{wp}comment_approved") == "1"
                        and c.findtext(f"{wp}comment_type") not in ("pingback", "trackback")]
            if approved:
                expected[item.findtext(f"{wp}post_id")] = len(approved)
    assert sum(expected.values()) > 10

    said = invoke(repo_copy, "import", "wordpress", str(WORDPRESS)).stdout
    assert "Comments: brought in" in said and "Backed up the comments first" not in said  # a new database
    report = (repo_copy / "import-report.txt").read_text()  # the whole of it, comments and redirects too
    assert "Comments: brought in 24 (23 approved, 1 waiting for you)" in report and "left out: pingback: 2" in report
    assert "Old addresses: " in report and "forward, for good" in report
    db = repo_copy / "comments" / "data" / "comments.db"
    state = json.loads((repo_copy / "content" / ".imported" / "wordpress.json").read_text())["items"]
    with sqlite3.connect(db) as connection:
        per_thread = dict(connection.execute(
            "SELECT threads.uri, COUNT(*) FROM comments JOIN threads ON threads.id = comments.tid"
            " WHERE comments.mode = 1 GROUP BY threads.uri"))
    assert per_thread == {state[post_id]["thread"]: count for post_id, count in expected.items()}
    assert oct(db.stat().st_mode & 0o777) == "0o600"

    before = rows(db)
    again = invoke(repo_copy, "import", "wordpress", str(WORDPRESS)).stdout
    assert "brought in 0" in again, again
    assert rows(db) == before
