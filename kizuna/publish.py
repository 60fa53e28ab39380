"""`invoke publish`: ship output/ with rsync. Comment data never travels.

The target comes from the environment so that no host name lives in the repo:
  KIZUNA_DEPLOY_TARGET   rsync destination, e.g. writer@example.org:/srv/kizuna/www
  KIZUNA_DEPLOY_SSH      optional ssh command, e.g. "ssh -p 2222"
"""

import os
import shutil
import subprocess
from pathlib import Path

from kizuna import OUTPUT
from kizuna.errors import KizunaError

# Never send, nor delete on the server, the comments/ folder at the top of the
# site's folder (a leading slash anchors a pattern there: an unanchored
# "comments/" would also hold back tags/comments/ or categories/comments/),
# nor database files wherever they sit.
EXCLUDES = ["/comments/", "*.db", "*.db-journal", "*.db-wal", "*.db-shm",
            "*.sqlite", "*.sqlite-journal", "*.sqlite3", "*.sqlite3-journal"]


class PublishError(KizunaError):
    pass


def rsync_command(target: str, output: Path = OUTPUT, dry_run: bool = False, ssh: str | None = None) -> list[str]:
    command = ["rsync", "--recursive", "--times", "--compress", "--delete", "--itemize-changes"]
    if dry_run:
        command.append("--dry-run")
    if ssh:
        command += ["-e", ssh]
    for pattern in EXCLUDES:
        command += ["--exclude", pattern]
    # The trailing slash sends the folder's contents, not the folder itself.
    return command + [f"{output}/", target]


def ready(target: str | None = None) -> str:
    """The destination, once it is set and rsync is there; checked before the
    build too, so that a writer who forgot the target hears that first."""
    target = target or os.environ.get("KIZUNA_DEPLOY_TARGET", "")
    if not target:
        raise PublishError(
            "Set KIZUNA_DEPLOY_TARGET to where the site goes, "
            "e.g. KIZUNA_DEPLOY_TARGET=writer@example.org:/srv/kizuna/www"
        )
    if shutil.which("rsync") is None:
        raise PublishError("rsync is not installed: sudo apt-get install rsync")
    return target


def publish(output: Path = OUTPUT, dry_run: bool = False, target: str | None = None) -> None:
    target = ready(target)
    command = rsync_command(target, output, dry_run, os.environ.get("KIZUNA_DEPLOY_SSH"))
    if subprocess.run(command).returncode != 0:
        raise PublishError(f"rsync to {target} failed; the site on the server is unchanged or partly updated")
