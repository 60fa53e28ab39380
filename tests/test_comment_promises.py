"""The comment stack's promises, attacked as a hostile reader would, through
the staged production setup (Debian's nginx in front of gunicorn Isso, as
`invoke stage` runs it) with a real SMTP server on loopback for the writer's
mail. Each test here failed before the fix it names (issue 8).

The stage is rendered as for an HTTPS site (Secure cookies, HSTS), though
served over plain http on loopback. Every reader on loopback is one network
to Isso (it keeps the /24 of an address), and Isso allows three top-level
comments per network and essay (per hour, now): so each test comments on an
essay of its own."""

import contextlib
import http.client
import json
import re
import resource
import sqlite3
import time
import urllib.parse
from types import SimpleNamespace

import pytest

from support import ESSAY_PATH, Mailbox, approve_comments, free_port, invoke, thread_comments
from kizuna import ROOT
from test_stage import CACHE_PASSED, children, comment_ids, form_headers, fresh, new_path, staged

TITLE = "Unresolved Desire to Connect"
WRITER = "writer@kizuna.test"
ESSAYS = {ESSAY_PATH: TITLE, **{f"/essays/{name}/": name.replace("-", " ").title() for name in (
    "edited", "windowed", "titled", "fields", "full-disk", "private", "links", "reused", "cached", "counted",
    "network", "impostor", "cookies", "replied", "rewritten")}}


@pytest.fixture(scope="module")
def mailbox():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SimpleNamespace(port=controller.port, messages=box.messages, wait_for=box.wait_for)
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def stage(tmp_path_factory, mailbox):
    """The stage with production's direct-reply limit (3), mail to the writer
    through the module's SMTP server, and only ESSAYS open for comments."""
    mail = {"KIZUNA_SMTP_HOST": "127.0.0.1", "KIZUNA_SMTP_PORT": str(mailbox.port), "KIZUNA_SMTP_SECURITY": "none",
            "KIZUNA_SMTP_TO": WRITER, "KIZUNA_SMTP_FROM": "Kizuna comments <comments@kizuna.test>",
            "KIZUNA_ISSO_NOTIFY": "smtp", "KIZUNA_ISSO_REPLY_NOTIFICATIONS": "true",
            "KIZUNA_ISSO_RATELIMIT": "100000", "KIZUNA_AUTHOR": "K.A.L.T"}
    yield from staged(tmp_path_factory.mktemp("promises"), mail, workers=2, build=False, https=True,
                      unset=["KIZUNA_ISSO_DIRECT_REPLY"], essays=ESSAYS)


def post(stage, uri, text, headers=None, **fields):
    """POST /isso/new as the widget does (with the page's title); (status,
    headers, JSON or text)."""
    body = json.dumps({"text": text, "title": ESSAYS.get(uri, "A page"), **fields}).encode()
    status, answer_headers, answer = stage.request("POST", new_path(uri), body, form_headers(stage.url, extra=headers))
    try:
        return status, answer_headers, json.loads(answer)
    except ValueError:
        return status, answer_headers, answer.decode(errors="replace")


def posted(stage, uri, text, **fields):
    status, headers, answer = post(stage, uri, text, **fields)
    assert status == 202, (status, answer)
    return answer["id"], edit_cookie(headers, answer["id"])


def edit_cookie(headers, cid) -> str:
    """The reader's edit cookie `N=…` from Isso's answer (through nginx)."""
    for cookie in headers.get_all("Set-Cookie") or []:
        if cookie.startswith(f"{cid}="):
            return cookie.split(";")[0]
    raise AssertionError(f"no edit cookie for {cid}: {headers.get_all('Set-Cookie')}")


def read(stage, uri) -> dict[int, dict]:
    status, _, body = fresh(stage, "GET", "/isso/?uri=" + urllib.parse.quote(uri, safe=""))
    return {} if status == 404 else thread_comments(body)


def pending_listing(stage) -> str:
    return invoke(ROOT, "comments.pending", "--db", str(stage.db)).stdout


def db_rows(stage, sql, args=()):
    with contextlib.closing(sqlite3.connect(stage.db, timeout=10)) as connection:
        with connection:
            return connection.execute(sql, args).fetchall()


