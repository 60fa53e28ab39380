"""`invoke init`: make the site one's own (its name, author, address and
language) without editing Python. The answers go to site.env at the
repository's root, which kizuna/settings.py reads after the environment and
before the table's defaults; the file is tracked in git, so nothing secret
goes there."""

import os
import re
from pathlib import Path
from typing import Callable

from kizuna import settings
from kizuna.errors import KizunaError

# setting → (the task's option, the question asked on a terminal)
QUESTIONS = {
    "KIZUNA_SITENAME": ("--name", "The site's name"),
    "KIZUNA_AUTHOR": ("--author", "Your name, as essays are signed"),
    "KIZUNA_SITEURL": ("--url", "The site's public address, from https:// on"),
    "KIZUNA_LANG": ("--language", "The site's language (en, ja, pt-BR…)"),
}
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}")
HEADER = """\
# This site's own settings, written by `invoke init` (run it again to change
# them). The build reads them after the environment (which wins) and before
# the defaults in kizuna/settings.py; the README's settings tables list every
# name. This file is in git: never put a secret here.
"""


class InitError(KizunaError):
    pass


def checked(name: str, value: str) -> str:
    """The value as it will be written, or InitError saying what is wrong."""
    option = QUESTIONS[name][0]
    value = value.strip()
    if name == "KIZUNA_SITEURL":
        if not settings.is_site_address(value):
            raise InitError(f"{value!r} is not a site address: give it from https:// on, "
                            f"e.g. {option} https://essays.example.org")
        if value.rstrip("/") == settings.EXAMPLE_URL:
            raise InitError(f"{settings.EXAMPLE_URL} is the example address: give your site's own with {option}")
        return value.rstrip("/")
    if name == "KIZUNA_LANG":
        if not LANGUAGE.fullmatch(value):
            raise InitError(f"{value!r} is not a language tag: a short one such as en, ja or pt-BR ({option})")
        return value
    if not value or any(ord(c) < 32 or ord(c) == 127 for c in value) or len(value) > 120:
        raise InitError(f"{option} needs one line of text (up to 120 characters)")
    return value


def current(site_file: Path | None = None, environ=None) -> dict[str, str]:
    """What the site uses now, setting by setting; "" for an address not yet given."""
    values = {name: settings.site_value(name, name == "KIZUNA_SITEURL", environ, site_file) for name in QUESTIONS}
    if values["KIZUNA_SITEURL"].rstrip("/") == settings.EXAMPLE_URL:
        values["KIZUNA_SITEURL"] = ""
    return values


def ask_on_terminal(name: str, now: str) -> str:
    """One question, the current value as the answer to an empty line."""
    question = QUESTIONS[name][1]
    try:
        answer = input(f"{question} [{now}]: " if now else f"{question}: ")
    except EOFError:
        raise InitError("No answer; site.env was left as it was.") from None
    return answer.strip() or now


def answers(given: dict[str, str | None], ask: Callable[[str, str], str] | None = None,
            site_file: Path | None = None, environ=None) -> dict[str, str]:
    """Every value: the given ones (checked), else asked (again until it is
    right) when `ask` is there, else the current one."""
    now = current(site_file, environ)
    chosen = {}
    for name in QUESTIONS:
        if given.get(name) is not None:
            chosen[name] = checked(name, given[name])
        elif ask is None:
            chosen[name] = now[name]
        else:
            while True:
                answer = ask(name, now[name])
                if not answer and not now[name]:
                    chosen[name] = ""  # no address yet: `invoke publish` will ask for one
                    break
                try:
                    chosen[name] = checked(name, answer)
                    break
                except InitError as error:
                    print(error)
    return chosen


def _line(name: str, value: str) -> str:
    """NAME=value as systemd and a shell both read it: quoted unless plain."""
    if re.fullmatch(r"[A-Za-z0-9_./:@+,-]*", value):
        return f"{name}={value}"
    escaped = re.sub(r'([\\"$`])', r"\\\1", value)
    return f'{name}="{escaped}"'


def write(values: dict[str, str], site_file: Path | None = None) -> Path:
    """Put values into site.env: a line for each, in place of its old one;
    other lines stay as they were; an empty value removes its line."""
    path = settings.SITE_FILE if site_file is None else Path(site_file)
    settings.read_site_file(path)  # a broken file is named before it is rewritten
    old = path.read_text(encoding="utf-8").splitlines() if path.exists() else HEADER.splitlines()
    lines, done = [], set()
    for line in old:
        name = line.strip().removeprefix("export ").partition("=")[0].strip()
        if name in values:
            if name not in done and values[name]:
                lines.append(_line(name, values[name]))
            done.add(name)
        else:
            lines.append(line)
    lines += [_line(name, value) for name, value in values.items() if name not in done and value]
    temporary = path.with_name(path.name + ".new")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(path)  # never half written
    return path


def init(given: dict[str, str | None], ask: Callable[[str, str], str] | None = None,
         site_file: Path | None = None, environ=None) -> list[str]:
    """Write the answers into site.env; return what to tell the writer."""
    environ = os.environ if environ is None else environ
    values = answers(given, ask, site_file, environ)
    path = write(values, site_file)
    report = [f"Wrote {path.name}:"] + [f"  {_line(name, value)}" for name, value in values.items() if value]
    if not values["KIZUNA_SITEURL"]:
        report.append("No site address yet: `invoke publish` needs one (invoke init --url https://…).")
    elif values["KIZUNA_SITEURL"].startswith("http://"):
        report.append("The address is http://: `invoke publish` ships it only with --allow-http.")
    for name, value in values.items():
        if environ.get(name) is not None and environ[name] != value:
            report.append(f"{name} is set in your environment to {environ[name]!r}, and the environment wins "
                          f"over {path.name}: unset it to use what you chose here.")
    return report
