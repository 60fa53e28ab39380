"""Replica benchmark: how much a crash loses with the live replica on
(Litestream, kizuna/comments/replica.py), against its sync interval.

    .venv/bin/python bench/replica.py [--cycles 5] [--seconds 4] [--every 0.075] [--interval 1s]

Each cycle, all on 127.0.0.1, every server started by this script and stopped
by its process id, everything under one temporary folder (removed):

1. the production gunicorn Isso (server.gunicorn_command, production
   environment) on a new database, and Litestream replicating it to moto's S3
   server (one for the whole run) through replica.replication, the command
   line the systemd unit runs;
2. a reader posts a comment every --every seconds, each from a network of
   its own on an essay of its own, for --seconds plus a random part of the
   interval (seeded: the crash falls anywhere between two syncs), and the
   time Isso acknowledged each (201) is noted;
3. Litestream and gunicorn are SIGKILLed (whole process groups), the database
   and its -wal/-shm deleted, and `invoke comments.restore --from-replica`
   (the real task, a subprocess) brings it back from the replica;
4. the loss window: how long before the crash the oldest acknowledged comment
   missing from the restored database was acknowledged (0 when none is).

Anchor: the configured sync interval (KIZUNA_COMMENTS_REPLICA_INTERVAL), in
the same run. The promise (docs/production.md) is that a comment acknowledged
longer ago than the interval survives: loss window / interval ≤ 1. Exit 1 if
something fails (a server does not start, the restore fails).
"""

import argparse
import json
import os
import random
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `kizuna` imports from any cwd

from kizuna.comments import replica, settings as comment_settings  # noqa: E402
from kizuna.comments.server import gunicorn_command  # noqa: E402
from kizuna.local_s3 import local_s3  # noqa: E402
from kizuna.processes import free_port, signal_group, started_in_group, wait_until_listening  # noqa: E402

BUCKET = "kizuna-bench"


