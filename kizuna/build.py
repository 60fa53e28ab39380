"""Build the site so that a failed build never costs the writer a working site.

Pelican writes into a fresh staging folder beside output/; only when it exits
cleanly is the staging folder swapped in. Any logged error (bad date, missing
title, unknown status, duplicate slug) is fatal, and Pelican's message names
the file.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from kizuna import CONTENT, DEV_SETTINGS, OUTPUT, ROOT
from kizuna.errors import KizunaError


class BuildError(KizunaError):
    pass


class BuildStopped(BuildError):
    """The build was stopped before it finished (the writing loop stops one a newer save has made stale)."""


def cache_folder(settings: Path, content: Path) -> Path:
    """Pelican's content cache does not notice settings or plugin changes, so
    each combination of them (and of content folders) gets a folder of its own."""
    digest = hashlib.sha256(str(content.resolve()).encode())
    for path in sorted([*ROOT.glob("*conf.py"), *(ROOT / "plugins").rglob("*.py")]):
        digest.update(path.read_bytes())
    digest.update(settings.name.encode())
    return ROOT / "cache" / digest.hexdigest()[:12]


def pelican_command(settings: Path, output: Path, content: Path = CONTENT,
                    extra_settings: dict | None = None) -> list[str]:
    """Pelican's command line. extra_settings override the settings file's
    (Pelican's -e KEY=json); they should not change how content is read, as
    the content cache does not tell them apart."""
    overrides = {"CACHE_PATH": str(cache_folder(settings, content)), **(extra_settings or {})}
    return [
        sys.executable, "-m", "pelican", str(content),
        "--settings", str(settings),
        "--output", str(output),
        "--fatal", "errors",
        "--log-handler", "plain",
        # One flag for all of them: Pelican keeps only the last --extra-settings.
        "--extra-settings", *(f"{name}={json.dumps(value)}" for name, value in overrides.items()),
    ]


# Pelican follows a fatal error with tracebacks; the writer needs only the
# lines that say which file is wrong and why.
NOISE = re.compile(
    r"^(Traceback|During handling|The above exception|\s|RuntimeError: Warning or error encountered"
    r"|CRITICAL|$)"
)


def shown(path: Path) -> str:
    """A path as the writer would type it: relative when under here."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def content_errors(log: str, content: Path) -> str:
    """The meaningful lines of a failed Pelican run, with paths shown from here."""
    lines = [line.replace(" ./", f" {shown(content)}/") for line in log.splitlines() if not NOISE.match(line)]
    return "\n".join(dict.fromkeys(lines))  # each line once, in order


def clock_settings(at: str | None) -> dict:
    """The build's clock as a Pelican setting (plugins/scheduled_essays): the
    real time when at is None, else that time, in the site's timezone unless
    it says its own."""
    if at is None:
        return {}
    try:
        return {"BUILD_CLOCK": datetime.fromisoformat(at.strip()).isoformat()}
    except ValueError:
        raise BuildError(f"--at {at!r} is not a time: write it as 2026-12-24 or 2026-12-24 08:00 "
                         "(or with a zone, 2026-12-24T08:00+09:00)") from None


def swap_in(staging: Path, output: Path) -> None:
    """Replace output/ with staging/ by two renames, so output/ is never half written."""
    old = output.with_name(output.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if output.exists():
        output.rename(old)
    staging.rename(output)
    shutil.rmtree(old, ignore_errors=True)


def build(settings: Path = DEV_SETTINGS, output: Path = OUTPUT, content: Path = CONTENT, quiet: bool = False,
          extra_settings: dict | None = None, started=None) -> Path:
    """Build the site into output/; raise BuildError and leave output/ as it
    was when Pelican reports any error. extra_settings (name → value) override
    the settings file's, e.g. {"COMMENTS_BAKE_REQUIRED": True}. started, if
    given, is called with Pelican's process: terminating it stops the build
    (BuildStopped), output/ untouched."""
    output = Path(output)
    staging = output.with_name(output.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    with subprocess.Popen(pelican_command(Path(settings), staging, Path(content), extra_settings),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as pelican:
        if started is not None:
            started(pelican)
        log, _ = pelican.communicate()
    if pelican.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        if pelican.returncode < 0:  # ended by a signal: stopped, not broken
            raise BuildStopped(f"Build stopped; {shown(output)}/ was left as it was.")
        raise BuildError(
            f"{content_errors(log, Path(content))}\n"
            f"Build failed; {shown(output)}/ was left as it was."
        )
    if not quiet:
        print(log, end="")
    swap_in(staging, output)
    return output


def clean(output: Path = OUTPUT) -> None:
    for path in (output, output.with_name(output.name + ".new"), ROOT / "cache"):
        shutil.rmtree(path, ignore_errors=True)
