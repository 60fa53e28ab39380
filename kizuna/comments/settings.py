"""The environment that comments/isso.cfg expands, from the settings table
(kizuna/settings.py: names, defaults, what production requires).

Development: everything has a loopback default, and the secrets (admin
password, hash salt) are generated once into comments/data/secrets.env, which
git ignores. Production: the secrets must come from the environment (or an
EnvironmentFile in systemd); `production_environment` refuses to go on with
Isso's public default salt or an empty admin password.
"""

import os
import secrets
from pathlib import Path

from kizuna import OUTPUT, ROOT
from kizuna import settings as table
from kizuna.errors import KizunaError

CONFIG = ROOT / "comments" / "isso.cfg"
DATA = ROOT / "comments" / "data"
SECRETS = DATA / "secrets.env"
ISSO_HOST = "127.0.0.1"
ISSO_PORT = 8080
# Isso ships this salt in its default config; it is public knowledge.
PUBLIC_DEFAULT_SALT = "Eech7co8Ohloopo9Ol6baimi"
# Made once for development and kept untracked (comments/data/secrets.env).
SECRET_NAMES = tuple(setting.name for setting in table.SETTINGS
                     if setting.secret and setting.production == table.REQUIRED)


class ConfigError(KizunaError):  # kizuna.errors.KizunaError
    pass


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.strip().startswith("#"):
                values[name.strip()] = value.strip()
    return values


def development_secrets(path: Path = SECRETS) -> dict[str, str]:
    """The local admin password and salt, made on first use and kept untracked."""
    values = read_env_file(path)
    if all(values.get(name) for name in SECRET_NAMES):
        return values
    values = {"KIZUNA_ISSO_ADMIN_PASSWORD": secrets.token_urlsafe(18), "KIZUNA_ISSO_SALT": secrets.token_hex(16)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()), encoding="utf-8")
    path.chmod(0o600)
    return values


def _filled(environment: dict, column: str, context: dict | None = None) -> dict[str, str]:
    """The environment with every comment-server setting in it: given
    values win, then the table's defaults from `column` (a Default is worked
    out after the plain values, so it sees them); an empty value counts as
    none given (an EnvironmentFile line `NAME=` means "the default"). Isso
    never meets an unexpanded ${NAME}: a setting with no default is empty."""
    rows = [setting for setting in table.SETTINGS if setting.group == table.COMMENTS]
    for setting in rows:
        if not environment.get(setting.name, "").strip():
            environment.pop(setting.name, None)
    for setting in rows:
        default = getattr(setting, column)
        if isinstance(default, str) and default not in (table.REQUIRED, table.REQUIRED_FOR_MAIL):
            environment.setdefault(setting.name, default)
    for setting in rows:
        default = getattr(setting, column)
        if isinstance(default, table.Default):
            environment.setdefault(setting.name, default.pick({**environment, **(context or {})}))
        environment.setdefault(setting.name, "")
    return environment


def development_environment(site_origin: str = "http://127.0.0.1:8000", port: int = ISSO_PORT,
                            db: Path = DATA / "comments.db", base: dict | None = None) -> dict[str, str]:
    """Everything isso.cfg needs to run on loopback beside `invoke serve`,
    from the settings table (kizuna/settings.py). Values already in the
    environment (e.g. real SMTP settings) win."""
    environment = dict(os.environ if base is None else base)
    for name, value in development_secrets(Path(db).parent / SECRETS.name).items():
        environment.setdefault(name, value)
    local = {
        "local db": str(db), "local threads": str(OUTPUT / "comment-threads.json"),
        "local site": f"{site_origin}\n{site_origin.replace('127.0.0.1', 'localhost')}",
        "local isso": f"http://{ISSO_HOST}:{port}",
    }
    _filled(environment, "development", local)
    Path(environment["KIZUNA_ISSO_DB"]).parent.mkdir(parents=True, exist_ok=True)
    return environment


def production_environment(base: dict | None = None) -> dict[str, str]:
    """The environment as given, completed from the settings table and
    checked: raise ConfigError naming every missing or unsafe variable rather
    than start an unsafe comment server."""
    environment = dict(os.environ if base is None else base)
    required = [setting.name for setting in table.SETTINGS if setting.group == table.COMMENTS
                and setting.production == table.REQUIRED and not environment.get(setting.name, "").strip()]
    _filled(environment, "production")
    if "smtp" in environment["KIZUNA_ISSO_NOTIFY"].lower():  # the writer is told by mail
        required += [setting.name for setting in table.SETTINGS if setting.production == table.REQUIRED_FOR_MAIL
                     and not environment[setting.name].strip()]
    problems = [f"{name} is not set" for name in required]
    salt = environment.get("KIZUNA_ISSO_SALT", "")
    if salt == PUBLIC_DEFAULT_SALT:
        problems.append("KIZUNA_ISSO_SALT is Isso's public default salt; anyone could confirm a guessed e-mail")
    elif salt and len(salt) < 16:
        problems.append("KIZUNA_ISSO_SALT is shorter than 16 characters")
    if problems:
        raise ConfigError("Refusing to start the comment server: " + "; ".join(problems)
                          + ". Set them in the environment (see docs/production.md, 'The comment server').")
    return environment
