"""Comment-server benchmark: reading a busy thread from bare Isso ("bare",
`isso run` as shipped) against gunicorn Isso and against the staged
production stack (nginx + gunicorn, kizuna.stage), and the rate at which the
staged stack accepts new comments.

    .venv/bin/python bench/comments.py [--duration 10] [--connections 20]

What it does, all on 127.0.0.1, every server started by this script and
stopped by its process id, everything under one temporary folder (removed):

1. Seeds a thread, /essays/benchmark/, with 100 comments (70 top-level, 30
   replies) posted through the API of a bare Isso, from 100 reader addresses
   (X-Forwarded-For, trusted from loopback), Markdown of 50-150 words with
   emphasis, links and the odd quote or code span, so that Isso's rendering
   (mistune, then bleach) costs what it costs on a real essay. They are
   approved as the writer approves them (`invoke comments.approve ID,ID… --db`).
   That database is copied for each server below, so each reads the same rows.
2. Measures GET of the thread with wrk (--latency; a 2 s warm-up, then
   --repeat runs, median reported):
     bare      `isso run` (kizuna.comments.server.raw_isso_command), the
               development environment (settings.development_environment);
               at least 10 s a run: it answers ~6 requests/s, and at 20
               connections a request waits ~3 s (wrk's timeout raised to 30 s)
     gunicorn  the stage's gunicorn alone (kizuna.stage.prepare: --preload,
               3 workers, kizuna.comments.wsgi:application, production
               environment), no nginx
     stage     nginx + gunicorn from kizuna.stage.prepare, GET /isso/?uri=…
               (micro-cached 1 s by nginx, refreshed in the background,
               deploy/read-cache.conf.j2), as a plain client that asks for
               no compression; then, in the same run, as a browser-like client
               (Accept-Encoding: gzip, br), which gets the copy Isso
               compressed once per refresh (kizuna/comments/read_policy.py);
               then again with a parameter never seen before on every request
               (`&z=N`, a wrk script), as a reader out to get past the cache
               would send: reads are keyed on the uri alone, so the goal is
               the same as for plain reads
   and prints requests/s, p50 and p99, the ratios stage/bare and
   gunicorn/bare, and the goals for the stage (PASS or MISS).
3. Writes through the stage (rate limits raised through extra_env): several
   client threads POST new comments for --duration seconds over keep-alive
   connections; every acknowledged (201/202) id must then be in the
   database, and no answer may be a 5xx.

wrk runs with -t2 (the default --wrk-threads): on a small machine wrk shares
the cores with the server it measures, which all three servers pay alike.
Latencies (p99 above all) also suffer from anything else the machine runs:
each run reports the share of the machine's CPU that processes other than
this benchmark used meanwhile ("other load", from /proc), waits up to
--quiet-wait seconds before each run for that to fall below 10%, and lists
runs above it under "Odd".

The exit status is 0 whether or not the goals are met; it is 1 when something
fails: a server does not start, a thread does not read back as seeded, wrk
fails, or the write test loses a comment or gets a 5xx.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `kizuna` imports from any cwd

from kizuna import stage as staging  # noqa: E402
from kizuna.comments import settings as comment_settings  # noqa: E402
from kizuna.comments.server import raw_isso_command  # noqa: E402
from kizuna.processes import free_port, stop, wait_until_listening  # noqa: E402

THREAD = "/essays/benchmark/"
THREAD_TITLE = "Benchmark"
WRITE_THREAD = "/essays/benchmark-writes/"
QUERY = "?uri=" + urllib.parse.quote(THREAD, safe="")
COMMENTS = 100
REPLIES = 30  # of the 100, replies to a top-level comment
SEED = 20261205  # fixed: every run reads the very same comments
LIMITS_RAISED = {"KIZUNA_ISSO_RATELIMIT": "1000000", "KIZUNA_ISSO_DIRECT_REPLY": "1000000"}

# Goals for the stage, at --connections (the goal is stated at 20).
THROUGHPUT_GOAL = 1000.0  # stage requests/s ÷ bare requests/s, at least
P99_GOAL_MS = 20.0        # stage p99 latency, below

WARM_UP = 2  # seconds of wrk before each measured run
BROWSER_ENCODINGS = "gzip, br"  # a browser-like client, as the goal is stated


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# The comments
# --------------------------------------------------------------------------

VOCABULARY = """
the a an and but or so yet because when while though if then than as of to in
on at by for with without about between through after before under over into
we you they it she he one someone everyone nobody people friends strangers
heart mind pain joy fear hope trust silence voice words letter evening morning
night rain light window door room street city river sea road train station
bridge garden tree leaf wind winter summer spring autumn year day hour moment
memory promise secret question answer story bond connection distance closeness
courage weakness kindness loneliness understanding truth reason habit burden
read essay line paragraph reminded wrote again thank you this part ending
quiet small slow gentle heavy warm cold honest careful fragile steady tired
always never often rarely sometimes perhaps almost only still already really
don't can't won't isn't wasn't we're they're it's that's there's I'm you're
""".split()
NAMES = ["Aoi", "Haruto", "Mei", "Sora", "Yuki", "Ren", "Hana", "Kaito", "Emma", "Noah", "Lena", "Tomás"]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(6, 16))]
    # Markdown the renderer has to work on: emphasis, strong, links, code.
    roll = rng.random()
    i = rng.randrange(len(words))
    if roll < 0.25:
        words[i] = f"*{words[i]}*"
    elif roll < 0.40:
        words[i] = f"**{words[i]}**"
    elif roll < 0.55:
        words[i] = f"[{words[i]}](https://example.org/notes/{rng.randint(1, 999)}/)"
    elif roll < 0.60:
        words[i] = f"`{words[i]}`"
    words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words) + rng.choice([".", ".", ".", "?", "!", "…"])


def comment_text(rng: random.Random) -> str:
    """50-150 words of Markdown in one to three paragraphs, now and then a quote."""
    target = rng.randint(50, 150)
    sentences, count = [], 0
    while count < target:
        s = sentence(rng)
        sentences.append(s)
        count += len(s.split())
    cuts = sorted(rng.sample(range(1, len(sentences)), min(len(sentences) - 1, rng.randint(0, 2))))
    paragraphs = [" ".join(sentences[a:b]) for a, b in zip([0, *cuts], [*cuts, len(sentences)])]
    if rng.random() < 0.15:
        paragraphs.insert(0, "> " + sentence(rng))
    return "\n\n".join(paragraphs)


def seed_comments() -> list[dict]:
    """The 100 comments, as the JSON a reader's browser posts, plus the
    index of the comment each reply answers and the reader's address."""
    rng = random.Random(SEED)
    reply_slots = set(rng.sample(range(10, COMMENTS), REPLIES))
    comments = []
    for index in range(COMMENTS):
        parent = rng.choice([i for i in range(index) if i not in reply_slots]) if index in reply_slots else None
        named = rng.random() < 0.7
        comments.append({
            "json": {
                "text": comment_text(rng),
                "title": THREAD_TITLE,
                "author": f"{rng.choice(NAMES)} {index}" if named else None,
                "email": f"reader{index}@example.org" if named and rng.random() < 0.5 else None,
                "website": f"https://reader{index}.example.org/" if named and rng.random() < 0.3 else None,
            },
            "parent": parent,
            # Isso keeps a /24 of an IPv4 address: readers differ in the third octet.
            "address": f"10.0.{index}.7",
        })
    return comments


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------

