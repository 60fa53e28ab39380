"""The environment that comments/isso.cfg expands.

Development: everything has a loopback default, and the secrets (admin
password, hash salt) are generated once into comments/data/secrets.env, which
git ignores. Production: the secrets must come from the environment (or an
EnvironmentFile in systemd); `production_environment` refuses to go on with
Isso's public default salt or an empty admin password.
"""

import os
import secrets
from pathlib import Path

from kizuna import DEFAULT_AUTHOR, OUTPUT, ROOT

CONFIG = ROOT / "comments" / "isso.cfg"
DATA = ROOT / "comments" / "data"
SECRETS = DATA / "secrets.env"
ISSO_HOST = "127.0.0.1"
ISSO_PORT = 8080
# Isso ships this salt in its default config; it is public knowledge.
PUBLIC_DEFAULT_SALT = "Eech7co8Ohloopo9Ol6baimi"
SECRET_NAMES = ("KIZUNA_ISSO_ADMIN_PASSWORD", "KIZUNA_ISSO_SALT")


class ConfigError(Exception):
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


def development_environment(site_origin: str = "http://127.0.0.1:8000", port: int = ISSO_PORT,
                            db: Path = DATA / "comments.db", base: dict | None = None) -> dict[str, str]:
    """Everything isso.cfg needs to run on loopback beside `invoke serve`.
    Values already in the environment (e.g. real SMTP settings) win."""
    environment = dict(os.environ if base is None else base)
    defaults = {
        "KIZUNA_ISSO_DB": str(db),
        "KIZUNA_ISSO_HOST": f"{site_origin}\n{site_origin.replace('127.0.0.1', 'localhost')}",
        "KIZUNA_ISSO_NOTIFY": "smtp" if environment.get("KIZUNA_SMTP_HOST") else "stdout",
        "KIZUNA_ISSO_REPLY_NOTIFICATIONS": "true" if environment.get("KIZUNA_SMTP_HOST") else "false",
        "KIZUNA_ISSO_LISTEN": f"http://{ISSO_HOST}:{port}",
        "KIZUNA_ISSO_PUBLIC_ENDPOINT": f"http://{ISSO_HOST}:{port}",
        "KIZUNA_ISSO_TRUSTED_PROXIES": "",
        "KIZUNA_ISSO_RATELIMIT": "2",
        "KIZUNA_ISSO_DIRECT_REPLY": "3",
        "KIZUNA_ISSO_THREADS": str(OUTPUT / "comment-threads.json"),
        "KIZUNA_ISSO_LINK_DAYS": "7",
        "KIZUNA_AUTHOR": DEFAULT_AUTHOR,
        "KIZUNA_SMTP_HOST": "127.0.0.1",
        "KIZUNA_SMTP_PORT": "25",
        "KIZUNA_SMTP_SECURITY": "none",
        "KIZUNA_SMTP_USERNAME": "",
        "KIZUNA_SMTP_PASSWORD": "",
        "KIZUNA_SMTP_TO": "",
        "KIZUNA_SMTP_FROM": "",
        **development_secrets(Path(db).parent / SECRETS.name),
    }
    for name, value in defaults.items():
        environment.setdefault(name, value)
    Path(environment["KIZUNA_ISSO_DB"]).parent.mkdir(parents=True, exist_ok=True)
    return environment


REQUIRED_IN_PRODUCTION = (
    "KIZUNA_ISSO_DB", "KIZUNA_ISSO_THREADS", "KIZUNA_ISSO_HOST", "KIZUNA_ISSO_LISTEN", "KIZUNA_ISSO_PUBLIC_ENDPOINT",
    "KIZUNA_ISSO_ADMIN_PASSWORD", "KIZUNA_ISSO_SALT",
)
# Needed when the writer is told of new comments by e-mail (the default).
REQUIRED_FOR_MAIL = ("KIZUNA_SMTP_HOST", "KIZUNA_SMTP_TO", "KIZUNA_SMTP_FROM")
PRODUCTION_DEFAULTS = {
    "KIZUNA_ISSO_NOTIFY": "smtp",
    "KIZUNA_ISSO_TRUSTED_PROXIES": "",
    "KIZUNA_ISSO_RATELIMIT": "2",
    "KIZUNA_ISSO_DIRECT_REPLY": "3",
    "KIZUNA_ISSO_LINK_DAYS": "7",
    "KIZUNA_AUTHOR": DEFAULT_AUTHOR,
    "KIZUNA_SMTP_PORT": "587",
    "KIZUNA_SMTP_SECURITY": "starttls",
    "KIZUNA_SMTP_USERNAME": "",
    "KIZUNA_SMTP_PASSWORD": "",
}


def production_environment(base: dict | None = None) -> dict[str, str]:
    """The environment as given, checked: raise ConfigError naming every
    missing or unsafe variable rather than start an unsafe comment server."""
    environment = dict(os.environ if base is None else base)
    for name, value in PRODUCTION_DEFAULTS.items():
        environment.setdefault(name, value)
    mail = bool(environment.get("KIZUNA_SMTP_HOST", "").strip())
    # Without a mail server, reply notices cannot be sent: don't offer them.
    environment.setdefault("KIZUNA_ISSO_REPLY_NOTIFICATIONS", "true" if mail else "false")
    for name in REQUIRED_FOR_MAIL:
        environment.setdefault(name, "")  # so Isso never sees an unexpanded ${…}
    required = REQUIRED_IN_PRODUCTION
    if "smtp" in environment["KIZUNA_ISSO_NOTIFY"].lower():
        required += REQUIRED_FOR_MAIL
    problems = [f"{name} is not set" for name in required if not environment.get(name, "").strip()]
    salt = environment.get("KIZUNA_ISSO_SALT", "")
    if salt == PUBLIC_DEFAULT_SALT:
        problems.append("KIZUNA_ISSO_SALT is Isso's public default salt; anyone could confirm a guessed e-mail")
    elif salt and len(salt) < 16:
        problems.append("KIZUNA_ISSO_SALT is shorter than 16 characters")
    if problems:
        raise ConfigError("Refusing to start the comment server: " + "; ".join(problems)
                          + ". Set them in the environment (see README, 'Comments in production').")
    return environment
