"""Page benchmark: the essay page as this site's theme ("ours") serves it,
against the same essay in Pelican's default theme ("default"), as Lighthouse
sees them.

    .venv/bin/python bench/page.py [--runs 3]

What it does, in one run:

* builds the repository's content/ twice under bench/.work/page/ (git-ignored):
  ours      with publishconf.py, exactly as `invoke publish` builds it
  default   with a generated settings file: Pelican's default theme
            (notmyidea), no plugin but pelican.plugins.precompress, so both
            sites are served precompressed and the comparison is about the
            pages, not about the server
* serves each output with kizuna.serve (brotli/gzip copies, clean URLs) on a
  free 127.0.0.1 port, each server stopped by its process id at the end;
* runs Lighthouse (bench/node_modules, pinned in bench/package.json) on each
  site's essay page, with Debian's chromium: mobile form factor and simulated
  throttling, Lighthouse's defaults, so figures compare with anyone else's;
* prints scores, requests, bytes and first contentful paint for both, the
  ratios against the goals below, and the Lighthouse audits each page fails.

With --runs N each site is measured N times, alternately, and the median of
each figure is reported. The exit status is 0 whether or not the goals are
met; it is non-zero only when a build, a server or a Lighthouse run fails.
"""

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `kizuna` imports from any cwd

from kizuna import CONTENT, PROD_SETTINGS  # noqa: E402
from kizuna.build import BuildError, build  # noqa: E402
from kizuna.processes import free_port, server  # noqa: E402
from kizuna.serve import command as site_server  # noqa: E402

BENCH = ROOT / "bench"
WORK = BENCH / ".work" / "page"
DEFAULT_SETTINGS = WORK / "default_settings.py"
LIGHTHOUSE = BENCH / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
# What Debian's chromium needs in this sandbox (see DESIGN.md); Lighthouse's
# chrome-launcher adds its own flags, and a fresh --user-data-dir per run is
# added below so no run inherits another's cache or cookies.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
SLUG = "unresolved-desire-to-connect"  # the seed essay, in content/

# Goals. Bytes and requests: default/ours, higher is better. FCP: ours/default,
# lower is better. Every Lighthouse category of ours: 100.
BYTES_GOAL = 4.0
REQUESTS_GOAL = 2.0
FCP_GOAL = 0.6
SCORE_GOAL = 100

# A Lighthouse audit "fails" when it is scored (not informative, manual or
# not applicable) and scored below 1. metricSavings audits are the
# performance opportunities ("Eliminate render-blocking resources"...): they
# are scored the same way, so they are listed too.
SCORED_MODES = {"binary", "numeric", "metricSavings"}


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# Building the two sites
# --------------------------------------------------------------------------

def build_ours(output: Path, port: int) -> Path:
    """A production build of content/, addressed to our own loopback server
    (its address passed to Pelican as settings; no comments are baked)."""
    url = f"http://127.0.0.1:{port}"
    try:
        build(settings=PROD_SETTINGS, output=output, content=CONTENT, quiet=True, extra_settings={
            "SITEURL": url, "FEED_DOMAIN": url, "ISSO_URL": url + "/isso/", "ISSO_BAKE_URL": ""})
    except BuildError as error:
        raise BenchError(f"the production build failed:\n{error}") from None
    page = output / "essays" / SLUG / "index.html"
    if not page.is_file():
        raise BenchError(f"the production build wrote no {page.relative_to(output)}")
    return page