def clean_environment() -> dict[str, str]:
    """This process's environment without the writer's own KIZUNA_* settings
    (a KIZUNA_SMTP_HOST there would have Isso mail on every post)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("KIZUNA_")}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Servers:
    """Servers started by this script, each stopped by its process id; their
    output goes to log files (Isso logs every request or new comment)."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, command: list[str], env: dict | None, port: int) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        try:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()  # the child has its own copy
        self.running.append(process)
        try:
            wait_until_listening(port, process)
        except (RuntimeError, TimeoutError) as error:
            raise BenchError(f"{name} did not start: {error}\n{self.tail(name)}") from None
        return process

    def stop(self, process: subprocess.Popen) -> None:
        stop(process)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(self.running[:]):
            self.stop(process)

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def request(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None,
            timeout: float = 60) -> tuple[int, bytes, dict]:
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)) as connection:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=data, headers={
            **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())


# --------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------

def seed_database(servers: Servers, work: Path) -> Path:
    """Post the comments through a bare Isso, approve them, and return a
    consistent copy of its database (made with SQLite's backup API)."""
    port = free_port()
    origin = f"http://127.0.0.1:{free_port()}"  # the site: nothing listens, Isso only warns
    db = work / "seed" / "comments.db"
    base = {**clean_environment(), **LIMITS_RAISED, "KIZUNA_ISSO_TRUSTED_PROXIES": "127.0.0.1"}
    env = comment_settings.development_environment(site_origin=origin, port=port, db=db, base=base)
    isso = servers.start("seed-isso", raw_isso_command(), env, port)
    ids = []
    path = "/new?uri=" + urllib.parse.quote(THREAD, safe="")
    for comment in seed_comments():
        body = dict(comment["json"])
        if comment["parent"] is not None:
            body["parent"] = ids[comment["parent"]]
        status, answer, _ = request(port, "POST", path, body,
                                    {"Origin": origin, "X-Forwarded-For": comment["address"]})
        if status not in (201, 202):
            raise BenchError(f"seeding: Isso answered {status} to a new comment: {answer[:300]!r}")
        ids.append(json.loads(answer)["id"])
    approve = subprocess.run(
        [sys.executable, "-m", "invoke", "comments.approve", ",".join(map(str, ids)), "--db", str(db)],
        cwd=ROOT, env=clean_environment(), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    if approve.returncode != 0:
        raise BenchError(f"invoke comments.approve failed ({approve.returncode}):\n{approve.stdout}")
    servers.stop(isso)
    seeded = work / "seed.db"
    with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(seeded)) as copy:
        source.backup(copy)
        public = source.execute("SELECT COUNT(*) FROM comments WHERE mode = 1").fetchone()[0]
        words = [len(text.split()) for (text,) in source.execute("SELECT text FROM comments")]
    if public != COMMENTS:
        raise BenchError(f"seeding: {public} public comments in the database, expected {COMMENTS}")
    print(f"  {COMMENTS} comments ({COMMENTS - REPLIES} top-level, {REPLIES} replies), "
          f"{min(words)}-{max(words)} words each, approved with invoke comments.approve", flush=True)
    return seeded


