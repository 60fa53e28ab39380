"""E-mail through a real SMTP server (aiosmtpd on loopback): the writer hears
of every new comment with links to approve or delete it, built on the public
endpoint; readers who opt in hear of replies once the replies are approved,
whether through Isso's link or from the terminal."""

import re
import sqlite3

from support import free_port, invoke, isso_post, isso_request, isso_thread
from kizuna import ROOT

ESSAY = "/essays/unresolved-desire-to-connect/"
TITLE = "Unresolved Desire to Connect"
AIKO, BEN, CHIYO = "192.0.2.10", "198.51.100.20", "203.0.113.30"  # readers' addresses, seen through the proxy


def admin_mail(isso, comment_id):
    return isso.mailbox.wait_for(lambda m, body: m["To"] == isso.writer and f"#isso-{comment_id}\n" in body)


def link(isso, body, action, comment_id):
    """The moderation link in a mail, which must be on the configured public endpoint."""
    found = re.search(rf"^{action.capitalize()} comment: (\S+)$", body, re.M)
    assert found, body
    assert found.group(1).startswith(f"http://localhost:{isso.port}/id/{comment_id}/{action}/"), found.group(1)
    return found.group(1).removeprefix(f"http://localhost:{isso.port}")


def test_new_comment_mail_approves_and_deletes_through_isso(isso_with_smtp):
    isso = isso_with_smtp
    kept = isso_post(isso, ESSAY, "Thank you for this — it was kind.", reader=AIKO, author="Aiko",
                     email="aiko@example.org", title=TITLE)["id"]
    spam = isso_post(isso, ESSAY, "Cheap watches at example.com", reader=BEN)["id"]

    mail = admin_mail(isso, kept)
    body = mail.get_body().get_content()
    assert mail["Subject"] == f"New comment posted on {TITLE}"
    assert "Aiko <aiko@example.org> wrote:" in body and "Thank you for this — it was kind." in body
    approve, delete = link(isso, body, "activate", kept), link(isso, body, "delete", kept)
    assert approve.split("/")[-1] == delete.split("/")[-1]  # one signed key for the comment

    # GET only asks the writer to confirm; it changes nothing.
    status, page = isso_request(isso, "GET", approve)
    assert status == 200 and b"confirm('Activate: Are you sure?')" in page
    assert isso_thread(isso, ESSAY) == {}
    # The confirm page repeats the request as a POST with no body: that activates.
    assert isso_request(isso, "POST", approve) == (200, b"Comment has been activated")
    assert list(isso_thread(isso, ESSAY)) == [kept]
    assert isso_thread(isso, ESSAY)[kept]["text"] == "<p>Thank you for this — it was kind.</p>"

    spam_delete = link(isso, admin_mail(isso, spam).get_body().get_content(), "delete", spam)
    status, page = isso_request(isso, "GET", spam_delete)
    assert status == 200 and b"confirm('Delete: Are you sure?')" in page
    assert isso_request(isso, "POST", spam_delete) == (200, b"Comment has been deleted")
    with sqlite3.connect(isso.db) as db:
        assert db.execute("SELECT id FROM comments").fetchall() == [(kept,)]
    assert list(isso_thread(isso, ESSAY)) == [kept]

    assert isso_request(isso, "POST", approve[:-3] + "xyz")[0] == 403  # a forged key does nothing


