"""Bots against the writer's queue (issue 11, "Bots stay out without third
parties"): what reaches the moderation queue when scripts flood the comment
server, and what the check costs the readers it must not stop.

    .venv/bin/python bench/bots.py [--posts 1000] [--readers 6] [--solves 20]

Everything on loopback, every server started here and stopped by its process
id, under one temporary folder (removed at the end):

1. The staged production stack (kizuna.stage: nginx + gunicorn with 3
   workers), the site built for it, production's limits (2 comments a minute
   per reader, 3 conversations per essay an hour; a network ten times that)
   and the bot check on, as production runs them.
2. Real readers: --readers Chromium pages (phone and desktop sizes, in turn),
   each from its own address (127.0.1.N, through a small relay that connects
   to nginx from that address), scroll to the comments, type a thought and
   press Send in the widget, as a person does. Goal: every one is taken (202),
   with nothing in the console.
3. The flood: --posts posts from 127.0.0.2…127.0.0.250 (source_address), in
   equal shares of the bots a writer meets:
     no solution      the JSON the widget sends, posted by a script
     copied solution  a solution a reader's browser already spent, replayed
     trap filled      a fresh, solved challenge, and every field filled in,
                      the hidden one too (a form-filler that runs the page)
     not solved       a challenge fetched, and a number guessed
   Goal: at most 10 reach the queue (none should).
4. Page weight: check.js compressed (gzip -9, and the .br copy the build
   makes), loaded only when a reader starts to write. Goal: at most 10 KB.
5. Solving time in Chromium, with check.js's own code, for --solves fresh
   challenges: on this machine, and with the CPU slowed 4× (DevTools'
   "mid-tier mobile"), as a phone.
6. Not a goal, said plainly: a bot that does the work (fetches and solves
   every challenge, in Python) from many addresses is not stopped by the
   proof of work; the per-reader and per-network limits and the writer's own
   reading are what meet it. How many of 100 such posts reach the queue.

The exit status is 0 whether or not the goals are met; 1 when something
fails (a server does not start, or any answer is a 5xx).
"""

import argparse
import base64
import contextlib
import gzip
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `kizuna` imports from any cwd

from kizuna import stage as staging  # noqa: E402
from kizuna.browser import launch  # noqa: E402
from kizuna.comments import bot_check  # noqa: E402
from kizuna.processes import free_port, stop, wait_until_listening  # noqa: E402

ESSAY = "/essays/unresolved-desire-to-connect/"  # where the real readers write
FLOODED = "/essays/flooded/"  # where the bots post (open for comments, as a build would list it)
WORKED_FOR = "/essays/worked-for/"  # where the bot that solves every challenge posts
BOT_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 251)]
KINDS = ("no solution", "copied solution", "trap filled", "not solved")
QUEUE_GOAL = 10
WEIGHT_GOAL = 10 * 1024
VIEWPORTS = [("phone", {"width": 390, "height": 844}), ("desktop", {"width": 1280, "height": 800})]
SEED = 11


class BenchError(Exception):
    pass


def clean_environment() -> dict[str, str]:
    """This process's environment without the writer's own KIZUNA_* settings:
    the stage gets production's defaults."""
    return {name: value for name, value in os.environ.items() if not name.startswith("KIZUNA_")}


# --- The stack ---------------------------------------------------------------------------

@contextlib.contextmanager
def staged(work: Path):
    """The stage with production's limits and the bot check on; the site
    built; the bots' essays opened. Servers log to files, stopped by pid."""
    setup = staging.Stage(port=free_port(), isso_port=free_port(), prefix=work / "stage", workers=3)
    while setup.isso_port == setup.port:
        setup.isso_port = free_port()
    commands = staging.prepare(setup, extra_env={"KIZUNA_ISSO_NOTIFY": "stdout", "KIZUNA_ISSO_BOT_CHECK": "on"},
                               base=clean_environment())
    started = []
    try:
        for name, port in (("comments", setup.isso_port), ("nginx", setup.port)):
            command, env = commands[name]
            with (work / f"{name}.log").open("ab") as log:
                started.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            try:
                wait_until_listening(port, started[-1])
            except (RuntimeError, TimeoutError) as error:
                raise BenchError(f"{name} did not start: {error}") from None
        staging.build_site(setup)
        threads = json.loads(setup.threads.read_text())
        threads["threads"].update({FLOODED: "Flooded", WORKED_FOR: "Worked for"})
        setup.threads.write_text(json.dumps(threads))
        yield setup
    finally:
        for process in reversed(started):
            stop(process)