def place_database(seeded: Path, db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded, db)


def count_comments(replies: list[dict]) -> int:
    return sum(1 + count_comments(item.get("replies") or []) for item in replies)


def check_thread(port: int, path: str, name: str) -> int:
    """One GET before measuring: the whole thread must come back. Returns its size in bytes."""
    status, body, _ = request(port, "GET", path)
    if status != 200:
        raise BenchError(f"{name}: GET {path} answered {status}: {body[:300]!r}")
    found = count_comments(json.loads(body).get("replies") or [])
    if found != COMMENTS:
        raise BenchError(f"{name}: GET {path} returned {found} comments, expected {COMMENTS}")
    return len(body)


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise BenchError(f"wrk: cannot read the latency {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


# A wrk script that adds a new parameter to every request (`&z=1`, `&z=2`…),
# as a reader trying to get past the cache would.
CACHE_BUSTER = """
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "&z=" .. n)
end
"""


def wrk(url: str, connections: int, seconds: float, threads: int, timeout: float = 2.0,
        headers: tuple[str, ...] = (), script: Path | None = None) -> dict:
    threads = max(1, min(threads, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               f"--timeout={max(1, round(timeout))}s", *(f"--header={header}" for header in headers), "--latency",
               *(["--script", str(script)] if script else []), url]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=seconds + timeout + 60)
    except FileNotFoundError:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)") from None
    out = result.stdout
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {' '.join(command)}\n{out}")
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", out, re.M)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    worst = re.search(r"^\s*Latency\s+\S+\s+\S+\s+(\S+)", out, re.M)
    if not (rps and total):
        raise BenchError(f"wrk: unexpected output from {' '.join(command)}\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "command": " ".join(command),
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        # With no reply at all, wrk has no latencies to show.
        "p50": milliseconds(p50.group(1)) if p50 else float("nan"),
        "p99": milliseconds(p99.group(1)) if p99 else float("nan"),
        "max": milliseconds(worst.group(1)) if worst else 0.0,
        "socket errors": dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups())))
        if errors else {},
        "non-2xx": int(non2xx.group(1)) if non2xx else 0,
        "output": out,
    }


