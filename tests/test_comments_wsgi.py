"""kizuna/comments/wsgi.py, production's entry point: it refuses an unsafe
configuration with a message naming the variable, and with a good one
gunicorn serves Isso (see test_comments_hostile.py for its hardening)."""

import json
import subprocess

import pytest

from support import ROOT, free_port, gunicorn_command, isso_request, production_comment_environment
from kizuna.comments import wsgi
from kizuna.comments.settings import PUBLIC_DEFAULT_SALT, ConfigError


@pytest.mark.parametrize("name, value, said", [
    ("KIZUNA_ISSO_SALT", PUBLIC_DEFAULT_SALT, "KIZUNA_ISSO_SALT is Isso's public default salt"),
    ("KIZUNA_ISSO_ADMIN_PASSWORD", "", "KIZUNA_ISSO_ADMIN_PASSWORD is not set"),
    ("KIZUNA_ISSO_HOST", "", "KIZUNA_ISSO_HOST is not set"),
])
def test_an_unsafe_configuration_is_refused_by_name(tmp_path, monkeypatch, name, value, said):
    env = production_comment_environment(tmp_path, free_port())
    env[name] = value
    with pytest.raises(ConfigError, match=said):
        wsgi.create_app(env)
    # What gunicorn asks for, `application`, is made from os.environ the same way.
    for key, setting in env.items():
        monkeypatch.setenv(key, setting)
    with pytest.raises(ConfigError, match=said):
        wsgi.application
    assert "application" not in vars(wsgi)  # nothing half-made is kept


def test_gunicorn_will_not_start_with_the_public_salt(tmp_path):
    port = free_port()
    env = {**production_comment_environment(tmp_path, port), "KIZUNA_ISSO_SALT": PUBLIC_DEFAULT_SALT}
    result = subprocess.run(gunicorn_command(port), cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
    assert result.returncode != 0
    assert "ConfigError" in result.stdout and "KIZUNA_ISSO_SALT is Isso's public default salt" in result.stdout
    assert not (tmp_path / "data" / "comments.db").exists()  # Isso never got as far as its database


def test_gunicorn_serves_isso_with_a_good_configuration(comments_wsgi):
    status, answer = isso_request(comments_wsgi, "GET", "/info")
    info = json.loads(answer)
    assert status == 200 and info["version"] == "0.14.0" and info["moderation"] is True
    assert info["origin"] == comments_wsgi.site_origin
    status, answer = isso_request(comments_wsgi, "GET", "/config")
    assert status == 200 and json.loads(answer)["config"]["reply-notifications"] is False
    assert comments_wsgi.db.is_file()  # the database named by KIZUNA_ISSO_DB
