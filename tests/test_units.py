"""Fast, in-process tests of the pure functions behind the servers and tasks:
request hardening (with werkzeug's own test environments, as Isso's tests
use), encoding negotiation, comment ids, the rsync command line, the
settings table's defaults. The end-to-end tests elsewhere start the real
servers; these pin each rule down on its own, in milliseconds."""

import json
from pathlib import Path

import pytest
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from kizuna import settings
from kizuna.comments import hardening
from kizuna.comments.moderation import parse_ids
from kizuna.comments.store import CommentError
from kizuna.publish import rsync_command
from kizuna.serve import accepted_encodings


def environ(method="POST", path="/new", query="uri=%2Fessays%2Fa%2F", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    return EnvironBuilder(method=method, path=path, query_string=query, data=data, headers=headers or {},
                          content_type="application/json" if data is not None else None).get_environ()


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "comment-threads.json"
    path.write_text(json.dumps({"threads": {"/essays/a/": "An Essay"}}))
    return hardening.SiteThreads(path)


# --- hardening: the shape of a comment ------------------------------------------

@pytest.mark.parametrize("data, reason", [
    ([], "JSON must be an object"),
    ({"text": 5}, "text must be a string or null"),
    ({"text": "x" * 20_001}, "text is too long"),
    ({"text": "fine", "author": "a" * 81}, "author is too long"),
    ({"text": "nul \x00 here"}, "text holds control characters"),
    ({"text": "fine", "author": "Eve\u200b"}, "author holds invisible or control characters"),
    ({"text": "fine", "website": "https://x.example/\n"}, "website holds invisible or control characters"),
    ({"text": "fine", "email": "a@b"}, "email is not an e-mail address"),
    ({"text": "fine", "email": "a b@c.example"}, "email is not an e-mail address"),
    ({"text": "fine", "parent": "1"}, "parent must be an integer or null"),
    ({"text": "fine", "parent": 2**64}, "parent must be an integer or null"),
    ({"text": "fine", "notification": 2}, "notification must be 0, 1 or null"),
    ({"text": "fine", "author": "K. A. L. T."}, "is the writer's name"),
])
def test_check_comment_refuses(data, reason):
    assert reason in (hardening.check_comment(data, writer="K.A.L.T") or "")


@pytest.mark.parametrize("data", [
    {"text": "Plain words."},
    {"text": "Words with a line\nbreak and a tab\t.", "author": "Jōji Sato", "email": "joji@example.org",
     "website": "https://joji.example/", "parent": 3, "notification": 1},
    {"text": "right-to-left in a text is fine: \u202eolleh", "author": "مريم"},
    {"text": "A title from the widget is replaced anyway.", "title": "Line\r\nbreak"},
])
def test_check_comment_takes(data):
    assert hardening.check_comment(data, writer="K.A.L.T") is None


@pytest.mark.parametrize("name", ["K.A.L.T", "kalt", "K.\u200bA.L.T", "К.А.L.Т", "Ｋ．Ａ．Ｌ．Ｔ"])
def test_names_that_read_as_the_writers(name):
    assert hardening.name_key(name) == hardening.name_key("K.A.L.T")


# --- hardening: whole requests ---------------------------------------------------

def test_new_comment_on_a_listed_essay_gets_the_sites_title(site):
    env = environ(body={"text": "Hello there.", "title": "Spoofed\r\nBcc: x@example.org"})
    assert hardening.problem(env, site) is None
    assert json.loads(env["wsgi.input"].read())["title"] == "An Essay"


def test_new_comment_elsewhere_is_not_found(site):
    env = environ(query="uri=%2Fmade-up%2F", body={"text": "Hello there.", "title": "x"})
    assert isinstance(hardening.problem(env, site), NotFound)
    missing = hardening.SiteThreads(Path("/nonexistent/comment-threads.json"))
    assert isinstance(hardening.problem(environ(body={"text": "Hello there."}), missing), NotFound)


@pytest.mark.parametrize("headers", [{"Origin": "http://a:b"}, {"Origin": "https://x.example, https://y.example"},
                                     {"Referer": "http://a:b/essay/"}])
def test_origins_that_do_not_parse_are_bad_requests(site, headers):
    env = environ(method="GET", path="/", body=None, headers=headers)
    assert isinstance(hardening.problem(env, site), BadRequest)
    assert "HTTP_ORIGIN" not in env and "HTTP_REFERER" not in env  # the refusal's CORS answer must not parse them


def test_a_doubled_prefix_is_not_found(site):
    env = environ(method="GET", path="/isso/admin/", body=None, headers={"X-Script-Name": "/isso"})
    env["PATH_INFO"] = "/isso/isso/admin/"
    assert isinstance(hardening.problem(env, site), NotFound)


def test_bodies_over_the_limit_are_refused_before_reading(site):
    env = environ(body=b"x" * (hardening.MAX_BODY + 1))
    assert isinstance(hardening.problem(env, site), RequestEntityTooLarge)


def test_site_threads_follow_the_file(site):
    assert site.current() == {"/essays/a/": "An Essay"}
    site.path.write_text(json.dumps({"threads": {"/essays/b/": "Another, with a longer title"}}))
    assert site.current() == {"/essays/b/": "Another, with a longer title"}
    site.path.write_text("{ half-written")  # replaced meanwhile: keep what was there
    assert site.current() == {"/essays/b/": "Another, with a longer title"}


# --- the rest ----------------------------------------------------------------------

@pytest.mark.parametrize("header, wanted", [
    ("br, gzip", {"br", "gzip"}), ("gzip;q=0, br", {"br"}), ("*", {"br", "gzip"}), ("*, br;q=0", {"gzip"}),
    ("identity", set()), ("gzip;q=x", set()), ("", set()),
])
def test_accepted_encodings(header, wanted):
    assert accepted_encodings(header) & {"br", "gzip"} == wanted


@pytest.mark.parametrize("given, ids", [("12", [12]), ("12,14", [12, 14]), ("12 14, 12", [12, 14]), (["3", 4], [3, 4])])
def test_parse_ids(given, ids):
    assert parse_ids(given) == ids


@pytest.mark.parametrize("given", ["", "12,abc", "-1"])
def test_parse_ids_refuses(given):
    with pytest.raises(CommentError):
        parse_ids(given)


def test_rsync_protects_only_the_top_level_comments_folder_and_databases():
    command = rsync_command("writer@example.org:/srv/www", Path("/site/output"), dry_run=True, ssh="ssh -p 2222")
    excluded = [command[i + 1] for i, part in enumerate(command) if part == "--exclude"]
    assert "/comments/" in excluded and "comments/" not in excluded and "*.db" in excluded
    assert command[-2:] == ["/site/output/", "writer@example.org:/srv/www"]
    assert "--dry-run" in command and command[command.index("-e") + 1] == "ssh -p 2222"


def test_site_values_come_from_the_table_unless_given(tmp_path):
    none = tmp_path / "no-site.env"  # not the writer's own site.env
    assert settings.site_value("KIZUNA_SITENAME", environ={}, site_file=none) == "Kizuna"
    assert settings.site_value("KIZUNA_ISSO_URL", True, {"KIZUNA_SITEURL": "https://e.example/"}, none) == \
        "https://e.example/isso/"
    assert settings.site_value("KIZUNA_ISSO_BAKE_URL", True, {"KIZUNA_ISSO_URL": "https://c.example/"}, none) == \
        "https://c.example/"
    assert settings.site_value("KIZUNA_DEPLOY_TARGET", True, {}, none) == ""  # required: the task says so


@pytest.mark.parametrize("header, chosen", [
    ("gzip, br", "br"), ("gzip, deflate", "gzip"), ("GZIP", "gzip"), (None, None), ("", None),
    ("identity", None), ("deflate, zstd", None), ("br;q=0, gzip", "gzip"), ("gzip;q=0, br;q=0", None),
    ("br;q=nonsense, gzip;q=0.5", "gzip"), ("*", None),
])
def test_a_comment_read_is_compressed_only_as_the_client_accepts(header, chosen):
    from kizuna.comments import read_policy

    assert read_policy.accepted(header) == chosen