def confirm_address(isso, address):
    """What a reader does with the mail that asks whether replies may be sent
    to this address: open the link, press the button."""
    asked = isso.mailbox.wait_for(lambda m, body: m["To"] == address and m["Subject"].strip().startswith("Please confirm"))
    found = re.search(rf"http://localhost:{isso.port}(/kizuna/confirm/\S+)", asked.get_body().get_content())
    assert found, asked.get_body().get_content()
    status, page = isso_request(isso, "POST", found.group(1), b"", {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and b"Thank you" in page, page


def _conversation(isso):
    """Aiko opts in to replies, Chiyo does not; both are approved; Ben replies to each."""
    aiko = isso_post(isso, ESSAY, "I felt this too.", reader=AIKO, author="Aiko", email="aiko@example.org",
                     notification=1, title=TITLE)["id"]
    chiyo = isso_post(isso, ESSAY, "Me as well.", reader=CHIYO, author="Chiyo", email="chiyo@example.org")["id"]
    confirm_address(isso, "aiko@example.org")
    invoke(ROOT, "comments.approve", f"{aiko},{chiyo}", "--db", str(isso.db), env=isso.env)
    to_aiko = isso_post(isso, ESSAY, "Aiko, you are not alone.", reader=BEN, author="Ben", parent=aiko)["id"]
    to_chiyo = isso_post(isso, ESSAY, "Chiyo, same here.", reader=BEN, author="Ben", parent=chiyo)["id"]
    admin_mail(isso, to_aiko), admin_mail(isso, to_chiyo)
    return aiko, to_aiko, to_chiyo


def to(address):
    """A reply notice to this address (not the mail asking to confirm it)."""
    return lambda message, body: message["To"] == address and message["Subject"].startswith("Re:")


def check_reply_mail(isso, message, aiko):
    body = message.get_body().get_content()
    assert message["Subject"] == f"Re: New comment posted on {TITLE}"
    assert "Ben wrote:" in body and "Aiko, you are not alone." in body
    unsubscribe = re.search(r"^Unsubscribe from this conversation: (\S+)$", body, re.M).group(1)
    assert unsubscribe.startswith(f"http://localhost:{isso.port}/id/{aiko}/unsubscribe/aiko%40example.org/")
    assert message["List-Unsubscribe"] == unsubscribe
    status, page = isso_request(isso, "GET", unsubscribe.removeprefix(f"http://localhost:{isso.port}"))
    assert status == 200 and b"You have been unsubscribed" in page
    with sqlite3.connect(isso.db) as db:
        assert db.execute("SELECT notification FROM comments WHERE id = ?", (aiko,)).fetchone() == (0,)


def test_reply_notification_when_the_reply_is_approved_by_link(isso_with_smtp):
    isso = isso_with_smtp
    aiko, to_aiko, to_chiyo = _conversation(isso)
    assert not [m for m in isso.mailbox.messages if m["To"] == "aiko@example.org"
                and m["Subject"].startswith("Re:")]  # not while it waits

    approve = link(isso, admin_mail(isso, to_aiko).get_body().get_content(), "activate", to_aiko)
    assert isso_request(isso, "POST", approve) == (200, b"Comment has been activated")
    check_reply_mail(isso, isso.mailbox.wait_for(to("aiko@example.org")), aiko)


def test_reply_notification_when_the_reply_is_approved_from_the_terminal(isso_with_smtp):
    isso = isso_with_smtp
    aiko, to_aiko, to_chiyo = _conversation(isso)

    result = invoke(ROOT, "comments.approve", f"{to_aiko},{to_chiyo}", "--db", str(isso.db), env=isso.env)
    assert "told aiko@example.org of this reply" in result.stdout
    # The task sends before it returns: everything it will send is here now.
    replies = [m for m in isso.mailbox.messages if m["To"] != isso.writer and m["Subject"].startswith("Re:")]
    assert [m["To"] for m in replies] == ["aiko@example.org"]  # Chiyo did not ask to be told
    check_reply_mail(isso, replies[0], aiko)
    assert set(isso_thread(isso, ESSAY)) >= {to_aiko, to_chiyo}


def test_approving_from_the_terminal_while_mail_is_down_still_approves(isso_with_smtp):
    isso = isso_with_smtp
    aiko, to_aiko, to_chiyo = _conversation(isso)
    unreachable = {**isso.env, "KIZUNA_SMTP_PORT": str(free_port())}  # nothing listens there

    result = invoke(ROOT, "comments.approve", f"{to_aiko},{to_chiyo}", "--db", str(isso.db), env=unreachable,
                    check=False)
    assert result.returncode == 1, result.stdout  # a notice was not sent: said, and a failing exit
    assert f"Approved comment {to_aiko}." in result.stdout and f"Approved comment {to_chiyo}." in result.stdout
    assert "the reply notice to aiko@example.org could not be sent" in result.stdout
    assert "Traceback" not in result.stdout
    assert {to_aiko, to_chiyo} <= set(isso_thread(isso, ESSAY))  # the mail failure stopped nothing