def request(setup, method, path, body=None, source="127.0.0.1", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", setup.port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def challenge(setup, source) -> dict:
    status, body = request(setup, "GET", "/isso/kizuna/challenge", source=source)
    if status != 200:
        raise BenchError(f"GET /isso/kizuna/challenge answered {status}")
    return json.loads(body)


def solved(found: dict) -> str:
    """A challenge solved in Python, as a bot that does the work would."""
    target, salted = bytes.fromhex(found["challenge"]), hashlib.sha256(found["salt"].encode())
    for number in range(found["maxnumber"] + 1):
        attempt = salted.copy()
        attempt.update(str(number).encode())
        if attempt.digest() == target:
            return payload(found, number)
    raise BenchError("a challenge with no solution")


def payload(found: dict, number: int) -> str:
    return base64.b64encode(json.dumps({"algorithm": found["algorithm"], "challenge": found["challenge"],
                                        "number": number, "salt": found["salt"],
                                        "signature": found["signature"]}).encode()).decode()


def post(setup, uri, source, fields) -> int:
    body = json.dumps({"text": f"Great essay!! Cheap watches at http://spam.example/{random.random()}",
                       "title": "x", **fields}).encode()
    return request(setup, "POST", "/isso/new?uri=" + urllib.parse.quote(uri, safe=""), body, source,
                   {"Content-Type": "application/json", "Origin": setup.url, "Referer": setup.url + uri})[0]


def queued(setup, uri) -> int:
    with contextlib.closing(sqlite3.connect(f"{setup.db.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        return connection.execute("SELECT COUNT(*) FROM comments JOIN threads ON threads.id = comments.tid"
                                  " WHERE threads.uri = ?", (uri,)).fetchone()[0]


# --- Real readers, each from an address of their own ---------------------------------------

class Relay:
    """A TCP relay on a free port that connects to nginx from `source`: the
    browser uses it as its HTTP proxy, so nginx sees that reader's address."""

    def __init__(self, source: str, target_port: int):
        self.source, self.target_port, self.connections = source, target_port, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), source_address=(self.source, 0))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                b.shutdown(socket.SHUT_WR)

    def close(self):
        self.listener.close()


def real_readers(setup, browser, count: int) -> dict:
    statuses, problems, spent, relays, times = [], [], [], [], []
    for n in range(count):
        name, viewport = VIEWPORTS[n % len(VIEWPORTS)]
        relay = Relay(f"127.0.1.{n + 1}", setup.port)
        relays.append(relay)
        context = browser.new_context(viewport=viewport, proxy={"server": f"http://127.0.0.1:{relay.port}",
                                                                "bypass": "<-loopback>"})
        context.set_default_timeout(30_000)
        page = context.new_page()
        seen = []
        page.on("console", lambda m, seen=seen: m.type in ("error", "warning") and seen.append(m.text))
        page.on("pageerror", lambda e, seen=seen: seen.append(str(e)))
        try:
            page.goto(setup.url + ESSAY)
            page.locator("#comments").scroll_into_view_if_needed()
            textarea = page.locator("#isso-thread .isso-postbox .isso-textarea").first
            textarea.wait_for()
            textarea.click()
            textarea.press_sequentially(f"Reader {n + 1} ({name}): thank you; this stayed with me.", delay=15)
            pressed = time.monotonic()
            with page.expect_response(lambda r: "/isso/new?" in r.url and r.request.method == "POST") as answered:
                page.locator("#isso-thread .isso-post-action input[type=submit]").first.click()
            times.append(time.monotonic() - pressed)
            statuses.append(answered.value.status)
            sent = answered.value.request.post_data_json or {}
            if sent.get("altcha"):
                spent.append(sent["altcha"])
            page.wait_for_load_state("networkidle")
        except Exception as error:  # a reader who could not send is what this counts
            statuses.append(f"{type(error).__name__}")
        problems += [f"reader {n + 1}: {text}" for text in seen]
        context.close()
    for relay in relays:
        relay.close()
    return {"statuses": statuses, "taken": sum(1 for s in statuses if s in (201, 202)), "problems": problems,
            "spent": spent, "through relay": sum(1 for relay in relays if relay.connections),
            "send to answer": times}


