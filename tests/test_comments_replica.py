"""The comment database's live replica (kizuna/comments/replica.py), with
real parts: moto's S3 server as its own process on loopback, the production
gunicorn Isso (server.gunicorn_command) in WAL mode, Litestream started with
the shared command line (replica.replication), and the real `invoke
comments.restore --from-replica` in a subprocess. Readers post steadily; then
everything is SIGKILLed, the database deleted and restored from the replica:
every comment acknowledged more than the sync interval before the crash must
be back."""

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from support import (ROOT, free_port, gunicorn_command, invoke, isso_request, open_threads,
                     production_comment_environment)
from kizuna.comments import replica
from kizuna.local_s3 import local_s3
from kizuna.processes import server, signal_group, started_in_group, wait_until_listening

INTERVAL = 1.0  # seconds: KIZUNA_COMMENTS_REPLICA_INTERVAL below, the promise's anchor
# A sync starts every INTERVAL and is safe once uploaded: a comment made just
# after one sync is in the next, which a crash may still interrupt mid-upload
# (a few milliseconds to moto on loopback). The promise holds with this room.
UPLOAD = 0.25
BUCKET = "kizuna-replica"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto's S3 server (`python -m moto.server`) on a free 127.0.0.1 port,
    stopped by pid, with one bucket; .env holds the AWS variables a writer
    would set (this machine's own AWS_CA_BUNDLE stays: replica.environment
    must cope with it)."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as output, local_s3(output, buckets=(BUCKET,)) as s3:
        yield s3


def comment_environment(folder: Path, port: int, moto, replica_path: str | None) -> dict:
    env = {k: v for k, v in production_comment_environment(folder, port).items()
           if not k.startswith(("AWS_", "LITESTREAM_")) or k == "AWS_CA_BUNDLE"}
    env.update(moto.env, KIZUNA_COMMENTS_REPLICA_INTERVAL=f"{INTERVAL:g}s")
    if replica_path:
        env["KIZUNA_COMMENTS_REPLICA"] = f"s3://{BUCKET}/{replica_path}"
    open_threads(Path(env["KIZUNA_ISSO_THREADS"]), {f"/essays/r-{n}/": f"Essay {n}" for n in range(400)})
    return env


@contextlib.contextmanager
def comment_stack(folder: Path, moto, replica_path: str):
    """gunicorn Isso (production's command line) and Litestream replicating
    its database; both stopped by pid (group) on leaving, whatever happened."""
    port = free_port()
    env = comment_environment(folder, port, moto, replica_path)
    isso = started_in_group(gunicorn_command(port), env, folder / "gunicorn.log", cwd=ROOT)
    processes = [isso]
    try:
        wait_until_listening(port, isso)
        db = Path(env["KIZUNA_ISSO_DB"])
        with replica.replication(db, env) as (command, litestream_env):
            processes.append(started_in_group(command, litestream_env, folder / "litestream.log", cwd=ROOT))
            time.sleep(0.3)
            assert processes[1].poll() is None, (folder / "litestream.log").read_text()
            yield SimpleNamespace(env=env, db=db, port=port, isso=isso, litestream=processes[1],
                                  site_origin=env["KIZUNA_ISSO_HOST"], folder=folder)
    finally:
        for process in reversed(processes):
            signal_group(process)


def post(stack, n: int) -> int | None:
    """One comment as a reader posts it (each from a network of its own, on an
    essay of its own, so no rate limit applies); its id once acknowledged."""
    body = json.dumps({"text": f"Comment number {n}, posted while the replica runs.", "title": "x"}).encode()
    try:
        status, answer = isso_request(stack, "POST", f"/new?uri={urllib.parse.quote(f'/essays/r-{n}/', safe='')}",
                                      body, {"Content-Type": "application/json"}, reader=f"10.{n // 200}.{n % 200}.7")
    except OSError:
        return None  # the server was killed while answering: not acknowledged
    assert status in (201, 202), (status, answer)
    return json.loads(answer)["id"]


def ids(db: Path) -> set[int]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM comments")}


