"""One home for each setting: kizuna/settings.py. Everything that names a
KIZUNA_ setting (code, comments/isso.cfg, templates, deploy files) uses one
the table lists; the README's tables and the comment server's
isso.env.example are made from it; development fills in, and production
checks, every name isso.cfg expands (Isso would otherwise read the literal
text ${NAME})."""

import re
from pathlib import Path

import pytest

from kizuna import ROOT, settings
from kizuna.comments import settings as comment_settings
from kizuna.deploy import Deployment, render

NAMED = re.compile(r"\bKIZUNA_[A-Z0-9_]*[A-Z0-9]\b")
USERS = [*ROOT.glob("*.py"), *(p for p in (ROOT / "kizuna").rglob("*.py") if p != ROOT / "kizuna" / "settings.py"),
         *(ROOT / "plugins").rglob("*.py"),
         *(ROOT / "bench").glob("*.py"), ROOT / "comments" / "isso.cfg", *(ROOT / "deploy").glob("*.j2"),
         *(ROOT / "theme").rglob("*.html"), *(ROOT / "theme").rglob("*.js"), ROOT / "setup", ROOT / ".ci" / "run"]
ISSO_CFG_NAMES = set(re.findall(r"\$\{(KIZUNA_\w+)\}", (ROOT / "comments" / "isso.cfg").read_text()))


def test_every_setting_named_anywhere_is_in_the_table():
    named = {name: path.relative_to(ROOT) for path in USERS for name in NAMED.findall(path.read_text(encoding="utf-8"))}
    assert len(named) > 20, named  # the scan finds them
    unknown = {name: str(path) for name, path in named.items() if name not in settings.BY_NAME}
    assert not unknown, f"settings used but not in kizuna/settings.py: {unknown}"
    unused = [name for name in settings.BY_NAME if name not in named]
    assert not unused, f"settings in the table that nothing reads: {unused}"


def test_isso_cfg_expands_only_comment_server_settings():
    assert ISSO_CFG_NAMES, "isso.cfg expands no settings?"
    assert {name for name in ISSO_CFG_NAMES if settings.BY_NAME[name].group != settings.COMMENTS} == set()


def test_development_and_production_fill_every_name_isso_cfg_expands(tmp_path):
    development = comment_settings.development_environment(db=tmp_path / "comments.db", base={})
    assert {name for name in ISSO_CFG_NAMES if name not in development} == set()
    given = {setting.name: "x" * 16 for setting in settings.SETTINGS if setting.production == settings.REQUIRED}
    production = comment_settings.production_environment({**given, "KIZUNA_ISSO_NOTIFY": "stdout"})
    assert {name for name in ISSO_CFG_NAMES if name not in production} == set()
    assert production["KIZUNA_ISSO_EDIT_WINDOW"] == "15m" and production["KIZUNA_SMTP_PORT"] == "587"


def test_production_names_every_required_setting_that_is_missing():
    with pytest.raises(comment_settings.ConfigError) as refused:
        comment_settings.production_environment({})
    required = [s.name for s in settings.SETTINGS if s.production in (settings.REQUIRED, settings.REQUIRED_FOR_MAIL)
                and s.group == settings.COMMENTS]
    assert required and all(f"{name} is not set" in str(refused.value) for name in required)


def test_the_documents_tables_are_made_from_the_table():
    texts = []
    for path, groups in settings.documents().items():
        text = path.read_text(encoding="utf-8")
        assert text == settings.with_tables(text, groups), \
            f"{path.name}'s settings tables differ from kizuna/settings.py: run .venv/bin/python -m kizuna.settings"
        texts.append(text)
    assert settings.documents() == {ROOT / "README.md": ["site", "comments-names"],
                                    ROOT / "docs" / "production.md": ["comments"]}
    assert all(f"| `{name}` |" in "".join(texts) for name in settings.BY_NAME)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in settings.BY_NAME)  # every setting named where the writer looks


def test_isso_env_example_lists_what_the_comment_server_reads(tmp_path):
    render(Deployment(site_url="https://essays.example.org"), tmp_path)
    example = (tmp_path / "isso.env.example").read_text()
    lines = dict(re.findall(r"^(KIZUNA_\w+)=(.*)$", example, re.M))
    wanted = {s.name for s in settings.SETTINGS if s.group == settings.COMMENTS and s.production is not None}
    assert wanted <= set(lines), wanted - set(lines)
    assert lines["KIZUNA_ISSO_HOST"] == "https://essays.example.org"
    assert lines["KIZUNA_ISSO_SALT"] == "" and lines["KIZUNA_ISSO_ADMIN_PASSWORD"] == ""  # secrets: never filled in
    # What the file says, production reads the same way (empty means the default).
    filled = {**lines, "KIZUNA_ISSO_SALT": "s" * 16, "KIZUNA_ISSO_ADMIN_PASSWORD": "p", "KIZUNA_ISSO_NOTIFY": "stdout"}
    assert comment_settings.production_environment(filled)["KIZUNA_ISSO_REPLY_NOTIFICATIONS"] == "false"


def test_the_production_guide_shows_the_command_lines_and_limits_the_code_uses():
    """The production command line and the body cap, as kizuna.deploy renders them."""
    import shlex

    from kizuna.comments.server import gunicorn_command

    readme = (ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    deployment = Deployment(site_url="https://essays.example.org")
    command = shlex.join(gunicorn_command(deployment.isso_upstream, deployment.workers,
                                          Path(deployment.app_dir) / ".venv" / "bin", access_log=True))
    assert command in readme, command
    assert f"client_max_body_size {deployment.max_body}" in readme
