"""How Isso is started on loopback: `invoke comments.serve` alone, `invoke
serve` beside the site, and the tests."""

import sys
from pathlib import Path

from kizuna.comments.settings import CONFIG


def isso_command() -> list[str]:
    """Isso as Kizuna runs it in development: with the hardening middleware."""
    return [sys.executable, "-m", "kizuna.comments.dev_server"]


def raw_isso_command(config: Path = CONFIG) -> list[str]:
    """Isso as shipped (`isso -c FILE run`), kept to compare against."""
    return [str(Path(sys.executable).parent / "isso"), "-c", str(config), "run"]


WSGI_APPLICATION = "kizuna.comments.wsgi:application"


def gunicorn_command(bind: str, workers: int, bin_dir: Path | None = None, access_log: bool = False,
                     graceful_timeout: int | None = None) -> list[str]:
    """Isso in production, as the systemd unit (kizuna.deploy), the stage,
    the tests and the benchmarks run it. --preload makes Isso once, before
    the fork, so the workers share its lock; no control socket, since the
    service may write only its database folder."""
    command = [str((bin_dir or Path(sys.executable).parent) / "gunicorn"), "--preload", "--no-control-socket",
               "--workers", str(workers), "--bind", bind]
    if access_log:
        command += ["--access-logfile", "-"]
    if graceful_timeout is not None:
        command += ["--graceful-timeout", str(graceful_timeout)]
    return command + [WSGI_APPLICATION]
