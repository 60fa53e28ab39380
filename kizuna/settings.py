"""Every setting Kizuna reads, in one table.

Each row says what the setting is for, its value while writing (development)
and in production (a default, REQUIRED, or REQUIRED_FOR_MAIL), and whether it
is a secret. Everything else reads this table:

  * pelicanconf.py and publishconf.py take the site's settings from it;
  * kizuna.comments.settings fills in the comment server's environment for
    development and checks it for production (comments/isso.cfg expands the
    KIZUNA_ISSO_* and KIZUNA_SMTP_* names);
  * deploy/isso.env.example.j2 lists the comment server's rows;
  * the README's settings tables are made from it (`python -m kizuna.settings`
    rewrites them; tests/test_settings.py fails while they differ), and that
    test also fails when code, isso.cfg or a template uses a KIZUNA_ name the
    table does not list.

A new setting is a row here (and, for Isso, a line in comments/isso.cfg).

Where a value comes from (site_value), first found wins:

  1. the process environment (`KIZUNA_SITEURL=… invoke publish`, or the
     comment server's EnvironmentFile);
  2. site.env at the repository's root: KEY=value lines that `invoke init`
     writes (the site's name, author, address and language), tracked in the
     writer's repository, so never a secret;
  3. the table's default for development or production.
"""

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from kizuna.errors import KizunaError

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PRODUCTION = ROOT / "docs" / "production.md"
SITE_FILE = ROOT / "site.env"  # the writer's own values; `invoke init` writes it
REQUIRED = "required"
REQUIRED_FOR_MAIL = "required for mail"
SITE, COMMENTS = "site", "comments"  # who reads it: the build and publish, or the comment server
# Where each group's table is shown: the writer's settings in the README, the server's with its set-up.
TABLES = {SITE: README, COMMENTS: PRODUCTION}


@dataclass(frozen=True)
class Default:
    """A default that depends on other settings: pick(environment) → value;
    `words` says it for the README."""
    pick: Callable[[dict], str]
    words: str


def _mail_on(environment: dict) -> bool:
    return bool(environment.get("KIZUNA_SMTP_HOST", "").strip())


WHEN_MAIL_SMTP = Default(lambda env: "smtp" if _mail_on(env) else "stdout",
                         "`smtp` when `KIZUNA_SMTP_HOST` is set, else `stdout`")
WHEN_MAIL_TRUE = Default(lambda env: "true" if _mail_on(env) else "false",
                         "`true` when `KIZUNA_SMTP_HOST` is set, else `false`")
# While writing, the comment server's addresses and files follow what `invoke
# serve` starts: kizuna.comments.settings.development_environment passes them
# in under these keys.
LOCAL = {
    "db": Default(lambda env: env["local db"], "`comments/data/comments.db`"),
    "threads": Default(lambda env: env["local threads"], "`output/comment-threads.json`"),
    "site_origin": Default(lambda env: env["local site"], "the local site, `http://127.0.0.1:8000`"),
    "isso": Default(lambda env: env["local isso"], "`http://127.0.0.1:8080`"),
}


@dataclass(frozen=True)
class Setting:
    name: str
    group: str
    help: str
    # While writing: a value, a Default, or None (not used).
    development: str | Default | None
    # In production: a value, a Default, REQUIRED, REQUIRED_FOR_MAIL, or None (not used).
    production: str | Default | None
    secret: bool = False


