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