def admin_mail(mailbox, subject_start, cid):
    return mailbox.wait_for(lambda m, body: m["To"] == WRITER and m["Subject"].startswith(subject_start)
                            and f"#isso-{cid}\n" in body)


# --- 1. Edits of approved comments wait for the writer again; the edit window closes ----

def test_an_edited_approved_comment_is_hidden_until_approved_again(stage, mailbox):
    uri = "/essays/edited/"
    cid, cookie = posted(stage, uri, "A kind and careful thought.", author="Mika")
    approve_comments(stage.db, cid)
    time.sleep(CACHE_PASSED)  # past nginx's cache of the thread
    assert read(stage, uri)[cid]["text"] == "<p>A kind and careful thought.</p>"

    as_writer = json.dumps({"text": "The writer agrees with me.", "author": "K.A.L.T"}).encode()
    status, _, answer = stage.request("PUT", f"/isso/id/{cid}", as_writer, form_headers(stage.url, extra={"Cookie": cookie}))
    assert status == 400 and b"the writer&#39;s name" in answer, answer

    edit = json.dumps({"text": "Buy cheap pills at spam.example", "author": "Someone else",
                       "website": "https://spam.example/"}).encode()
    status, headers, answer = stage.request("PUT", f"/isso/id/{cid}", edit,
                                            form_headers(stage.url, extra={"Cookie": cookie}))
    assert status == 200, answer
    assert json.loads(answer)["mode"] == 2  # the reader is told it waits
    for _ in range(2):  # at once (nginx may still hold the approved text) and after the cache
        shown = read(stage, uri)
        assert "spam.example" not in json.dumps(shown) and "Someone else" not in json.dumps(shown), shown
        time.sleep(CACHE_PASSED)
    assert cid not in read(stage, uri)
    assert re.search(rf"^Comment {cid} on {re.escape(uri)} .*waiting for you\n  by Someone else,", pending_listing(stage),
                     re.M)
    mail = admin_mail(mailbox, "Edited comment waits on Edited", cid)
    body = mail.get_body().get_content()
    assert "Buy cheap pills" in body and f"/isso/id/{cid}/activate/" in body

    approve_comments(stage.db, cid)
    time.sleep(CACHE_PASSED)
    assert read(stage, uri)[cid]["author"] == "Someone else"


def test_a_link_sent_before_an_edit_cannot_approve_the_edited_words(stage, mailbox):
    uri = "/essays/rewritten/"
    cid, cookie = posted(stage, uri, "Gentle words the writer will read in the mail.")
    before = re.search(r"^Activate comment: \S+(/isso/id/\S+)$",
                       admin_mail(mailbox, "New comment posted", cid).get_body().get_content(), re.M).group(1)
    time.sleep(1.1)  # the link's time is kept in whole seconds
    edit = json.dumps({"text": "Something else entirely, unseen by the writer."}).encode()
    assert stage.request("PUT", f"/isso/id/{cid}", edit, form_headers(stage.url, extra={"Cookie": cookie}))[0] == 200
    status, _, answer = stage.request("POST", before, headers={"Origin": stage.url})
    assert status == 403 and b"edited after this link" in answer, answer
    assert db_rows(stage, "SELECT mode FROM comments WHERE id = ?", (cid,)) == [(2,)]
    mail = admin_mail(mailbox, "Edited comment waits on Rewritten", cid)
    assert "Something else entirely" in mail.get_body().get_content()
    after = re.search(r"^Activate comment: \S+(/isso/id/\S+)$", mail.get_body().get_content(), re.M).group(1)
    assert stage.request("POST", after, headers={"Origin": stage.url})[:3:2] == (200, b"Comment has been activated")


def test_edit_and_delete_rights_end_with_the_window(stage):
    uri = "/essays/windowed/"
    cid, cookie = posted(stage, uri, "Words I may still want to change.")
    first = json.dumps({"text": "Words I changed within the window."}).encode()
    status, headers, answer = stage.request("PUT", f"/isso/id/{cid}", first, form_headers(stage.url, extra={"Cookie": cookie}))
    assert status == 200, answer
    fresh = edit_cookie(headers, cid)  # Isso hands out a new cookie with every edit
    # Sixteen minutes later (Isso's window is 15): the fresh cookie opens nothing.
    db_rows(stage, "UPDATE comments SET created = created - 960 WHERE id = ?", (cid,))
    later = json.dumps({"text": "Words changed long after."}).encode()
    for method, body in (("PUT", later), ("DELETE", None)):
        status, _, answer = stage.request(method, f"/isso/id/{cid}", body, form_headers(stage.url, extra={"Cookie": fresh}))
        assert status == 403, (method, status, answer)
    assert db_rows(stage, "SELECT text FROM comments WHERE id = ?", (cid,)) == [("Words I changed within the window.",)]


