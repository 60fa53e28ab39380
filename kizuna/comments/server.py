"""Run Isso on loopback with comments/isso.cfg, as `invoke comments.serve`
does alone and `invoke serve` does beside the site."""

import sys
from pathlib import Path

from kizuna.comments.settings import CONFIG


def isso_command(config: Path = CONFIG) -> list[str]:
    """Isso's own command line (`isso -c FILE run`), from this environment."""
    return [str(Path(sys.executable).parent / "isso"), "-c", str(config), "run"]
