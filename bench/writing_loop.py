"""Save-to-visible in the writing loop: how long after an essay is saved on
disk a real browser showing that essay under `invoke livereload` shows the
change, at 1 and at 1,000 essays; and how long until the whole site is
consistent again (the loop's "Rebuilt after" line, the warm build's end).

    .venv/bin/python bench/writing_loop.py [--essays 1 1000] [--saves 5] [--repeat 3]

The anchor, measured in the same run on the same largest corpus: bare
Pelican's cold build (default theme, no plugins, no cache; bench/build.py's).
Goal: save-to-visible at the largest size <= 0.1 x that build.

For each size, a copy of this site with the generated corpus as its content/
runs `invoke livereload` (and its Isso) exactly as a writer starts it. Headless
Debian chromium (Playwright) opens the essay in the middle of the archive;
each save appends a sentence with a unique word and the clock runs from just
before the file is written until the browser paints the page that has it
(its first-contentful-paint, on the same wall clock; Playwright, polling on
every frame, notices it ~0.1 s later, which is printed too). Saves are spaced
so that each one's whole-site build has finished, as a writer pausing to read.
The exit status is 0 whether or not the goal is met; non-zero when a run fails.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `kizuna` and the build benchmark import from any cwd
sys.path.insert(0, str(ROOT / "bench"))

import build as build_bench  # noqa: E402  bench/build.py: the corpus and bare Pelican
from kizuna.browser import launch  # noqa: E402
from kizuna.processes import free_port, stop, wait_until_listening  # noqa: E402

GOAL = 0.1
SITE = build_bench.WORK / "loop-site"
# What the writer's checkout holds that the loop needs (content/ comes from the corpus).
SITE_PARTS = ("tasks.py", "pelicanconf.py", "publishconf.py", "kizuna", "plugins", "theme", "comments", "deploy")


def site_with(corpus: Path) -> Path:
    build_bench.fresh(SITE)
    for part in SITE_PARTS:
        source = ROOT / part
        if source.is_dir():
            subprocess.run(["cp", "-r", str(source), str(SITE / part)], check=True)
        else:
            SITE.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", str(source), str(SITE / part)], check=True)
    for leftover in ("comments/data", "comments/backups"):
        subprocess.run(["rm", "-rf", str(SITE / leftover)], check=True)
    subprocess.run(["cp", "-r", str(corpus), str(SITE / "content")], check=True)
    return SITE


class Loop:
    """`invoke livereload` in the site copy, its terminal in a file."""

    def __init__(self, site: Path):
        self.site, self.port, self.comments_port = site, free_port(), free_port()
        while self.comments_port == self.port:
            self.comments_port = free_port()
        self.log_path = site / "livereload.log"

    def __enter__(self):
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "invoke", "livereload", "--port", str(self.port),
             "--comments-port", str(self.comments_port)],
            cwd=self.site, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until_listening(self.port, self.process, seconds=600)  # the first build is a cold one
        self.wait_for("Watching ", 1, seconds=60)
        return self

    def __exit__(self, *exc):
        stop(self.process)
        self.log.close()

    def said(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, words: str, count: int, seconds: float) -> float:
        """Wait until the terminal has said `words` count times; return when (perf_counter)."""
        deadline = time.perf_counter() + seconds
        while self.said().count(words) < count:
            if time.perf_counter() > deadline or self.process.poll() is not None:
                raise SystemExit(f"livereload never said {words!r} {count} times:\n{self.said()[-3000:]}")
            time.sleep(0.01)
        return time.perf_counter()


def measure(essays: int, saves: int, playwright) -> tuple[list[float], list[float]]:
    """Save-to-visible and save-to-consistent times (s) for a site of `essays` essays."""
    slugs = build_bench.generate_corpus(essays)
    slug = slugs[len(slugs) // 2]
    site = site_with(build_bench.CORPUS)
    essay = site / "content" / f"{slug}.md"
    original = essay.read_text(encoding="utf-8")
    visible, consistent = [], []
    with Loop(site) as loop:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{loop.port}/essays/{slug}/")
            rebuilt = loop.said().count("Rebuilt after")
            for n in range(1, saves + 1):
                page.wait_for_function("() => window.LiveReload && LiveReload.connector._isSocketConnected()")
                time.sleep(0.3)  # the handshake after the socket opens
                word = f"benchmarkvisible{n}x{essays}"
                saved, saved_wall = time.perf_counter(), time.time()
                essay.write_text(original + f"\nA sentence saved for the benchmark: {word}.\n", encoding="utf-8")
                page.wait_for_function(f"() => document.body.innerText.includes('{word}')", polling="raf")
                noticed = time.perf_counter() - saved
                # When the new page was painted, by the browser's clock (epoch ms): Playwright's own
                # noticing comes ~0.1 s later, after it has set itself up in the reloaded page.
                painted = page.evaluate("() => { const p = performance.getEntriesByName('first-contentful-paint');"
                                        " return p.length ? performance.timeOrigin + p[0].startTime : null }")
                visible.append(painted / 1000 - saved_wall if painted else noticed)
                rebuilt += 1
                consistent.append(loop.wait_for("Rebuilt after", rebuilt, seconds=120) - saved)
                print(f"  {essays} essays, save {n}: painted after {visible[-1]:.3f} s (Playwright noticed after "
                      f"{noticed:.3f} s), whole site after {consistent[-1]:.2f} s", flush=True)
                time.sleep(0.5)  # the page's second reload, after the whole-site build
        finally:
            browser.close()
        if "Showed " not in loop.said():
            raise SystemExit(f"the loop never showed a saved essay first:\n{loop.said()[-3000:]}")
    return visible, consistent


def bare_cold(essays: int, repeat: int) -> list[float]:
    """bench/build.py's bare Pelican, cold, on the corpus of `essays` essays."""
    build_bench.generate_corpus(essays)
    build_bench.write_bare_settings()
    output = build_bench.default_output_root() / "bare"
    times = []
    for _ in range(repeat):
        build_bench.fresh(output)
        times.append(build_bench.run(build_bench.bare_command(output), build_bench.WORK, "bare")[0])
        print(f"  bare Pelican cold, {essays} essays: {times[-1]:.2f} s", flush=True)
    build_bench.fresh(output)
    return times


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--essays", type=int, nargs="+", default=[1, 1000], help="site sizes (default 1 1000)")
    parser.add_argument("--saves", type=int, default=5, help="saves measured per size (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="bare Pelican cold builds (default 3)")
    args = parser.parse_args()
    largest = max(args.essays)

    results = {}
    with sync_playwright() as playwright:
        for essays in sorted(args.essays):
            print(f"Writing loop, {essays} essays ...", flush=True)
            results[essays] = measure(essays, args.saves, playwright)
    print("Anchor ...", flush=True)
    anchor = statistics.median(bare_cold(largest, args.repeat))
    build_bench.fresh(SITE)

    print(f"\n{'essays':>7} {'save-to-visible median':>23} {'all saves s':>32} {'whole site consistent':>22}")
    for essays, (visible, consistent) in results.items():
        runs = " ".join(f"{t:.3f}" for t in visible)
        print(f"{essays:7} {statistics.median(visible):21.3f} s {runs:>32} {statistics.median(consistent):20.2f} s")
    print(f"\nbare Pelican cold build, {largest} essays (median of {args.repeat}): {anchor:.2f} s")
    ratio = statistics.median(results[largest][0]) / anchor
    print(f"save-to-visible at {largest} essays / bare Pelican cold: {ratio:.3f} (goal <= {GOAL}) "
          f"{'PASS' if ratio <= GOAL else 'MISS'}")
    consistent = statistics.median(results[largest][1]) / anchor
    print(f"whole site consistent at {largest} essays / bare Pelican cold: {consistent:.2f}")


if __name__ == "__main__":
    main()