def restore(stack_env: dict, db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`invoke comments.restore --from-replica …` as the writer runs it on the server."""
    return invoke(ROOT, "comments.restore", "--from-replica", *args, "--db", str(db),
                  "--dir", str(db.parent.parent / "backups"), env=stack_env, check=check)


def crash_and_restore(folder: Path, moto, replica_path: str, seconds: float = 4.0, every: float = 0.075):
    """Post every `every` s for `seconds`, SIGKILL Litestream and gunicorn,
    delete the database, restore it from the replica. Returns (acknowledged
    {id: time}, crash time, restored ids, the restore's output)."""
    acknowledged: dict[int, float] = {}
    with comment_stack(folder, moto, replica_path) as stack:
        stop = threading.Event()

        def keep_posting():
            n = 0
            while not stop.is_set():
                comment = post(stack, n)
                if comment is not None and not stop.is_set():
                    acknowledged[comment] = time.time()
                n += 1
                time.sleep(every)

        poster = threading.Thread(target=keep_posting)
        poster.start()
        time.sleep(seconds)
        crash = time.time()
        signal_group(stack.litestream)
        signal_group(stack.isso)
        stop.set()
        poster.join(timeout=30)
        acknowledged = {comment: at for comment, at in acknowledged.items() if at <= crash}
        for path in (stack.db, *replica.sidecars(stack.db)):
            path.unlink(missing_ok=True)
        result = restore(stack.env, stack.db)
        stack.left_beside = [side.name for side in replica.sidecars(stack.db) if side.exists()]
        return acknowledged, crash, ids(stack.db), result, stack


def test_every_comment_acknowledged_before_the_interval_survives_a_crash(moto, tmp_path):
    acknowledged, crash, restored, result, stack = crash_and_restore(tmp_path, moto, "crash")
    assert len(acknowledged) >= 20, "the readers hardly posted"
    assert "There was no comment database yet." in result.stdout and "Restored the replica" in result.stdout
    safe = {comment for comment, at in acknowledged.items() if at < crash - INTERVAL - UPLOAD}
    assert safe and safe <= restored, sorted(safe - restored)
    window = replica.loss_window(acknowledged, crash, restored)
    print(f"\nreplica loss window: {window:.3f} s (sync interval {INTERVAL:g} s; "
          f"{len(set(acknowledged) - restored)} of {len(acknowledged)} acknowledged comments lost)")
    # What came back is whole, private, and has nothing of the old database's WAL beside it.
    assert stack.left_beside == []
    assert oct(stack.db.stat().st_mode & 0o777) == "0o600"
    with contextlib.closing(sqlite3.connect(stack.db)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    # And the comment server goes on from it.
    port = free_port()
    env = {**stack.env, "KIZUNA_ISSO_LISTEN": f"http://127.0.0.1:{port}",
           "KIZUNA_ISSO_PUBLIC_ENDPOINT": f"http://127.0.0.1:{port}"}
    with server(gunicorn_command(port), port, env, ROOT):
        again = SimpleNamespace(port=port, site_origin=stack.site_origin)
        assert post(again, 399) not in restored


def stale_wal_beside(db: Path) -> None:
    """A -wal holding a committed row the database file does not have, as a
    writer killed before any checkpoint leaves it (never to be applied to a
    restored file: it belongs to the old one)."""
    writer = subprocess.run([sys.executable, "-c", (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA wal_autocheckpoint = 0')\n"
        "c.execute(\"UPDATE comments SET text = 'stale, from the old WAL'\")\n"
        "os._exit(0)  # no close, so no checkpoint\n"), str(db)], timeout=30)
    assert writer.returncode == 0
    assert b"stale, from the old WAL" in db.with_name(db.name + "-wal").read_bytes()


def test_restore_refuses_while_isso_or_litestream_runs_and_at_restores_an_earlier_state(moto, tmp_path):
    with comment_stack(tmp_path, moto, "at") as stack:
        first = {post(stack, n) for n in range(3)}
        time.sleep(INTERVAL * 2.5)  # replicated
        at = datetime.now().astimezone()
        time.sleep(INTERVAL * 1.5)
        later = {post(stack, n) for n in range(3, 6)}
        time.sleep(INTERVAL * 2.5)
        before = stack.db.read_bytes()

        refused = restore(stack.env, stack.db, check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stdout, refused.stdout
        assert "The comment server is running" in refused.stdout and "stop it first" in refused.stdout

        signal_group(stack.isso, signal.SIGTERM)  # Isso stopped as systemctl stops it; Litestream still runs
        refused = restore(stack.env, stack.db, check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stdout, refused.stdout
        assert f"{stack.litestream.pid} (" in refused.stdout and "litestream" in refused.stdout
        assert "Nothing was changed" in refused.stdout
        assert ids(stack.db) == first | later and stack.db.read_bytes()[:100] == before[:100]

        signal_group(stack.litestream, signal.SIGTERM)
        stale_wal_beside(stack.db)
        earlier = restore(stack.env, stack.db, "--at", at.strftime("%Y-%m-%d %H:%M:%S"))
        assert not any(side.exists() for side in replica.sidecars(stack.db))
        assert ids(stack.db) == first, earlier.stdout
        with contextlib.closing(sqlite3.connect(stack.db)) as connection:
            texts = {row[0] for row in connection.execute("SELECT text FROM comments")}
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert "stale, from the old WAL" not in texts
        kept = [path for path in (tmp_path / "backups").iterdir() if "before-restore" in path.name]
        assert len(kept) == 1 and str(kept[0]) in earlier.stdout
        assert ids(kept[0]) == first | later  # nothing is overwritten without a backup

        latest = restore(stack.env, stack.db)
        assert ids(stack.db) == first | later, latest.stdout


def test_restore_says_what_is_missing_and_changes_nothing(moto, tmp_path):
    env = comment_environment(tmp_path, free_port(), moto, None)
    db = Path(env["KIZUNA_ISSO_DB"])
    db.write_bytes(b"")  # something there, which must stay as it is
    cases = [
        ({}, "No replica is configured: set KIZUNA_COMMENTS_REPLICA=s3://bucket/path"),
        ({"KIZUNA_COMMENTS_REPLICA": "https://bucket/x"}, "is not s3://bucket/path"),
        ({"KIZUNA_COMMENTS_REPLICA": f"s3://{BUCKET}/nothing-here"},
         f"The replica s3://{BUCKET}/nothing-here is empty"),
        ({"KIZUNA_COMMENTS_REPLICA": f"s3://{BUCKET}/x", "KIZUNA_COMMENTS_REPLICA_INTERVAL": "often"},
         "KIZUNA_COMMENTS_REPLICA_INTERVAL='often' is not a duration"),
        ({"KIZUNA_COMMENTS_REPLICA": "s3://no-such-bucket/x"}, "Litestream could not restore from s3://no-such-bucket/x"),
    ]
    for extra, said in cases:
        result = restore({**env, **extra}, db, check=False)
        assert result.returncode == 1 and said in result.stdout and "Traceback" not in result.stdout, result.stdout
    result = restore({**env, "KIZUNA_COMMENTS_REPLICA": f"s3://{BUCKET}/x"}, db, "--at", "last tuesday", check=False)
    assert result.returncode == 1 and "--at 'last tuesday' is not a time" in result.stdout, result.stdout
    both = invoke(ROOT, "comments.restore", str(db), "--at", "2026-01-01", "--db", str(db), env=env, check=False)
    assert both.returncode == 1 and "--at chooses a time in the replica" in both.stdout
    assert db.read_bytes() == b"" and not (tmp_path / "backups").exists()


def test_a_replica_that_is_not_a_comment_database_is_refused(moto, tmp_path):
    """What the replica gives back is checked as a backup is: here a sound
    SQLite file, but not Isso's (Litestream replicates whatever it is given)."""
    env = comment_environment(tmp_path, free_port(), moto, "not-isso")
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
        connection.execute("INSERT INTO notes VALUES ('not a comment')")
        connection.commit()
    with replica.replication(other, env) as (command, litestream_env):
        subprocess.run(command + ["-once"], env=litestream_env, check=True, capture_output=True, timeout=60)
    db = Path(env["KIZUNA_ISSO_DB"])
    result = restore(env, db, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stdout, result.stdout
    assert f"Refusing what the replica s3://{BUCKET}/not-isso gave back: it has no table 'comments'" in result.stdout
    assert not db.exists() and not [path for path in db.parent.iterdir() if path.name.startswith(".restore-")]


def test_invoke_comments_replicate_streams_until_stopped(moto, tmp_path):
    """The foreground task: the same command line, until stopped (SIGTERM to its pid stops its Litestream)."""
    port = free_port()
    env = comment_environment(tmp_path, port, moto, "task")
    db = Path(env["KIZUNA_ISSO_DB"])
    with server(gunicorn_command(port), port, env, ROOT):
        stack = SimpleNamespace(port=port, site_origin=env["KIZUNA_ISSO_HOST"])
        posted = {post(stack, n) for n in range(2)}
        task = started_in_group([sys.executable, "-m", "invoke", "comments.replicate", "--db", str(db)], env,
                                tmp_path / "replicate.log", cwd=ROOT)
        try:
            time.sleep(INTERVAL * 3)
            assert task.poll() is None, (tmp_path / "replicate.log").read_text()
        finally:
            task.send_signal(signal.SIGTERM)
            task.wait(timeout=30)
    assert not replica.processes_using(db)  # its Litestream stopped with it
    restore(env, db)
    assert ids(db) == posted


def test_deploy_render_writes_the_replicas_config_and_unit(tmp_path):
    import shlex

    from kizuna.deploy import Deployment, render

    written = {path.name for path in render(Deployment(site_url="https://essays.example.org"), tmp_path)}
    assert {"litestream.yml", "kizuna-litestream.service", "kizuna-isso.service"} <= written
    assert (tmp_path / "litestream.yml").read_text() == replica.config_text("/var/lib/kizuna/comments.db")
    unit = (tmp_path / "kizuna-litestream.service").read_text()
    command = replica.replicate_command(Path("/etc/kizuna/litestream.yml"), Path("/srv/kizuna/app/.venv/bin"))
    assert f"\nExecStart={shlex.join(command)}\n" in unit
    for line in ("User=kizuna", "EnvironmentFile=/etc/kizuna/isso.env", "BindsTo=kizuna-isso.service",
                 "After=kizuna-isso.service", "WantedBy=kizuna-isso.service", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/kizuna", "NoNewPrivileges=yes", "UMask=0077"):
        assert f"\n{line}" in unit, line
    example = (tmp_path / "isso.env.example").read_text()
    assert all(f"\n{name}=" in example for name in ("KIZUNA_COMMENTS_REPLICA", "KIZUNA_COMMENTS_REPLICA_INTERVAL",
                                                     "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                     "AWS_ENDPOINT_URL_S3", "AWS_REGION"))