# --------------------------------------------------------------------------
# Other load on the machine
# --------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # from field 3 (state) on


def own_cpu() -> float:
    """CPU seconds used so far by this script and everything it started:
    the live servers and their workers, and the children already reaped (wrk)."""
    children: dict[str, list[str]] = {}
    ticks: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)):
            children.setdefault(fields[1], []).append(entry.name)  # field 4, ppid
            ticks[entry.name] = int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    total, todo = 0, list(children.get(str(os.getpid()), []))
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, []))
    mine = os.times()
    return total / TICK + mine.user + mine.system + mine.children_user + mine.children_system


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


NOISY = 0.10  # other processes using more than this share of the machine make timings unreliable


class OtherLoad:
    """How much of the machine something other than this benchmark used
    while it measured: other people's tests or builds make latencies noisy."""

    def __enter__(self):
        self.wall, self.machine, self.own = time.monotonic(), machine_cpu(), own_cpu()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.wall
        other = (machine_cpu() - self.machine) - (own_cpu() - self.own)
        self.share = max(0.0, other) / (wall * (os.cpu_count() or 1))


def wait_until_quiet(most: float) -> float:
    """Wait, at most `most` seconds, until processes other than this
    benchmark use less than NOISY of the machine (over 2 s). Returns the wait."""
    started = time.monotonic()
    while time.monotonic() - started < most:
        with OtherLoad() as load:
            time.sleep(2)
        if load.share < NOISY:
            break
    return time.monotonic() - started