def comment_environment(folder: Path, port: int, aws: dict, replica_path: str, interval: str) -> dict[str, str]:
    """Production's settings on loopback, fresh secrets, the replica on."""
    (folder / "data").mkdir(parents=True)
    threads = folder / "comment-threads.json"
    threads.write_text(json.dumps({"threads": {f"/essays/r-{n}/": f"Essay {n}" for n in range(1000)}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIZUNA_", "AWS_PROFILE", "AWS_ENDPOINT"))}
    env.update(aws)
    env.update({
        "KIZUNA_ISSO_DB": str(folder / "data" / "comments.db"), "KIZUNA_ISSO_THREADS": str(threads),
        "KIZUNA_ISSO_HOST": "http://127.0.0.1:9", "KIZUNA_ISSO_LISTEN": f"http://127.0.0.1:{port}",
        "KIZUNA_ISSO_PUBLIC_ENDPOINT": f"http://127.0.0.1:{port}",
        "KIZUNA_ISSO_ADMIN_PASSWORD": secrets.token_urlsafe(18), "KIZUNA_ISSO_SALT": secrets.token_hex(16),
        "KIZUNA_ISSO_NOTIFY": "stdout", "KIZUNA_ISSO_RATELIMIT": "1000", "KIZUNA_ISSO_BOT_CHECK": "off",
        "KIZUNA_COMMENTS_REPLICA": f"s3://{BUCKET}/{replica_path}", "KIZUNA_COMMENTS_REPLICA_INTERVAL": interval,
    })
    return comment_settings.production_environment(env)


def post(port: int, n: int) -> int | None:
    body = json.dumps({"text": f"Comment number {n}, posted while the replica runs.", "title": "x"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/new?uri={urllib.parse.quote(f'/essays/r-{n}/', safe='')}", data=body,
        headers={"Content-Type": "application/json", "Origin": "http://127.0.0.1:9",
                 "X-Forwarded-For": f"10.{n // 200}.{n % 200}.7"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["id"]
    except (OSError, urllib.error.HTTPError):
        return None  # killed while answering: not acknowledged


def cycle(work: Path, aws: dict, number: int, args, crash_after: float) -> dict:
    folder = work / f"cycle-{number}"
    port = free_port()
    env = comment_environment(folder, port, aws, f"cycle-{number}", args.interval)
    db = Path(env["KIZUNA_ISSO_DB"])
    processes = [started_in_group(gunicorn_command(f"127.0.0.1:{port}", workers=2), env, folder / "gunicorn.log",
                                   cwd=ROOT)]
    acknowledged: dict[int, float] = {}
    try:
        wait_until_listening(port, processes[0])
        with replica.replication(db, env) as (command, litestream_env):
            processes.append(started_in_group(command, litestream_env, folder / "litestream.log", cwd=ROOT))
            stop = threading.Event()

            def keep_posting():
                n = 0
                while not stop.is_set():
                    comment = post(port, n)
                    if comment is not None and not stop.is_set():
                        acknowledged[comment] = time.time()
                    n += 1
                    time.sleep(args.every)

            poster = threading.Thread(target=keep_posting)
            poster.start()
            time.sleep(crash_after)
            crash = time.time()
            for process in reversed(processes):
                signal_group(process)
            stop.set()
            poster.join(timeout=30)
    finally:
        for process in reversed(processes):
            signal_group(process)
    acknowledged = {comment: at for comment, at in acknowledged.items() if at <= crash}
    for path in (db, *replica.sidecars(db)):
        path.unlink(missing_ok=True)
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "invoke", "comments.restore", "--from-replica", "--db", str(db),
                             "--dir", str(folder / "backups")], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    restore_seconds = time.monotonic() - began
    if result.returncode != 0:
        raise SystemExit(f"cycle {number}: the restore failed:\n{result.stdout}")
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        restored = {row[0] for row in connection.execute("SELECT id FROM comments")}
    return {"acknowledged": len(acknowledged), "lost": len(set(acknowledged) - restored),
            "window": replica.loss_window(acknowledged, crash, restored), "restore": restore_seconds}


def seconds_of(duration: str) -> float:
    """A Go duration as Litestream reads it (1s, 500ms, 1m30s), in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="how long readers post before the crash")
    parser.add_argument("--every", type=float, default=0.075, help="seconds between two comments")
    parser.add_argument("--interval", default="1s", help="KIZUNA_COMMENTS_REPLICA_INTERVAL")
    args = parser.parse_args()
    interval = seconds_of(args.interval)
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-replica-") as folder:
        work = Path(folder)
        with (work / "moto.log").open("w") as log, local_s3(log, buckets=(BUCKET,)) as s3:
            aws = s3.env
            print(f"Replica loss window: {args.cycles} crashes, a comment every {args.every * 1000:.0f} ms for "
                  f"{args.seconds:g} s each, sync interval {args.interval}", flush=True)
            results = []
            rng = random.Random(14)  # the crash falls anywhere between two syncs, the same way each run
            for number in range(1, args.cycles + 1):
                found = cycle(work, aws, number, args, args.seconds + rng.uniform(0, interval))
                results.append(found)
                print(f"  crash {number}: {found['lost']} of {found['acknowledged']} acknowledged comments lost, "
                      f"loss window {found['window']:.3f} s; restore took {found['restore']:.2f} s", flush=True)
    windows = [found["window"] for found in results]
    worst, middle = max(windows), statistics.median(windows)
    print(f"loss window: max {worst:.3f} s, median {middle:.3f} s")
    print(f"ratio to the sync interval ({interval:g} s): max {worst / interval:.2f}, median {middle / interval:.2f} "
          f"(goal ≤ 1: {'PASS' if worst <= interval else 'MISS'})")
    print(f"restore from the replica: median {statistics.median(f['restore'] for f in results):.2f} s "
          "(the whole `invoke comments.restore --from-replica`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
