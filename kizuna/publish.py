"""`invoke publish`: ship output/ with rsync, or to object storage
(kizuna/object_storage.py). Comment data never travels, and neither does a
site whose links point at the wrong address.

Where it goes (kizuna/settings.py: the environment, else site.env):
  KIZUNA_SITEURL         the public address every link is built on: https://,
                         never the table's example (http:// only when allowed)
  KIZUNA_DEPLOY_TARGET   rsync destination, e.g. writer@example.org:/srv/kizuna/www,
                         or object storage, s3://bucket/prefix
  KIZUNA_DEPLOY_SSH      optional ssh command, e.g. "ssh -p 2222"
  KIZUNA_DEPLOY_COMPRESSION  object storage: gzip text files, or none
"""

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

from kizuna import CONTENT, OUTPUT, object_storage
from kizuna.errors import KizunaError
from kizuna.settings import EXAMPLE_URL, is_site_address, site_value


# Never send, nor delete on the server, the comments/ folder at the top of the
# site's folder (a leading slash anchors a pattern there: an unanchored
# "comments/" would also hold back tags/comments/ or categories/comments/),
# nor database files wherever they sit.
EXCLUDES = ["/comments/", "*.db", "*.db-journal", "*.db-wal", "*.db-shm",
            "*.sqlite", "*.sqlite-journal", "*.sqlite3", "*.sqlite3-journal"]


# EXCLUDES read as rsync reads it, for object storage (kizuna/object_storage.py):
# a leading slash anchors a folder at the top, a pattern without one matches
# any part of a path.
_TOP = [pattern.strip("/") for pattern in EXCLUDES if pattern.startswith("/")]
_ANY_PART = re.compile("|".join(fnmatch.translate(pattern.rstrip("/")) for pattern in EXCLUDES
                                if not pattern.startswith("/")))


def is_comment_data(relative: str) -> bool:
    """Whether a path under output/ (a/b/c.db) is what EXCLUDES holds back."""
    parts = relative.strip("/").split("/")
    return parts[0] in _TOP or any(_ANY_PART.match(part) for part in parts)


class PublishError(KizunaError):
    pass


def rsync_command(target: str, output: Path = OUTPUT, dry_run: bool = False, ssh: str | None = None) -> list[str]:
    """Files are compared by content (--checksum): every production build
    writes every file anew, so times would call each one changed. Times are
    not copied either (no --times), so an unchanged page keeps the time, and
    nginx's ETag, that readers' caches hold."""
    command = ["rsync", "--recursive", "--checksum", "--compress", "--delete", "--itemize-changes"]
    if dry_run:
        command.append("--dry-run")
    if ssh:
        command += ["-e", ssh]
    for pattern in EXCLUDES:
        command += ["--exclude", pattern]
    # The trailing slash sends the folder's contents, not the folder itself.
    return command + [f"{output}/", target]


def _target_problems(target: str) -> list[str]:
    problems = []
    if not target:
        return ["Set KIZUNA_DEPLOY_TARGET to where the site goes, "
                "e.g. KIZUNA_DEPLOY_TARGET=writer@example.org:/srv/kizuna/www (rsync) or s3://bucket/prefix "
                "(object storage)"]
    if object_storage.is_object_storage(target):
        return object_storage.problems(target)
    if shutil.which("rsync") is None:
        problems.append("rsync is not installed: sudo apt-get install rsync")
    return problems


def address_problems(url: str, allow_http: bool = False) -> list[str]:
    """Why the site must not be built for `url` and shipped (none: it may)."""
    how = "Set KIZUNA_SITEURL=https://your.address (or run `invoke init --url https://your.address`)"
    if url.rstrip("/") == EXAMPLE_URL:
        return [f"The site's address is still the example, {EXAMPLE_URL}: every link, the stylesheet's "
                f"too, would point there. {how}."]
    if not is_site_address(url):
        return [f"KIZUNA_SITEURL is {url!r}, not an address. {how}."]
    if url.startswith("http://") and not allow_http:
        return [f"The site's address, {url}, is not https://: browsers would mark every page unsafe and "
                f"readers' comments would travel in the clear. {how}; for a local network or a test, "
                "`invoke publish --allow-http`."]
    return []


def ready(target: str | None = None, allow_http: bool = False) -> str:
    """The destination, once everything publishing needs is there: a target,
    rsync (or, for s3://, credentials and a bucket that answers), and a real
    address for the links. Checked before the build, and every problem said
    at once."""
    target = target or site_value("KIZUNA_DEPLOY_TARGET", production=True)
    problems = _target_problems(target) + address_problems(site_value("KIZUNA_SITEURL", production=True),
                                                           allow_http)
    if problems:
        raise PublishError("\n".join(problems))
    return target


def publish(output: Path = OUTPUT, dry_run: bool = False, target: str | None = None, content: Path = CONTENT) -> None:
    """Send output/ (built for the checked address: call ready() first)."""
    target = target or site_value("KIZUNA_DEPLOY_TARGET", production=True)
    if target and object_storage.is_object_storage(target):
        object_storage.publish(target, output, content, dry_run,
                               site_value("KIZUNA_DEPLOY_COMPRESSION", production=True))
        return
    problems = _target_problems(target)
    if problems:
        raise PublishError("\n".join(problems))
    command = rsync_command(target, output, dry_run, site_value("KIZUNA_DEPLOY_SSH", production=True) or None)
    if subprocess.run(command).returncode != 0:
        raise PublishError(f"rsync to {target} failed; the site on the server is unchanged or partly updated")