# --- 2. Only essays that exist get threads, with the site's titles; fields are bounded ----

def test_made_up_pages_get_no_thread_and_the_database_does_not_grow(stage):
    before = stage.db.stat().st_size
    statuses = []
    for n in range(50):
        title = "x" * 60_000 if n % 2 else "A fine title"
        statuses.append(post(stage, f"/made-up/{n}/", "A comment on a page that is not there.", title=title)[0])
    assert set(statuses[::2]) == {404} and set(statuses[1::2]) == {400}, statuses  # no such page; title too long
    status, _, answer = post(stage, ESSAY_PATH + "?utm=1", "The essay's address with a query.")  # no title: Isso fetched
    assert status == 404, answer
    assert db_rows(stage, "SELECT COUNT(*) FROM threads WHERE uri NOT IN (%s)" % ",".join("?" * len(ESSAYS)),
                   list(ESSAYS)) == [(0,)]
    assert stage.db.stat().st_size - before < 16_384, "the database grew for pages that do not exist"


def test_the_thread_title_and_mail_subject_come_from_the_site(stage, mailbox):
    cid, _ = posted(stage, "/essays/titled/", "A first comment on this essay.",
                    title="Win a prize\r\nBcc: victim@example.org")
    assert db_rows(stage, "SELECT title FROM threads WHERE uri = ?", ("/essays/titled/",)) == [("Titled",)]
    mail = admin_mail(mailbox, "New comment posted on", cid)
    assert mail["Subject"] == "New comment posted on Titled" and mail["Bcc"] is None


@pytest.mark.parametrize("fields, said", [
    ({"text": "x" * 20_001}, "text is too long"),
    ({"text": "Fine words.", "author": "n" * 81}, "author is too long"),
    ({"text": "Fine words.", "website": "https://example.org/" + "p" * 250}, "website is too long"),
    ({"text": "Fine words.", "author": "Eve\x00"}, "author holds invisible or control characters"),
    ({"text": "Nul \x00 inside."}, "text holds control characters"),
    ({"text": "Fine words.", "email": "reader@example.org\r\nBcc: victim@example.org"}, "email holds invisible"),
    ({"text": "Fine words.", "email": "not an address"}, "email is not an e-mail address"),
    ({"text": "Fine words.", "email": "a@b@example.org"}, "email is not an e-mail address"),
])
def test_every_stored_field_is_bounded_and_plain(stage, fields, said):
    status, _, answer = post(stage, "/essays/fields/", **fields)
    assert status == 400 and said in answer, (status, answer)


# --- 2 and 9. A full disk is a 503 that loses nothing acknowledged -------------------

def test_a_full_disk_answers_503_and_loses_nothing(stage):
    uri = "/essays/full-disk/"
    kept, _ = posted(stage, uri, "Stored before the disk filled.")
    master = stage.processes["comments"].pid
    workers = children(master)
    size = stage.db.stat().st_size
    limits = {pid: resource.prlimit(pid, resource.RLIMIT_FSIZE) for pid in [master, *workers]}
    try:
        for pid, (soft, hard) in limits.items():  # the database cannot grow: as a full disk
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, hard))
        status, _, answer = post(stage, uri, "A long reply that needs new pages. " * 300)
        assert status == 503, (status, answer)
        assert "disk" in json.dumps(answer) and "try again" in json.dumps(answer)
    finally:
        for pid, limit in limits.items():
            resource.prlimit(pid, resource.RLIMIT_FSIZE, limit)
    assert kept in comment_ids(stage.db, uri)
    assert db_rows(stage, "PRAGMA integrity_check") == [("ok",)]
    status, _, answer = post(stage, uri, "Room again, and stored.")
    assert status == 202, answer


# --- 3. The admin page is only where the writer allows it -----------------------------