# --- The flood ------------------------------------------------------------------------------

def flood(setup, posts: int, copied: list[str]) -> dict:
    rng = random.Random(SEED)
    plan = [(KINDS[n % len(KINDS)], BOT_ADDRESSES[n % len(BOT_ADDRESSES)]) for n in range(posts)]
    rng.shuffle(plan)

    def one(job):
        kind, source = job
        if kind == "no solution":
            fields = {}
        elif kind == "copied solution":
            fields = {"altcha": rng.choice(copied)}
        elif kind == "trap filled":
            fields = {"altcha": solved(challenge(setup, source)), "author": "Best Deals", "email": "deals@spam.example",
                      "website": "http://spam.example", bot_check.TRAP: "Cheap watches"}
        else:
            found = challenge(setup, source)
            fields = {"altcha": payload(found, rng.randrange(found["maxnumber"] + 1))}
        return kind, post(setup, FLOODED, source, fields)

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, plan))
    elapsed = time.monotonic() - started
    by_kind = {kind: Counter(status for k, status in results if k == kind) for kind in KINDS}
    return {"posts": posts, "seconds": elapsed, "by kind": by_kind, "queued": queued(setup, FLOODED),
            "5xx": sum(1 for _, status in results if status >= 500)}


def determined(setup, posts: int = 100) -> dict:
    """A bot that fetches and solves every challenge, from many addresses, within a minute."""
    statuses = Counter()
    started = time.monotonic()
    for n in range(posts):
        source = BOT_ADDRESSES[n % len(BOT_ADDRESSES)]
        statuses[post(setup, WORKED_FOR, source, {"altcha": solved(challenge(setup, source))})] += 1
    return {"posts": posts, "seconds": time.monotonic() - started, "statuses": statuses,
            "queued": queued(setup, WORKED_FOR)}


# --- What the check costs a reader ------------------------------------------------------------

def weight(setup) -> dict:
    script = (ROOT / "theme" / "static" / "js" / "check.js").read_bytes()
    built = setup.prefix / "www" / "theme" / "js" / "check.js"
    return {"raw": len(script), "gzip -9": len(gzip.compress(script, 9)),
            "as served, br": built.with_name("check.js.br").stat().st_size if built.with_name("check.js.br").exists()
            else None,
            "as served, gz": built.with_name("check.js.gz").stat().st_size if built.with_name("check.js.gz").exists()
            else None}


SOLVE_ALL = """async ([endpoint, count]) => {
    const times = [];
    for (let i = 0; i < count; i++) {
        const challenge = await (await fetch(endpoint + "/kizuna/challenge", {cache: "no-store"})).json();
        const started = performance.now();
        await window.kizunaCheck.solve(challenge);
        times.push(performance.now() - started);
    }
    return times;
}"""


def solving_times(setup, browser, count: int) -> dict:
    found = {}
    for label, slowdown in (("this machine", 1), ("CPU slowed 4x (phone)", 4)):
        context = browser.new_context(viewport=VIEWPORTS[0][1] if slowdown > 1 else VIEWPORTS[1][1])
        page = context.new_page()
        page.goto(setup.url + ESSAY)
        page.locator("#comments").scroll_into_view_if_needed()
        page.locator("#isso-thread .isso-postbox .isso-textarea").first.focus()
        page.wait_for_function("() => window.kizunaCheck && window.kizunaCheck.solve")
        if slowdown > 1:
            context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
        found[label] = page.evaluate(SOLVE_ALL, [setup.url + "/isso", count])
        context.close()
    return found