def measure(name: str, url: str, connections: int, seconds: float, threads: int, repeat: int,
            timeout: float = 2.0, headers: tuple[str, ...] = (), quiet_wait: float = 0,
            script: Path | None = None) -> dict:
    """wrk `repeat` times after one warm-up; the median run (by requests/s)
    is the result, with the median p50 and p99 of all runs."""
    print(f"  {name}: warm-up {WARM_UP} s, then {repeat} × {seconds:g} s at {connections} connections ...", flush=True)
    warm = wrk(url, connections, WARM_UP, threads, timeout, headers, script)
    runs = []
    for _ in range(repeat):
        # wrk leaves up to `connections` requests in flight when it stops, and
        # the server finishes them: let it, so a run measures only its own.
        time.sleep(min(timeout, (runs[-1] if runs else warm)["max"] / 1000 + 0.5))
        waited = wait_until_quiet(quiet_wait) if quiet_wait else 0
        if waited > 2.5:
            print(f"    (waited {waited:.0f} s for other processes to leave the machine quieter)", flush=True)
        with OtherLoad() as load:
            result = wrk(url, connections, seconds, threads, timeout, headers, script)
        result["other load"] = load.share
        runs.append(result)
        print(f"    {result['rps']:>10,.1f} requests/s, p50 {result['p50']:8.2f} ms, p99 {result['p99']:8.2f} ms,"
              f" max {result['max']:8.2f} ms; other load on the machine {load.share:4.0%}", flush=True)
    print(f"    [{runs[0]['command']}]", flush=True)
    result = dict(sorted(runs, key=lambda run: run["rps"])[len(runs) // 2])
    result.update({
        "connections": connections,
        "runs": runs,
        "p50": statistics.median(run["p50"] for run in runs),
        "p99": statistics.median(run["p99"] for run in runs),
        "other load": max(run["other load"] for run in runs),
        "non-2xx": sum(run["non-2xx"] for run in runs),
        "socket errors": {kind: sum(run["socket errors"].get(kind, 0) for run in runs)
                          for kind in ("connect", "read", "write", "timeout")},
    })
    return result


# --------------------------------------------------------------------------
# The three servers, read
# --------------------------------------------------------------------------

def bare_isso(servers: Servers, work: Path, seeded: Path, args) -> dict:
    port = free_port()
    db = work / "bare" / "comments.db"
    place_database(seeded, db)
    env = comment_settings.development_environment(site_origin=f"http://127.0.0.1:{free_port()}", port=port,
                                                   db=db, base=clean_environment())
    process = servers.start("bare-isso", raw_isso_command(), env, port)
    try:
        size = check_thread(port, "/" + QUERY, "bare")
        # Slow: a request can wait seconds behind the others, so wrk's
        # timeout is raised well beyond its 2 s default.
        result = measure("bare isso run", f"http://127.0.0.1:{port}/{QUERY}", args.bare_connections,
                         args.bare_duration, args.wrk_threads, args.repeat, timeout=30,
                         quiet_wait=args.quiet_wait)
    finally:
        servers.stop(process)
    result["bytes"] = size
    return result


def open_threads(setup: staging.Stage) -> None:
    """The two essays this benchmark comments on, as a build would list them
    (the comment server takes comments only on essays the site has)."""
    setup.threads.parent.mkdir(parents=True, exist_ok=True)
    setup.threads.write_text(json.dumps({"threads": {THREAD: THREAD_TITLE, WRITE_THREAD: "Benchmark writes"}}))


def gunicorn_isso(servers: Servers, work: Path, seeded: Path, args) -> dict:
    # The stage's own gunicorn command and production environment, without its nginx.
    setup = staging.Stage(port=free_port(), isso_port=free_port(), prefix=work / "gunicorn", workers=3)
    place_database(seeded, setup.db)
    open_threads(setup)
    command, env = staging.prepare(setup, extra_env={"KIZUNA_ISSO_NOTIFY": "stdout"},
                                  base=clean_environment())["comments"]
    process = servers.start("gunicorn-isso", command, env, setup.isso_port)
    try:
        size = check_thread(setup.isso_port, "/" + QUERY, "gunicorn")
        result = measure("gunicorn (3 workers, no nginx)", f"http://127.0.0.1:{setup.isso_port}/{QUERY}",
                         args.connections, args.duration, args.wrk_threads, args.repeat, timeout=10,
                         quiet_wait=args.quiet_wait)
    finally:
        servers.stop(process)
    result["bytes"] = size
    return result


def start_stage(servers: Servers, work: Path, seeded: Path) -> tuple[staging.Stage, list]:
    setup = staging.Stage(port=free_port(), isso_port=free_port(), prefix=work / "stage", workers=3)
    while setup.isso_port == setup.port:
        setup.isso_port = free_port()
    place_database(seeded, setup.db)
    open_threads(setup)
    # Rate limits raised (the write test posts from one address, as nginx
    # tells Isso the client's own, 127.0.0.1); notices to the log, not mail;
    # the bot check off, as the writers post bare JSON (bench/bots.py measures it).
    commands = staging.prepare(setup, extra_env={**LIMITS_RAISED, "KIZUNA_ISSO_NOTIFY": "stdout",
                                                 "KIZUNA_ISSO_BOT_CHECK": "off"}, base=clean_environment())
    started = []
    gunicorn, env = commands["comments"]
    started.append(servers.start("stage-gunicorn", gunicorn, env, setup.isso_port))
    nginx, env = commands["nginx"]
    started.append(servers.start("stage-nginx", nginx, env, setup.port))
    return setup, started


def stage_reads(setup: staging.Stage, args) -> dict:
    path = "/isso/" + QUERY
    size = check_thread(setup.port, path, "stage")
    result = measure("stage (nginx + gunicorn)", setup.url + path, args.connections, args.duration,
                     args.wrk_threads, args.repeat, timeout=10, quiet_wait=args.quiet_wait)
    result["bytes"] = size
    return result


def stage_reads_busting(setup: staging.Stage, work: Path, args) -> dict:
    """The same, every request with a parameter never seen before: nginx
    keys reads on the uri alone, so they are still cache hits."""
    script = work / "cache-buster.lua"
    script.write_text(CACHE_BUSTER)
    return measure("stage, a new &z=N on every request", setup.url + "/isso/" + QUERY, args.connections,
                   args.duration, args.wrk_threads, args.repeat, timeout=10, quiet_wait=args.quiet_wait,
                   script=script)


def stage_reads_browser(setup: staging.Stage, args) -> dict:
    """The same, asking for compression as browsers do: the copy Isso
    compressed once per refresh, kept compressed by nginx."""
    path = "/isso/" + QUERY
    status, body, headers = request(setup.port, "GET", path, headers={"Accept-Encoding": BROWSER_ENCODINGS})
    if status != 200:
        raise BenchError(f"stage: GET {path} with Accept-Encoding answered {status}")
    result = measure(f"stage, browser-like (Accept-Encoding: {BROWSER_ENCODINGS})", setup.url + path, args.connections, args.duration,
                     args.wrk_threads, args.repeat, timeout=10, headers=(f"Accept-Encoding: {BROWSER_ENCODINGS}",),
                     quiet_wait=args.quiet_wait)
    result["bytes"] = len(body)
    result["encoding"] = headers.get("Content-Encoding", "identity")
    return result


# --------------------------------------------------------------------------
# Writes through the stage
# --------------------------------------------------------------------------

def stage_writes(setup: staging.Stage, seconds: float, writers: int) -> dict:
    """`writers` threads POST new comments over keep-alive connections for
    `seconds`; then every acknowledged id is looked up in the database."""
    path = "/isso/new?uri=" + urllib.parse.quote(WRITE_THREAD, safe="")
    headers = {"Content-Type": "application/json", "Origin": setup.url, "Referer": setup.url + WRITE_THREAD}
    rng = random.Random(SEED + 1)
    texts = [comment_text(rng) for _ in range(64)]
    lock = threading.Lock()
    acked, statuses, failures = [], {}, []
    deadline = time.monotonic() + seconds

    def writer(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", setup.port, timeout=30)
        sent = 0
        try:
            while time.monotonic() < deadline:
                body = json.dumps({"text": f"{texts[(number + sent) % len(texts)]}\n\n(writer {number}, post {sent})",
                                   "title": "Benchmark writes", "author": f"Writer {number}"}).encode()
                sent += 1
                try:
                    connection.request("POST", path, body=body, headers=headers)
                    response = connection.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException) as error:
                    with lock:
                        failures.append(f"{type(error).__name__}: {error}")
                    connection.close()  # the next request opens a fresh connection
                    continue
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                    if response.status in (201, 202):
                        acked.append(json.loads(answer)["id"])
        finally:
            connection.close()

    with OtherLoad() as load:
        started = time.monotonic()
        threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 60)
        elapsed = time.monotonic() - started

    uri = urllib.parse.unquote(WRITE_THREAD)
    with closing(sqlite3.connect(f"{setup.db.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        stored = {id for (id,) in connection.execute(
            "SELECT comments.id FROM comments JOIN threads ON comments.tid = threads.id WHERE threads.uri = ?", (uri,))}
    return {
        "seconds": elapsed,
        "writers": writers,
        "accepted": len(acked),
        "duplicates": len(acked) - len(set(acked)),
        "lost": sorted(set(acked) - stored),
        "unacknowledged stored": len(stored - set(acked)),
        "statuses": dict(sorted(statuses.items())),
        "5xx": sum(count for status, count in statuses.items() if status >= 500),
        "failures": failures,
        "other load": load.share,
    }


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def goal(label: str, value: float, sign: str, target: float, ok: bool, unit: str = "") -> None:
    print(f"  {label:38}{value:>12,.1f}{unit:3} (goal {sign} {target:g}{unit})  {'PASS' if ok else 'MISS'}")


def oddities(name: str, result: dict) -> list[str]:
    odd = []
    if result["other load"] > NOISY:
        odd.append(f"{name}: other processes used up to {result['other load']:.0%} of the machine while it was"
                   " measured; its latencies (p99 above all) are not to be trusted")
    if result["non-2xx"]:
        odd.append(f"{name}: {result['non-2xx']} answers were not 2xx/3xx")
    errors = {kind: n for kind, n in result["socket errors"].items() if n}
    if errors:
        odd.append(f"{name}: wrk socket errors {errors}")
    return odd


def log_oddities(work: Path, servers: Servers) -> list[str]:
    """Tracebacks in the servers' logs, errors in nginx's."""
    odd = []
    for log in sorted(servers.logs.glob("*.log")):
        text = log.read_text(encoding="utf-8", errors="replace")
        tracebacks = text.count("Traceback (most recent call last)")
        if tracebacks:
            odd.append(f"{log.name}: {tracebacks} Python tracebacks, e.g.\n"
                       + "\n".join("      " + line for line in text[text.index("Traceback"):].splitlines()[:12]))
    error_log = work / "stage" / "error.log"
    if error_log.exists():
        lines = [line for line in error_log.read_text(errors="replace").splitlines()
                 if re.search(r"\[(error|crit|alert|emerg)\]", line)]
        if lines:
            odd.append(f"nginx error.log: {len(lines)} errors, e.g. {lines[0]}")
    return odd


def report(results: dict, writes: dict, args, odd: list[str]) -> bool:
    """Print the tables and goals; True when nothing failed."""
    bare, gunicorn, stage = results["bare"], results["gunicorn"], results["stage"]
    print()
    print(f"GET {THREAD} ({COMMENTS} approved comments; JSON of {stage['bytes']:,} bytes), "
          f"median of {args.repeat} wrk runs of {args.duration:g} s after a {WARM_UP} s warm-up, "
          f"{os.cpu_count()} CPUs shared by wrk and the servers")
    print()
    print(f"  {'server':34}{'conns':>6}{'requests/s':>13}{'p50 ms':>10}{'p99 ms':>10}{'vs bare':>10}"
          f"{'other load':>12}")
    browser = results["stage, browser"]
    for name, label in (("bare", "bare isso run"), ("gunicorn", "gunicorn, 3 workers (no nginx)"),
                        ("stage", "stage, nginx + gunicorn"), ("stage, browser", "  the same, browser-like client"),
                        ("stage, busting", "  the same, a new &z=N each time")):
        r = results[name]
        print(f"  {label:34}{r['connections']:>6}{r['rps']:>13,.1f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
              f"{ratio(r['rps'], bare['rps']):>9,.1f}×{r['other load']:>12.0%}")
    print("  (other load: the most CPU, over the runs, that processes other than this benchmark used)")
    print(f"  (browser-like: Accept-Encoding: {BROWSER_ENCODINGS}; answered {browser['encoding']}, "
          f"{browser['bytes']:,} bytes, compressed once per refresh)")
    if bare["connections"] != stage["connections"] or args.bare_duration != args.duration:
        print(f"  (bare measured for {args.bare_duration:g} s at {bare['connections']} connections)")
    print()
    stage_ratio = ratio(stage["rps"], bare["rps"])
    gunicorn_ratio = ratio(gunicorn["rps"], bare["rps"])
    print("Ratios")
    print(f"  {'stage/bare requests/s':38}{stage_ratio:>12,.1f}×")
    print(f"  {'gunicorn/bare requests/s':38}{gunicorn_ratio:>12,.1f}×")
    print(f"  {'stage/gunicorn requests/s':38}{ratio(stage['rps'], gunicorn['rps']):>12,.1f}×")
    print(f"  {'stage, browser-like/bare requests/s':38}{ratio(browser['rps'], bare['rps']):>12,.1f}×")
    busting = results["stage, busting"]
    print(f"  {'stage, cache-busting/bare requests/s':38}{ratio(busting['rps'], bare['rps']):>12,.1f}×")
    print()
    print(f"Writes through the stage: {writes['writers']} clients, keep-alive, {writes['seconds']:.1f} s"
          f" (other load {writes['other load']:.0%})")
    print(f"  accepted (201/202)      {writes['accepted']:>8,}   {writes['accepted'] / writes['seconds']:,.1f}/s")
    print(f"  lost (acked, not in DB) {len(writes['lost']):>8,}")
    print(f"  5xx answers             {writes['5xx']:>8,}")
    print(f"  all answers             {writes['statuses']}")
    if writes["failures"]:
        print(f"  no answer (connection)  {len(writes['failures']):>8,}   e.g. {writes['failures'][0]}")
    if writes["unacknowledged stored"]:
        print(f"  stored, not acked       {writes['unacknowledged stored']:>8,}")
    print()
    print("Goals (stage)")
    goal(f"stage/bare requests/s, {stage['connections']} conns", stage_ratio, ">=", THROUGHPUT_GOAL,
         stage_ratio >= THROUGHPUT_GOAL, "×")
    goal(f"stage p99 at {stage['connections']} connections", stage["p99"], "<", P99_GOAL_MS,
         stage["p99"] < P99_GOAL_MS, "ms")
    browser_ratio = ratio(browser["rps"], bare["rps"])
    goal("browser-like/bare requests/s", browser_ratio, ">=", THROUGHPUT_GOAL, browser_ratio >= THROUGHPUT_GOAL, "×")
    goal("browser-like p99", browser["p99"], "<", P99_GOAL_MS, browser["p99"] < P99_GOAL_MS, "ms")
    busting_ratio = ratio(busting["rps"], bare["rps"])
    goal("cache-busting reads/bare requests/s", busting_ratio, ">=", THROUGHPUT_GOAL,
         busting_ratio >= THROUGHPUT_GOAL, "×")
    ok = not writes["lost"] and writes["5xx"] == 0 and writes["duplicates"] == 0 and writes["accepted"] > 0
    print(f"  {'writes: lost, 5xx':38}{len(writes['lost']):>8}, {writes['5xx']:<6} (must be 0, 0)      "
          f"{'OK' if ok else 'FAIL'}")
    if odd:
        print()
        print("Odd")
        for line in odd:
            print(f"  {line}")
    return ok


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of each measured run (default 10)")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections (default 20)")
    parser.add_argument("--bare-duration", type=float, default=None,
                        help="seconds for bare isso run (default: --duration, at least 10)")
    parser.add_argument("--bare-connections", type=int, default=None,
                        help="connections for bare isso run (default: --connections)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="measured runs per server; the median is reported (default 3)")
    parser.add_argument("--quiet-wait", type=float, default=60,
                        help="before each run, wait up to this many seconds for other processes to use"
                             f" less than {NOISY:.0%}% of the machine (default 60; 0: don't wait)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--writers", type=int, default=8, help="client threads posting comments (default 8)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases, configs)")
    args = parser.parse_args()
    # Bare Isso answers a handful of requests a second: fewer than 10 s of
    # them is too few to measure (at 20 connections a request waits ~3 s).
    args.bare_duration = args.bare_duration or max(10.0, args.duration)
    args.bare_connections = args.bare_connections or args.connections
    if shutil.which("wrk") is None:
        print("bench/comments.py: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _interrupt)  # stopped by pid: stop the servers too
    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-comments-"))
    # mkdtemp makes it 0700; nginx started as root runs its workers as
    # nobody, who must reach the cache and temp folders under the stage prefix.
    work.chmod(0o711)
    (work / "logs").mkdir()
    servers = Servers(work / "logs")
    ok = False
    try:
        print(f"Seeding {THREAD} through a bare Isso ...", flush=True)
        seeded = seed_database(servers, work)
        print("Reading the thread ...", flush=True)
        results = {"bare": bare_isso(servers, work, seeded, args),
                   "gunicorn": gunicorn_isso(servers, work, seeded, args)}
        setup, started = start_stage(servers, work, seeded)
        results["stage"] = stage_reads(setup, args)
        results["stage, browser"] = stage_reads_browser(setup, args)
        results["stage, busting"] = stage_reads_busting(setup, work, args)
        print(f"Writing through the stage: {args.writers} clients for {args.duration:g} s ...", flush=True)
        writes = stage_writes(setup, args.duration, args.writers)
        for process in started:
            servers.stop(process)
        odd = [line for name, r in results.items() for line in oddities(name, r)] + log_oddities(work, servers)
        if writes["other load"] > NOISY:
            odd.append(f"writes: other processes used {writes['other load']:.0%} of the machine meanwhile")
        ok = report(results, writes, args, odd)
    except BenchError as error:
        print(f"bench/comments.py: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench/comments.py: interrupted", file=sys.stderr)
    finally:
        servers.stop_all()
        if args.keep:
            print(f"Kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