@pytest.mark.parametrize("path", ["/isso/isso/admin/", "/isso//isso/admin/", "/isso/%69sso/admin/",
                                  "/isso/js/../isso/admin/", "/isso/isso/isso/admin/"])
def test_the_admin_page_cannot_be_reached_through_another_path(stage, path):
    password = stage.commands["comments"][1]["KIZUNA_ISSO_ADMIN_PASSWORD"]
    status, headers, body = stage.request("POST", path.replace("admin", "login"),
                                          urllib.parse.urlencode({"password": password}).encode(),
                                          {"Origin": stage.url, "Content-Type": "application/x-www-form-urlencoded"},
                                          source="127.0.0.2")
    assert not any("admin-session" in c for c in headers.get_all("Set-Cookie") or []), (status, body[:200])
    status, _, body = stage.request("GET", path, source="127.0.0.2")
    assert status in (403, 404, 415), (status, body[:200])
    assert b"Isso admin" not in body and b"isso-admin" not in body


# --- 5. Nothing public confirms an e-mail guess or shows who asked for mail ----------

def test_no_author_hash_or_notification_choice_in_public_answers(stage):
    uri = "/essays/private/"
    status, headers, answer = post(stage, uri, "Mine, with my address.", email="mika@example.org", notification=1)
    assert status == 202 and "hash" not in answer and "notification" not in answer, answer
    cid = answer["id"]
    status, _, guess = post(stage, uri, "A stranger guessing.", email="mika@example.org")
    assert status == 202 and "hash" not in guess
    approve_comments(stage.db, cid)
    time.sleep(CACHE_PASSED)
    shown = read(stage, uri)[cid]
    assert "hash" not in shown and "notification" not in shown and "email" not in shown, shown
    status, _, view = stage.request("GET", f"/isso/id/{cid}", headers={"Cookie": edit_cookie(headers, cid)})
    assert status == 200 and "hash" not in json.loads(view), view


# --- 6. No mail goes to an address whose owner did not confirm it -----------------------

def to_and_about(address, subject_start):
    return lambda message, body: message["To"] == address and message["Subject"].strip().startswith(subject_start)


def test_reply_notices_go_only_to_addresses_their_owners_confirmed(stage, mailbox):
    uri = "/essays/replied/"
    aiko, _ = posted(stage, uri, "I would like to hear replies.", author="Hana", email="hana@example.org",
                     notification=1)
    eve, _ = posted(stage, uri, "Signing someone else up.", author="Eve", email="victim@example.org", notification=1)
    asked = mailbox.wait_for(to_and_about("hana@example.org", "Please confirm: replies to your comment on Replied"))
    link = re.search(r"/isso/kizuna/confirm/\S+", asked.get_body().get_content()).group(0)
    mailbox.wait_for(to_and_about("victim@example.org", "Please confirm"))  # the victim hears once, and can ignore it

    status, _, page = stage.request("GET", link)  # opening the link changes nothing yet
    assert status == 200 and b"<form method=post" in page and b"hana@example.org" in page
    form = {"Origin": stage.url, "Content-Type": "application/x-www-form-urlencoded"}
    assert stage.request("POST", link[:-4] + "AAAA", b"", form)[0] == 403  # a forged link
    status, _, page = stage.request("POST", link, b"", form)
    assert status == 200 and b"Thank you" in page

    # Replies to both, approved from the terminal and through Isso's own link.
    db_rows(stage, "UPDATE comments SET created = created - 3600 WHERE id IN (?, ?)", (aiko, eve))
    production = stage.commands["comments"][1]  # the server's environment: the tool mails as Isso does
    invoke(ROOT, "comments.approve", f"{aiko},{eve}", "--db", str(stage.db), env=production)
    to_aiko, _ = posted(stage, uri, "Hana, thank you for this.", parent=aiko)
    to_eve, _ = posted(stage, uri, "Eve, hello.", parent=eve)
    invoke(ROOT, "comments.approve", str(to_eve), "--db", str(stage.db), env=production)
    activate = re.search(r"^Activate comment: \S+(/isso/id/\S+)$",
                         admin_mail(mailbox, "New comment posted", to_aiko).get_body().get_content(), re.M).group(1)
    assert stage.request("POST", activate, headers={"Origin": stage.url})[0] == 200

    notice = mailbox.wait_for(to_and_about("hana@example.org", "Re: New comment posted on Replied"))
    assert "Hana, thank you for this." in notice.get_body().get_content()
    time.sleep(1.5)  # Isso sends from a thread: give a wrong mail time to arrive
    to_victim = [m["Subject"] for m in mailbox.messages if m["To"] == "victim@example.org"]
    assert to_victim == ["Please confirm: replies to your comment on Replied"], to_victim