SETTINGS = (
    # --- The site: read by the build (pelicanconf.py, publishconf.py) and by invoke publish.
    Setting("KIZUNA_SITEURL", SITE, "the public address of the site, e.g. `https://essays.example.org`; "
            "`invoke publish` refuses the placeholder and, without `--allow-http`, any `http://` address",
            "", "https://kizuna.example.org"),
    Setting("KIZUNA_SITENAME", SITE, "the site's title", "Kizuna", "Kizuna"),
    Setting("KIZUNA_AUTHOR", SITE, "your name as the site signs essays; no reader may comment under it "
            "(the comment server reads it too)", "K.A.L.T", "K.A.L.T"),
    Setting("KIZUNA_AUTHOR_ALIASES", SITE, "other names you go by, comma-separated: no reader may comment under "
            "these either, nor under any look-alike of them or of your name", "", ""),
    Setting("KIZUNA_LANG", SITE, "the site's language, a tag such as `en`, `ja` or `pt-BR` (an essay's own "
            "`Lang:` field wins for that essay)", "en", "en"),
    Setting("KIZUNA_DEV_ISSO_URL", SITE, "where pages built while writing find Isso (`invoke serve` and "
            "`invoke livereload` point them at the Isso they start)", "http://127.0.0.1:8080/", None),
    Setting("KIZUNA_ISSO_URL", SITE, "the public address of the comment server", None,
            Default(lambda env: site_value("KIZUNA_SITEURL", True, env).rstrip("/") + "/isso/",
                    "`$KIZUNA_SITEURL/isso/`")),
    Setting("KIZUNA_ISSO_BAKE_URL", SITE, "where a production build reads approved comments (`invoke publish` "
            "stops if it cannot)", None, Default(lambda env: site_value("KIZUNA_ISSO_URL", True, env),
                                                  "`$KIZUNA_ISSO_URL`")),
    Setting("KIZUNA_DEPLOY_TARGET", SITE, "where `invoke publish` sends the site: an rsync destination, e.g. "
            "`writer@example.org:/srv/kizuna/www`, or object storage, `s3://bucket/prefix` (the prefix is optional; "
            "endpoint, region and credentials come from the usual AWS variables or profile: docs/production.md)",
            None, REQUIRED),
    Setting("KIZUNA_DEPLOY_SSH", SITE, "the ssh command rsync should use, e.g. `ssh -p 2222`", None, ""),
    Setting("KIZUNA_DEPLOY_COMPRESSION", SITE, "object storage only: `gzip` stores pages, feeds, CSS, JS, SVG and "
            "JSON gzipped, with `Content-Encoding: gzip` (storage cannot choose per reader, and every browser "
            "and crawler takes gzip); `none` stores them as they are, for a CDN that compresses by itself",
            None, "gzip"),
    Setting("KIZUNA_PUBLISH_SCHEDULE", SITE, "when the server's timer (`kizuna-publish.timer`, from "
            "`invoke deploy.render`) runs `invoke publish`, so a scheduled essay appears after its date: a "
            "systemd calendar, e.g. `hourly` or `*-*-* 06:00`", None, "*:0/15"),
    # --- The comment server: comments/isso.cfg expands these (Isso 0.14 reads ${NAME}).
    Setting("KIZUNA_ISSO_DB", COMMENTS, "the database file", LOCAL["db"], REQUIRED),
    Setting("KIZUNA_ISSO_THREADS", COMMENTS, "the published site's `comment-threads.json` (every build writes it): "
            "only those essays take comments", LOCAL["threads"], REQUIRED),
    Setting("KIZUNA_ISSO_HOST", COMMENTS, "the site's origin, e.g. `https://essays.example.org`: only its pages "
            "may post", LOCAL["site_origin"], REQUIRED),
    Setting("KIZUNA_ISSO_LISTEN", COMMENTS, "the address the comment server binds, e.g. `http://127.0.0.1:8080`",
            LOCAL["isso"], REQUIRED),
    Setting("KIZUNA_ISSO_PUBLIC_ENDPOINT", COMMENTS, "where readers reach Isso, e.g. "
            "`https://essays.example.org/isso` (no trailing slash); the links in moderation mail start with it",
            LOCAL["isso"], REQUIRED),
    Setting("KIZUNA_ISSO_ADMIN_PASSWORD", COMMENTS, "the password of Isso's admin page", None, REQUIRED, secret=True),
    Setting("KIZUNA_ISSO_SALT", COMMENTS, "a random secret of 16 characters or more (never Isso's public default), "
            "e.g. from `python3 -c \"import secrets; print(secrets.token_hex(16))\"`", None, REQUIRED, secret=True),
    Setting("KIZUNA_ISSO_NOTIFY", COMMENTS, "how you hear of new comments: `smtp` (mail) or `stdout` (the log)",
            WHEN_MAIL_SMTP, "smtp"),
    Setting("KIZUNA_ISSO_REPLY_NOTIFICATIONS", COMMENTS, "whether readers may ask to be told of replies (they "
            "confirm their address first)", WHEN_MAIL_TRUE, WHEN_MAIL_TRUE),
    Setting("KIZUNA_ISSO_TRUSTED_PROXIES", COMMENTS, "proxies beyond the first whose `X-Forwarded-For` Isso may "
            "trust; Isso takes the last hop as the reader's address, so let nothing but your proxy reach it",
            "", ""),
    Setting("KIZUNA_ISSO_RATELIMIT", COMMENTS, "comments one reader (one address) may post per minute; one network "
            "(a /24) may post ten times as many", "2", "2"),
    Setting("KIZUNA_ISSO_DIRECT_REPLY", COMMENTS, "top-level comments one reader may leave on one essay per hour; "
            "one network, ten times as many", "3", "3"),
    Setting("KIZUNA_ISSO_BOT_CHECK", COMMENTS, "whether a new comment must carry the small proof of work the "
            "reader's browser does while they write (`on` or `off`; nothing is sent elsewhere); the hidden trap "
            "field is checked either way", "on", "on"),
    Setting("KIZUNA_ISSO_EDIT_WINDOW", COMMENTS, "how long readers may edit or delete their own comment "
            "(Isso's `max-age`: `15m`, `1h`…)", "15m", "15m"),
    Setting("KIZUNA_ISSO_RETENTION_DAYS", COMMENTS, "days after you approve or delete a comment that its e-mail "
            "and network address are removed (a waiting comment keeps them); `invoke comments.purge` also removes "
            "backups this old, never the newest; the build reads it too, for the privacy page", "30", "30"),
    Setting("KIZUNA_ISSO_LINK_DAYS", COMMENTS, "days a moderation link in your mail works", "7", "7"),
    Setting("KIZUNA_COMMENTS_REPLICA", COMMENTS, "where Litestream streams the comment database, "
            "`s3://bucket/path` (S3 or any S3-compatible storage; its endpoint, region and credentials come from "
            "the usual `AWS_*` variables); empty: no replica. `invoke comments.restore --from-replica` reads it",
            "", ""),
    Setting("KIZUNA_COMMENTS_REPLICA_INTERVAL", COMMENTS, "how often the replica is brought up to date (`1s`, "
            "`500ms`, `10s`): a comment acknowledged longer ago than this survives losing the server",
            "1s", "1s"),
    Setting("KIZUNA_SMTP_HOST", COMMENTS, "your mail server", "", REQUIRED_FOR_MAIL),
    Setting("KIZUNA_SMTP_TO", COMMENTS, "where moderation mail goes (you)", "", REQUIRED_FOR_MAIL),
    Setting("KIZUNA_SMTP_FROM", COMMENTS, "the sender, with a name: `Kizuna comments <comments@example.org>` "
            "(without one, Isso signs as \"Ich schrei sonst!\")", "", REQUIRED_FOR_MAIL),
    Setting("KIZUNA_SMTP_PORT", COMMENTS, "the mail server's port: `587` with `starttls`, `465` with `ssl`",
            "25", "587"),
    Setting("KIZUNA_SMTP_SECURITY", COMMENTS, "`starttls`, `ssl` or `none`", "none", "starttls"),
    Setting("KIZUNA_SMTP_USERNAME", COMMENTS, "the mail login, if your server wants one", "", ""),
    Setting("KIZUNA_SMTP_PASSWORD", COMMENTS, "its password", "", "", secret=True),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
# The table's placeholder for KIZUNA_SITEURL: never a real site's address.
EXAMPLE_URL = BY_NAME["KIZUNA_SITEURL"].production


def is_site_address(value: str) -> bool:
    """An address a site can live at: http(s)://host[:port][/path], nothing
    else (no spaces, user, query or fragment)."""
    parts = urlsplit(value)
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.query or parts.fragment
            or parts.username) and not re.search(r"\s", value)
            and re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", parts.netloc) is not None)