def build_default(output: Path, port: int) -> Path:
    """content/ with Pelican's default theme and default URLs; the only plugin
    is precompress, with the same codings as publishconf.py."""
    DEFAULT_SETTINGS.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_SETTINGS.write_text(f"""\
# Written by bench/page.py: Pelican's defaults, plus what content/ needs.
SITENAME = "Kizuna"
SITEURL = "http://127.0.0.1:{port}"
RELATIVE_URLS = False
PATH = "content"
PAGE_PATHS = ["pages"]
ARTICLE_EXCLUDES = ["pages", "extra", "images"]
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DELETE_OUTPUT_DIRECTORY = True
PLUGINS = ["pelican.plugins.precompress"]
PRECOMPRESS_GZIP = True
PRECOMPRESS_BROTLI = True
PRECOMPRESS_ZOPFLI = False
PRECOMPRESS_ZSTANDARD = False
""")
    result = subprocess.run(
        [sys.executable, "-m", "pelican", "content", "-s", str(DEFAULT_SETTINGS), "-o", str(output)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    if result.returncode != 0:
        raise BenchError(f"the default-theme build failed:\n{result.stdout}")
    # ARTICLE_SAVE_AS is left at Pelican's default ("{slug}.html"); look the
    # page up rather than assume it, in case a Pelican release changes that.
    pages = sorted(path for path in output.rglob(f"*{SLUG}*.html") if "drafts" not in path.parts)
    if not pages:
        raise BenchError(f"the default-theme build wrote no page for {SLUG}")
    return pages[0]


# --------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# Lighthouse
# --------------------------------------------------------------------------

def ensure_lighthouse() -> None:
    """Install the pinned Lighthouse if ./setup --dev has not: npm ci installs
    exactly bench/package-lock.json and downloads no browser."""
    if not Path(CHROMIUM).exists():
        raise BenchError(f"{CHROMIUM} is missing: run ./setup --dev (it installs Debian's chromium)")
    if LIGHTHOUSE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("Lighthouse is not installed and npm is missing: run ./setup --dev")
    print("Installing Lighthouse into bench/node_modules (npm ci)...", flush=True)
    result = subprocess.run([npm, "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund", "--loglevel=error"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0 or not LIGHTHOUSE.exists():
        raise BenchError(f"npm ci failed; run ./setup --dev:\n{result.stdout}")


def lighthouse(url: str, report: Path) -> dict:
    """One Lighthouse run on url with its defaults (mobile, simulated
    throttling); returns the parsed report (the "LHR")."""
    profile = Path(tempfile.mkdtemp(prefix="kizuna-lighthouse-"))
    try:
        flags = " ".join([*CHROMIUM_FLAGS, f"--user-data-dir={profile}"])
        command = [
            str(LIGHTHOUSE), url,
            "--output=json", f"--output-path={report}", "--quiet",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={flags}",
            "--no-enable-error-reporting",  # never ask, never send anything anywhere
        ]
        env = {**os.environ, "CHROME_PATH": CHROMIUM}
        result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, timeout=300)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0 or not report.is_file():
        raise BenchError(f"Lighthouse failed on {url} (exit {result.returncode}):\n{result.stdout}")
    lhr = json.loads(report.read_text())
    # Lighthouse can exit 0 yet have failed to load the page (an error page,
    # a 404...): it says so in runtimeError and leaves the scores null.
    if lhr.get("runtimeError"):
        raise BenchError(f"Lighthouse could not measure {url}: {lhr['runtimeError'].get('message')}")
    for name in CATEGORIES:
        if lhr["categories"][name]["score"] is None:
            raise BenchError(f"Lighthouse gave no {name} score for {url}; see {report}")
    return lhr


def figures(lhr: dict) -> dict:
    """The numbers compared, from one Lighthouse report."""
    requests = lhr["audits"]["network-requests"]["details"]["items"]
    return {
        **{name: round(lhr["categories"][name]["score"] * 100) for name in CATEGORIES},
        # Every request the page load made, the document and any favicon
        # fetch included (Lighthouse records what Chrome fetched).
        "requests": len(requests),
        "bytes": sum(item.get("transferSize") or 0 for item in requests),
        "byte weight": lhr["audits"]["total-byte-weight"]["numericValue"],
        "fcp": lhr["audits"]["first-contentful-paint"]["numericValue"],
    }


def failing_audits(lhr: dict) -> dict[str, tuple[str, float, str]]:
    """Audit id -> (title, score, shown value) for each scored audit below 1."""
    return {
        audit_id: (audit["title"], audit["score"], audit.get("displayValue", ""))
        for audit_id, audit in lhr["audits"].items()
        if audit.get("scoreDisplayMode") in SCORED_MODES and audit.get("score") is not None and audit["score"] < 1
    }


def errored_audits(lhr: dict) -> dict[str, tuple[str, str]]:
    """Audit id -> (title, error) for audits Lighthouse could not compute.
    They are no verdict on the page (and weigh nothing in the scores), so they
    are listed apart: a gatherer that breaks on a newer Chromium's trace
    format shows up here, not as a page to fix."""
    return {
        audit_id: (audit["title"], audit.get("errorMessage", "no message"))
        for audit_id, audit in lhr["audits"].items()
        if audit.get("scoreDisplayMode") == "error"
    }


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def median_figures(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def goal(label: str, value: float, sign: str, target: float, ok: bool) -> None:
    print(f"  {label:26}{value:6.3g}  (goal {sign:>2} {target:g})  {'PASS' if ok else 'MISS'}")


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def report(sites: dict, runs: int) -> None:
    ours, default = sites["ours"]["median"], sites["default"]["median"]
    print()
    print(f"Essay page, Lighthouse {sites['ours']['version']}, mobile, simulated throttling, "
          f"{'median of ' + str(runs) + ' runs' if runs > 1 else '1 run'}")
    for name, site in sites.items():
        print(f"  {name:8} {site['url']}")
    print()
    print(f"  {'':26}{'ours':>12}{'default':>12}")
    for name in CATEGORIES:
        print(f"  {name + ' score':26}{ours[name]:>12g}{default[name]:>12g}")
    print(f"  {'requests':26}{ours['requests']:>12g}{default['requests']:>12g}")
    print(f"  {'transferred bytes':26}{ours['bytes']:>12,.0f}{default['bytes']:>12,.0f}")
    print(f"  {'total-byte-weight':26}{ours['byte weight']:>12,.0f}{default['byte weight']:>12,.0f}")
    print(f"  {'first contentful paint ms':26}{ours['fcp']:>12,.0f}{default['fcp']:>12,.0f}")
    print()
    bytes_ratio = ratio(default["bytes"], ours["bytes"])
    requests_ratio = ratio(default["requests"], ours["requests"])
    fcp_ratio = ratio(ours["fcp"], default["fcp"])
    print("Goals")
    goal("bytes default/ours", bytes_ratio, ">=", BYTES_GOAL, bytes_ratio >= BYTES_GOAL)
    goal("requests default/ours", requests_ratio, ">=", REQUESTS_GOAL, requests_ratio >= REQUESTS_GOAL)
    goal("FCP ours/default", fcp_ratio, "<=", FCP_GOAL, fcp_ratio <= FCP_GOAL)
    for name in CATEGORIES:
        goal(f"ours {name} score", ours[name], "=", SCORE_GOAL, ours[name] >= SCORE_GOAL)
    for name, site in sites.items():
        print()
        failing = site["failing"]
        print(f"Failing Lighthouse audits, {name}: {len(failing) or 'none'}")
        for audit_id, (title, score, shown, count) in sorted(failing.items(), key=lambda item: item[1][1]):
            seen = f" [failed in {count}/{runs} runs]" if runs > 1 else ""
            value = f" — {shown}" if shown else ""
            print(f"  {audit_id} (score {score:.2f}): {title}{value}{seen}")
        # Several audits usually fail for one reason: show each reason once.
        reasons = {}
        for audit_id, (title, message) in sorted(site["errored"].items()):
            reasons.setdefault(message, []).append(audit_id)
        for message, audit_ids in reasons.items():
            print(f"  Lighthouse could not compute {', '.join(audit_ids)}: {message}")
    print()
    print(f"Reports: {WORK.relative_to(ROOT)}/<site>-<run>.report.json")


def main() -> int:
    parser = argparse.ArgumentParser(description="Lighthouse the essay page: this theme against Pelican's default.")
    parser.add_argument("--runs", type=int, default=1, help="Lighthouse runs per site; the median is reported")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with contextlib.ExitStack() as servers:  # each stopped by its process id on leaving
        return _measure(args, servers)


def _measure(args, servers: contextlib.ExitStack) -> int:
    try:
        ensure_lighthouse()
        WORK.mkdir(parents=True, exist_ok=True)
        for stale in WORK.glob("*.report.json"):  # a longer earlier --runs left more
            stale.unlink()
        # Ports first: each site is built with its own address in it.
        ports = {"ours": free_port(), "default": free_port()}
        while ports["default"] == ports["ours"]:
            ports["default"] = free_port()
        print("Building ours (publishconf.py) and default (notmyidea)...", flush=True)
        pages = {
            "ours": build_ours(WORK / "ours", ports["ours"]),
            "default": build_default(WORK / "default", ports["default"]),
        }
        sites = {}
        for name, page in pages.items():
            root = WORK / name
            servers.enter_context(server(site_server(root, ports[name]), ports[name], cwd=ROOT))
            # Clean URL for ours (/essays/<slug>/), the file itself for default.
            path = page.relative_to(root).as_posix()
            path = path.removesuffix("index.html")
            sites[name] = {"url": f"http://127.0.0.1:{ports[name]}/{path}", "runs": [], "failing": {}, "errored": {}}

        # Alternate the sites, so that a slow moment of the machine is shared.
        for run in range(1, args.runs + 1):
            for name, site in sites.items():
                print(f"Lighthouse run {run}/{args.runs}: {name}...", flush=True)
                lhr = lighthouse(site["url"], WORK / f"{name}-{run}.report.json")
                site["version"] = lhr["lighthouseVersion"]
                site["runs"].append(figures(lhr))
                for audit_id, (title, score, shown) in failing_audits(lhr).items():
                    # Keep the worst score seen, and how many runs failed it.
                    _, worst, worst_shown, count = site["failing"].get(audit_id, (title, score, shown, 0))
                    if score <= worst:
                        worst, worst_shown = score, shown
                    site["failing"][audit_id] = (title, worst, worst_shown, count + 1)
                site["errored"].update(errored_audits(lhr))
        for site in sites.values():
            site["median"] = median_figures(site["runs"])
        report(sites, args.runs)
        return 0
    except (BenchError, RuntimeError, TimeoutError) as error:
        print(f"bench/page.py: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