# --- 7. Moderation links act only on their own comment, and expire ---------------------

def signed(stage, value, days_ago: float = 0.0) -> str:
    """A key as Isso signs it into the writer's mail, made `days_ago`."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class Then(TimestampSigner):
        def get_timestamp(self):
            return int(time.time() - days_ago * 86400)

    (secret,) = db_rows(stage, "SELECT value FROM preferences WHERE key = 'session-key'")[0]
    return URLSafeTimedSerializer(secret, signer=Then).dumps(value)


def test_a_link_for_a_deleted_comment_cannot_approve_the_one_that_took_its_id(stage, mailbox):
    uri = "/essays/reused/"
    old, _ = posted(stage, uri, "Spam the writer deletes.")
    link = re.search(r"^Activate comment: \S+(/isso/id/\S+)$",
                     admin_mail(mailbox, "New comment posted", old).get_body().get_content(), re.M).group(1)
    invoke(ROOT, "comments.delete", str(old), "--db", str(stage.db), "--dir", str(stage.db.parent / "backups"))
    time.sleep(1.1)  # the link's time is kept in whole seconds
    new, _ = posted(stage, uri, "Another reader's comment, still unread.")
    assert new == old, "SQLite gave the new comment another id; this test needs the id reused"
    status, _, answer = stage.request("POST", link, headers={"Origin": stage.url})
    assert status == 403, answer
    assert db_rows(stage, "SELECT mode FROM comments WHERE id = ?", (new,)) == [(2,)]


def test_a_link_acts_only_on_the_comment_it_names_and_expires(stage):
    uri = "/essays/links/"
    one, _ = posted(stage, uri, "The first comment, as written.")
    two, _ = posted(stage, uri, "The second comment, as written.")
    rewrite = json.dumps({"text": "Rewritten through a link for another comment."}).encode()
    status, _, answer = stage.request("POST", f"/isso/id/{one}/edit/{signed(stage, two)}", rewrite,
                                      form_headers(stage.url))
    assert status == 403, answer
    assert db_rows(stage, "SELECT text FROM comments WHERE id IN (?, ?) ORDER BY id", (one, two)) == [
        ("The first comment, as written.",), ("The second comment, as written.",)]

    db_rows(stage, "UPDATE comments SET created = created - 9 * 86400 WHERE id = ?", (one,))  # left unread
    status, _, answer = stage.request("POST", f"/isso/id/{one}/activate/{signed(stage, one, days_ago=8)}",
                                      headers={"Origin": stage.url})
    assert status == 403 and b"expired" in answer, answer
    status, _, answer = stage.request("POST", f"/isso/id/{one}/activate/{signed(stage, one, days_ago=6)}",
                                      headers={"Origin": stage.url})
    assert (status, answer) == (200, b"Comment has been activated")


# --- 8. Reads are cached per essay, whatever else the query holds ----------------------

def test_extra_query_parameters_do_not_bust_the_cache(stage):
    uri = "/essays/cached/"
    cid, _ = posted(stage, uri, "Read by many.")
    approve_comments(stage.db, cid)
    path = "/isso/?uri=" + urllib.parse.quote(uri, safe="")
    stage.request("GET", path)
    caches = []
    for n in range(20):
        for extra in (f"&z={n}", f"&limit={n}", f"&after={n}&nested_limit={n}", f"&offset={n}&sort=newest"):
            status, headers, body = stage.request("GET", path + extra)
            assert status == 200
            caches.append(headers["X-Cache"])
    assert set(caches) <= {"HIT", "UPDATING"} or caches.count("MISS") + caches.count("EXPIRED") <= 3, caches


# --- 9. Odd headers and queries are 4xx, never 5xx -------------------------------------

def raw_request(stage, method, path, headers: list[tuple[str, str]], body=b""):
    connection = http.client.HTTPConnection("127.0.0.1", stage.stage.port, timeout=15)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("method, headers", [
    ("GET", [("Origin", "http://a:b")]),
    ("GET", [("Referer", "http://a:b/essay/")]),
    ("POST", [("Origin", "SITE"), ("Origin", "http://evil.example"), ("Content-Type", "application/json")]),
    ("POST", [("Origin", "SITE"), ("Referer", "http://a:b"), ("Content-Type", "application/json")]),
])
def test_odd_origins_get_a_4xx(stage, method, headers):
    headers = [(name, stage.url if value == "SITE" else value) for name, value in headers]
    if method == "GET":
        status, body = raw_request(stage, "GET", "/isso/?uri=" + urllib.parse.quote(ESSAY_PATH, safe=""), headers)
        assert status in (200, 400), (status, body[:200])  # nginx may answer from its cache
        status, body = raw_request(stage, "POST", "/isso/preview", headers + [("Content-Type", "application/json")],
                                   b'{"text": "hi there"}')
    else:
        status, body = raw_request(stage, "POST", new_path("/essays/fields/"), headers, b'{"text": "Odd headers."}')
    assert 400 <= status < 500, (status, body[:300])


# --- 11. The database is private; no one can pass for the writer; cookies are locked ----

def test_the_database_is_readable_by_its_owner_only(stage):
    assert stage.db.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", ["K.A.L.T", "k a l t", "K.\u200bA.L.T", "\u202eT.L.A.K", "К.А.L.T", "Ｋ．Ａ．Ｌ．Ｔ"])
def test_no_reader_can_pass_for_the_writer(stage, name):
    status, _, answer = post(stage, "/essays/impostor/", "Trust me, I wrote this essay.", author=name)
    assert status == 400, (status, answer)


def test_cookies_are_out_of_scripts_reach_and_https_only(stage):
    status, headers, answer = post(stage, "/essays/cookies/", "A comment that sets an edit cookie.")
    assert status == 202
    cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith(f"{answer['id']}="))
    flags = {flag.strip().lower() for flag in cookie.split(";")[1:]}
    assert {"httponly", "secure"} <= flags, cookie
    assert headers.get("X-Set-Cookie") is None  # the script-readable copy is not passed on
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    password = stage.commands["comments"][1]["KIZUNA_ISSO_ADMIN_PASSWORD"]
    status, headers, _ = stage.request("POST", "/isso/login/", urllib.parse.urlencode({"password": password}).encode(),
                                       {"Origin": stage.url, "Content-Type": "application/x-www-form-urlencoded"})
    session = next(c for c in headers.get_all("Set-Cookie") if c.startswith("admin-session="))
    assert {"httponly", "secure"} <= {flag.strip().lower() for flag in session.split(";")[1:]}, session


# --- 12. Counts count what is shown; the direct-reply limit expires ---------------------

def test_a_reply_under_a_waiting_parent_is_not_counted(stage):
    uri = "/essays/counted/"
    parent, _ = posted(stage, uri, "A parent the writer has not read yet.")
    db_rows(stage, "UPDATE comments SET created = created - 3600 WHERE id = ?", (parent,))  # past reply-to-self
    reply, _ = posted(stage, uri, "A reply, approved first.", parent=parent)
    shown, _ = posted(stage, uri, "Another comment, approved.")
    approve_comments(stage.db, reply, shown)
    time.sleep(CACHE_PASSED)
    assert set(read(stage, uri)) == {shown}
    status, _, counts = fresh(stage, "POST", "/isso/count", json.dumps([uri]).encode(), form_headers(stage.url))
    assert (status, json.loads(counts)) == (200, [1])


def test_the_direct_reply_limit_counts_the_last_hour(stage):
    uri = "/essays/network/"
    ids = [posted(stage, uri, f"Top-level comment number {n} from this network.")[0] for n in range(3)]
    status, _, answer = post(stage, uri, "A fourth, too soon.")
    assert status == 403 and "conversations on this essay in the last hour" in json.dumps(answer), answer
    db_rows(stage, "UPDATE comments SET created = created - 3700 WHERE id IN (?, ?, ?)", ids)
    status, _, answer = post(stage, uri, "A fourth, an hour later.")
    assert status == 202, answer