class SiteFileError(KizunaError):
    pass


def _unquoted(value: str) -> str:
    """A value as a shell would read it from "…" or '…' (site.env may be
    sourced with `set -a; . ./site.env`), else as it stands."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\([\\"$`])', r"\1", value[1:-1])
    return value


def read_site_file(path: Path | None = None) -> dict[str, str]:
    """site.env's values, name → value ({} when there is no such file).
    Blank lines and # comments are skipped. Only the site's settings may be
    there (none is a secret: the file is tracked in git); any other line is
    refused, naming it, rather than silently ignored."""
    path = SITE_FILE if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not equals or name not in BY_NAME:
            raise SiteFileError(f"{path.name}, line {number}: {line!r} is not NAME=value with a name from "
                                "the README's settings tables")
        if BY_NAME[name].group != SITE:
            raise SiteFileError(f"{path.name}, line {number}: {name} is the comment server's setting: set it "
                                "in its environment (docs/production.md, \"The comment server\")")
        values[name] = _unquoted(value.strip())
    return values


def site_value(name: str, production: bool = False, environ=None, site_file: Path | None = None) -> str:
    """A site setting as the build reads it: the environment's, else
    site.env's, else the table's default (see the module's docstring)."""
    environ = os.environ if environ is None else environ
    setting = BY_NAME[name]
    default = setting.production if production else setting.development
    known = {**read_site_file(site_file), **environ}  # the environment wins
    if known.get(name) is not None:
        return known[name]
    if isinstance(default, Default):
        return default.pick(known)
    return "" if default in (None, REQUIRED, REQUIRED_FOR_MAIL) else default


# --- The tables in the README and docs/production.md -------------------------------------------------------

def _shown(value) -> str:
    if value is None:
        return "not used"
    if isinstance(value, Default):
        return value.words
    if value in (REQUIRED, REQUIRED_FOR_MAIL):
        return value
    return "none" if value == "" else f"`{value}`"


def table(group: str) -> str:
    rows = ["| variable | meaning | while writing | in production |", "|---|---|---|---|"]
    for setting in SETTINGS:
        if setting.group == group:
            secret = " (a secret)" if setting.secret else ""
            development = "made once, kept in `comments/data/secrets.env`" if setting.secret and \
                setting.development is None else _shown(setting.development)
            rows.append(f"| `{setting.name}` | {setting.help}{secret} | {development} | {_shown(setting.production)} |")
    return "\n".join(rows)


def _marker(group: str) -> tuple[str, str]:
    return f"<!-- settings: {group} (made by python -m kizuna.settings) -->", f"<!-- /settings: {group} -->"


NAMES = "-names"  # a group shown by its names alone, where its table is in another document


def names(group: str) -> str:
    """The settings of a group whose table lives elsewhere, by name, with where to read them."""
    listed = ", ".join(f"`{setting.name}`" for setting in SETTINGS if setting.group == group)
    where = TABLES[group].relative_to(ROOT).as_posix()
    return f"The comment server's settings, {listed}, are explained, with their defaults, in [{where}]({where})."


def with_tables(text: str, groups) -> str:
    """A document's text with each generated table (or list of names) of `groups` made anew."""
    for group in groups:
        start, end = _marker(group)
        before, found, rest = text.partition(start)
        if not found:
            raise ValueError(f"no {start!r} line")
        _, found, after = rest.partition(end)
        if not found:
            raise ValueError(f"no {end!r} line")
        made = names(group.removesuffix(NAMES)) if group.endswith(NAMES) else table(group)
        text = f"{before}{start}\n{made}\n{end}{after}"
    return text


def documents() -> dict[Path, list[str]]:
    """{document: the groups whose tables it shows}."""
    shown: dict[Path, list[str]] = {}
    for group, path in TABLES.items():
        shown.setdefault(path, []).append(group)
        if path != README:
            shown.setdefault(README, []).append(group + NAMES)  # the README names every setting
    return shown


if __name__ == "__main__":
    for path, groups in documents().items():
        path.write_text(with_tables(path.read_text(encoding="utf-8"), groups), encoding="utf-8")
        print(f"Wrote the settings tables into {path}", file=sys.stderr)