# --- Report -------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(readers, flooded, worked, weighed, times, args) -> None:
    print("\nBots against the writer's queue (staged nginx + gunicorn, production limits, bot check on)\n")
    print(f"Flood: {flooded['posts']} posts from {len(BOT_ADDRESSES)} addresses in {flooded['seconds']:.1f} s "
          f"({flooded['posts'] / flooded['seconds']:.0f} posts/s)")
    for kind, statuses in flooded["by kind"].items():
        taken = statuses.get(201, 0) + statuses.get(202, 0)
        print(f"  {kind:16} {sum(statuses.values()):4} posts, reached the queue {taken:3}; answers "
              + ", ".join(f"{status}×{n}" for status, n in sorted(statuses.items())))
    share = flooded["queued"] / flooded["posts"]
    print(f"  reached the queue: {flooded['queued']} of {flooded['posts']} ({share:.1%}); goal ≤ {QUEUE_GOAL}: "
          f"{verdict(flooded['queued'] <= QUEUE_GOAL)}")

    taken, count = readers["taken"], len(readers["statuses"])
    waits = readers["send to answer"]
    print(f"\nReal readers in Chromium, through the widget, each from its own address: {taken} of {count} taken "
          f"({taken / count if count else 0:.0%}); goal: all: {verdict(count > 0 and taken == count)}")
    print(f"  answers {readers['statuses']}; pages that went through their own address: "
          f"{readers['through relay']} of {count}")
    if waits:
        print(f"  Send to answer: mean {statistics.mean(waits) * 1000:.0f} ms, most {max(waits) * 1000:.0f} ms")
    print(f"  console errors or warnings: {len(readers['problems'])}")
    for problem in readers["problems"][:10]:
        print(f"    {problem}")

    print(f"\nPage weight of the check (check.js, loaded only once a reader starts to write): {weighed['raw']:,} bytes,"
          f" {weighed['gzip -9']:,} gzip -9 ({weighed['gzip -9'] / WEIGHT_GOAL:.2f} of the 10 KB goal: "
          f"{verdict(weighed['gzip -9'] <= WEIGHT_GOAL)}); as served: br {weighed['as served, br']}, "
          f"gz {weighed['as served, gz']}")

    print(f"\nSolving a challenge in Chromium (check.js's own code, maxnumber {bot_check.MAX_NUMBER:,}, "
          f"{args.solves} challenges each):")
    for label, found in times.items():
        ordered = sorted(found)
        print(f"  {label:22} mean {statistics.mean(found):6.0f} ms, median {statistics.median(found):6.0f} ms, "
              f"90th percentile {ordered[int(0.9 * (len(ordered) - 1))]:6.0f} ms, most {max(found):6.0f} ms")

    print(f"\nNot a goal: a bot that fetches and solves every challenge (in Python) from {len(BOT_ADDRESSES)} "
          f"addresses on one network: {worked['queued']} of {worked['posts']} reached the queue in "
          f"{worked['seconds']:.0f} s; answers " + ", ".join(f"{s}×{n}" for s, n in sorted(worked["statuses"].items()))
          + ". The proof of work does not stop it; the limits per reader and per network do, and the writer reads"
            " what is left.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000, help="posts in the flood")
    parser.add_argument("--readers", type=int, default=6, help="real Chromium readers")
    parser.add_argument("--solves", type=int, default=20, help="challenges each browser solves for timing")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kizuna-bots-"))
    try:
        from playwright.sync_api import sync_playwright

        with staged(work) as setup, sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                readers = real_readers(setup, browser, args.readers)
                # Bots that copy a solution take one a reader's browser spent (or, if none, one spent here).
                copied = readers["spent"] or [solved(challenge(setup, "127.0.0.1"))]
                if not readers["spent"]:
                    post(setup, ESSAY, "127.0.0.1", {"altcha": copied[0]})
                flooded = flood(setup, args.posts, copied)
                weighed = weight(setup)
                times = solving_times(setup, browser, args.solves)
            finally:
                browser.close()
            worked = determined(setup)
        report(readers, flooded, worked, weighed, times, args)
        failed = flooded["5xx"] + sum(n for status, n in worked["statuses"].items() if status >= 500)
        if failed:
            print(f"\nFAILED: {failed} answers were 5xx", file=sys.stderr)
            return 1
        shutil.rmtree(work, ignore_errors=True)
        return 0
    except BenchError as error:
        print(f"bench/bots.py: {error}\n(logs: {work})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
