"""Limits that are fair to shared networks, refusals in plain words, and a
reader's own waiting comment (issue 11), through the staged production stack.

Every address on 127.0.0.0/8 is loopback here, and Isso keeps only the /24 of
an address: so readers at 127.0.0.2, 127.0.0.3… are different people on one
network, as behind a mobile carrier or an office."""

import json

import pytest

from support import approve_comments
from test_comment_promises import db_rows
from test_stage import form_headers, new_path, staged

RATE = 5  # comments one reader may send per minute, in this module
ESSAYS = {f"/essays/{name}/": name.replace("-", " ").title() for name in (
    "shared-network", "neighbours", "busy-network", "kept", "waiting", "rate")}


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """The stage with production's direct-reply limit (3) and 5 comments a minute per reader."""
    yield from staged(tmp_path_factory.mktemp("fairness"), {"KIZUNA_ISSO_RATELIMIT": str(RATE)}, workers=2,
                      build=False, unset=["KIZUNA_ISSO_DIRECT_REPLY"], essays=ESSAYS)


def post(stage, uri, text, reader: int, **fields):
    """POST /isso/new from 127.0.0.<reader>; (status, JSON or text)."""
    body = json.dumps({"text": text, "title": ESSAYS[uri], **fields}).encode()
    status, _, answer = stage.request("POST", new_path(uri), body, form_headers(stage.url), source=f"127.0.0.{reader}")
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, answer.decode(errors="replace")


def refusal(answer) -> str:
    """The words a reader is shown: Isso's error page's message (JSON or HTML)."""
    return answer["message"] if isinstance(answer, dict) else answer


def test_limits_count_one_reader_not_the_whole_network(stage):
    uri = "/essays/shared-network/"
    for n in range(3):
        assert post(stage, uri, f"Conversation {n} from one reader.", reader=2)[0] == 202
    status, answer = post(stage, uri, "A fourth conversation, too soon.", reader=2)
    assert status == 403, answer
    assert "You have started 3 conversations on this essay in the last hour" in refusal(answer), answer
    assert "You can still reply to a comment" in refusal(answer) and "still in the box" in refusal(answer), answer
    # Before: the whole /24 was refused with that reader.
    assert post(stage, uri, "Another reader on the same network.", reader=3)[0] == 202


def test_neighbours_and_the_reader_may_answer_at_once(stage):
    uri = "/essays/neighbours/"
    status, parent = post(stage, uri, "A first thought.", reader=4)
    assert status == 202, parent
    # Before: "edit time frame is still open" for everyone on the network, for 15 minutes.
    status, answer = post(stage, uri, "A neighbour answers at once.", reader=5, parent=parent["id"])
    assert status == 202, answer
    status, answer = post(stage, uri, "And I add a thought under my own.", reader=4, parent=parent["id"])
    assert status == 202, answer


def test_the_rate_limit_is_per_reader_and_the_network_has_its_own(stage):
    uri = "/essays/busy-network/"
    status, parent = post(stage, uri, "A thought many will answer.", reader=200)
    assert status == 202, parent
    for n in range(RATE - 1):  # the reader at .200 has one comment this minute already
        assert post(stage, uri, f"Reply {n}.", reader=201, parent=parent["id"])[0] == 202
    assert post(stage, uri, f"Reply {RATE - 1}.", reader=201, parent=parent["id"])[0] == 202
    status, answer = post(stage, uri, "One too many this minute.", reader=201, parent=parent["id"])
    assert status == 403 and f"You have sent {RATE} comments in the last minute" in refusal(answer), answer
    assert "wait a minute" in refusal(answer), answer
    # Readers who have sent nothing may still comment, up to ten readers' worth from one network.
    for reader in range(202, 250):
        for n in range(RATE):
            status, answer = post(stage, uri, f"Reply {n} from reader {reader}.", reader=reader, parent=parent["id"])
            if status != 202:
                break
        if status != 202:
            break
    assert status == 403 and "Many comments have come from your network" in refusal(answer), answer
    (last_minute,) = db_rows(stage, "SELECT COUNT(*) FROM comments WHERE created > strftime('%s', 'now') - 60")[0]
    assert last_minute == RATE * 10, last_minute
    db_rows(stage, "UPDATE comments SET created = created - 120")  # a minute later, for the other tests


def test_what_is_kept_of_a_sender_is_a_hash_for_an_hour(stage):
    uri = "/essays/kept/"
    assert post(stage, uri, "Kept for an hour, as a hash.", reader=77)[0] == 202
    rows = db_rows(stage, "SELECT sender FROM kizuna_senders")
    assert rows and not any("127.0.0" in sender for (sender,) in rows), rows
    assert all(len(sender) == 32 and int(sender, 16) >= 0 for (sender,) in rows), rows
    db_rows(stage, "UPDATE kizuna_senders SET created = created - 3700")
    assert post(stage, uri, "Another, an hour later.", reader=77)[0] == 202
    assert len(db_rows(stage, "SELECT sender FROM kizuna_senders")) == 1  # the old ones went


def test_a_reader_may_ask_after_their_waiting_comment_with_its_token_only(stage):
    uri = "/essays/waiting/"
    status, mine = post(stage, uri, "Is it still waiting?", reader=90)
    assert status == 202 and isinstance(mine.get("waiting"), str) and len(mine["waiting"]) == 32, mine
    _, other = post(stage, uri, "Someone else's comment.", reader=91)

    def asked(*items):
        status, _, body = stage.request("POST", "/isso/kizuna/waiting", json.dumps(list(items)).encode(),
                                        form_headers(stage.url))
        return status, (json.loads(body) if status == 200 else body)

    assert asked({"id": mine["id"], "token": mine["waiting"]}) == (200, [{"id": mine["id"], "state": "waiting"}])
    # Another comment's token, or a made-up one, tells nothing.
    assert asked({"id": other["id"], "token": mine["waiting"]})[1] == [{"id": other["id"], "state": "gone"}]
    assert asked({"id": mine["id"], "token": "0" * 32})[1] == [{"id": mine["id"], "state": "gone"}]
    approve_comments(stage.db, mine["id"])
    assert asked({"id": mine["id"], "token": mine["waiting"]})[1] == [{"id": mine["id"], "state": "shown"}]
    db_rows(stage, "DELETE FROM comments WHERE id = ?", (mine["id"],))
    assert asked({"id": mine["id"], "token": mine["waiting"]})[1] == [{"id": mine["id"], "state": "gone"}]
    for bad in ([{"id": "1", "token": "x"}], {"id": 1}, [{"id": 1, "token": "x"}] * 51, [{"id": 2 ** 70, "token": "x"}]):
        status, _, _ = stage.request("POST", "/isso/kizuna/waiting", json.dumps(bad).encode(), form_headers(stage.url))
        assert status == 400, bad
    status, _, _ = stage.request("POST", "/isso/kizuna/waiting", b"{not json", form_headers(stage.url))
    assert status == 400
