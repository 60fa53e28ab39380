"""Build-time benchmark: this site's settings and theme ("ours") against bare
Pelican ("bare"), on the same generated corpus of essays.

    .venv/bin/python bench/build.py [--essays 1000] [--repeat 3]

What it measures, per build kind, each build in a subprocess of its own:

* bare       bare Pelican: default theme, no plugins, no cache, default settings
* no search  the cold build below without the search plugin: what search adds
* ours cold  exactly the command `invoke build` runs (kizuna.build.pelican_command),
             with its content cache folder emptied first; it builds the search
             index too (plugins/site_search), whose size is reported
* ours warm  the same command again after one essay changed, reusing the cache
             the cold build left behind

Wall time is taken around the whole subprocess (interpreter start-up included:
the writer waits for that too). Peak memory is the child's ru_maxrss, read with
os.wait4 so that it belongs to that one build and not to every child so far;
it is the largest of the build's processes (Pelican, its second reader,
Pagefind), and its CPU time theirs together.

It writes the corpus, the cache and the bare settings under bench/.work/
(git-ignored), and the built sites to /dev/shm/kizuna-bench (removed after) or,
without a /dev/shm, to bench/.work/out; --output-root chooses. The report's exit status is 0
whether or not the goals are met; it is non-zero only when a build fails.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `kizuna` imports from any cwd

from kizuna.build import pelican_command  # noqa: E402

WORK = ROOT / "bench" / ".work"
CORPUS = WORK / "corpus"
OURS_CACHE = WORK / "cache-ours"
BARE_SETTINGS = WORK / "bare_settings.py"
OUTPUTS = WORK / "out"
SEED = 20261128  # fixed: every run benchmarks the very same corpus

# Goals, as ratios ours/bare. Lower is better for all three.
COLD_GOAL = 1.25
WARM_GOAL = 0.75
MEMORY_GOAL = 1.5


# --------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------

# A fixed vocabulary of plain English words: the text only has to look like
# prose to Markdown (and to smarty, hence the apostrophes), not make sense.
VOCABULARY = """
the a an and but or so yet because when while though if then than as of to in
on at by for with without about between through after before under over into
we you they it she he one someone everyone nobody people friends strangers
heart mind pain joy fear hope trust silence voice words letter evening morning
night rain light window door room street city river sea road train station
bridge garden tree leaf wind winter summer spring autumn year day hour moment
memory promise secret question answer story bond connection distance closeness
courage weakness kindness loneliness understanding truth reason habit burden
scar wound gift thread knot rope hand face eyes shoulder smile tears laughter
walk wait listen speak share hide carry hold break mend reach return remember
forget forgive notice wonder believe pretend admit choose learn teach follow
lead stay leave begin end try fail give take keep lose find open close feel
think know want need hurt heal
quiet small slow gentle heavy light warm cold honest careful fragile steady
tired lonely hidden open distant near certain uncertain ordinary strange kind
sharp soft bright dim old new young patient restless brave afraid whole broken
always never often rarely sometimes perhaps almost only still again already
together alone slowly quietly suddenly gradually finally simply really truly
don't can't won't isn't wasn't we're they're it's that's there's I'm you're
""".split()

# Capitalised words that headings, titles and summaries are made of.
TITLE_WORDS = [w for w in VOCABULARY if len(w) > 3 and "'" not in w]

CATEGORIES = ["Essays", "Notes", "Letters", "Reviews", "Journal", "Fragments"]

TAG_POOL = [
    "connection", "loneliness", "friendship", "family", "memory", "grief",
    "courage", "trust", "silence", "letters", "anime", "books", "music", "film",
    "walking", "cities", "seasons", "rain", "night", "mornings", "work",
    "school", "childhood", "growing up", "forgiveness", "honesty", "kindness",
    "distance", "home", "travel", "strangers", "habits", "change", "time",
    "writing", "reading", "pain", "hope", "empathy", "belonging",
]  # 40 tags


def words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCABULARY) for _ in range(n)]


def prose(rng: random.Random, n: int) -> str:
    """Exactly n words, cut into sentences of 6-18 words with some commas,
    some quoted phrases and the odd question or dash."""
    out, left = [], n
    while left > 0:
        size = min(left, rng.randint(6, 18))
        sentence = words(rng, size)
        sentence[0] = sentence[0].capitalize()
        if size > 8 and rng.random() < 0.4:
            sentence[rng.randint(2, size - 3)] += ","
        if size > 10 and rng.random() < 0.15:
            i = rng.randint(3, size - 4)
            sentence[i] = '"' + sentence[i]
            sentence[i + 2] += '"'
        if size > 10 and rng.random() < 0.1:
            sentence.insert(rng.randint(3, size - 3), "--")
        sentence[-1] += rng.choice([".", ".", ".", ".", "?", "..."])
        out.append(" ".join(sentence))
        left -= size
    return " ".join(out)


def title_case(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(TITLE_WORDS).capitalize() for _ in range(n))


def essay(rng: random.Random, index: int, date: datetime) -> tuple[str, str]:
    """One essay as (slug, Markdown text). The body is 600-1,500 words, all of
    them counted: paragraphs, headings, blockquotes and footnote texts."""
    title = f"{title_case(rng, rng.randint(2, 5))} {index + 1}"  # the number keeps titles unique
    slug = f"essay-{index + 1:04d}"
    budget = rng.randint(600, 1500)

    # Footnotes on about 60% of essays, 1-3 each; their text is paid for first.
    notes = [prose(rng, rng.randint(8, 20)) for _ in range(rng.randint(1, 3) if rng.random() < 0.6 else 0)]
    budget -= sum(len(n.split()) for n in notes)

    blocks = []
    while budget > 0:
        if blocks and rng.random() < 0.12:
            heading = title_case(rng, rng.randint(2, 5))
            blocks.append("## " + heading)
            budget -= len(heading.split())
        elif blocks and rng.random() < 0.08:
            size = min(budget, rng.randint(15, 40))
            blocks.append("> " + prose(rng, size))
            budget -= size
        else:
            size = min(budget, rng.randint(40, 120))
            blocks.append(prose(rng, size))
            budget -= size

    # Each footnote reference goes at the end of a different paragraph.
    paragraphs = [i for i, b in enumerate(blocks) if not b.startswith(("#", ">"))]
    for number, i in enumerate(sorted(rng.sample(paragraphs, min(len(notes), len(paragraphs)))), 1):
        blocks[i] += f"[^{number}]"
    definitions = [f"[^{number}]: {text}" for number, text in enumerate(notes, 1)]

    header = "\n".join([
        f"Title: {title}",
        f"Slug: {slug}",
        f"Date: {date:%Y-%m-%d %H:%M}",
        f"Category: {rng.choice(CATEGORIES)}",
        f"Tags: {', '.join(rng.sample(TAG_POOL, 3))}",
        f"Summary: {prose(rng, rng.randint(12, 25))}",
    ])
    return slug, header + "\n\n" + "\n\n".join(blocks + definitions) + "\n"


def generate_corpus(count: int) -> list[str]:
    """Write the corpus afresh and return the essays' slugs."""
    shutil.rmtree(CORPUS, ignore_errors=True)
    CORPUS.mkdir(parents=True)
    rng = random.Random(SEED)
    # Distinct dates: distinct minutes drawn from six years, in order.
    start = datetime(2020, 1, 1)
    minutes = sorted(rng.sample(range(6 * 365 * 24 * 60), count))
    slugs = []
    for index, minute in enumerate(minutes):
        slug, text = essay(rng, index, start + timedelta(minutes=minute))
        (CORPUS / f"{slug}.md").write_text(text, encoding="utf-8")
        slugs.append(slug)
    # The site's own non-essay content, so "ours" builds what it really builds:
    # the About page (PAGE_PATHS) and robots.txt / favicon.svg (STATIC_PATHS +
    # EXTRA_PATH_METADATA). pelicanconf's ARTICLE_EXCLUDES keeps them out of
    # the essays; the bare settings below do the same.
    for folder in ("pages", "extra"):
        shutil.copytree(ROOT / "content" / folder, CORPUS / folder)
    return slugs


# --------------------------------------------------------------------------
# The builds
# --------------------------------------------------------------------------

def write_bare_settings() -> None:
    """Bare Pelican: only what a site cannot do without, default theme and
    everything else default. PLUGINS=[] means no plugins (None would load every
    installed pelican.plugins.* namespace plugin, of which the venv has several)."""
    BARE_SETTINGS.write_text(
        f"PATH = {str(CORPUS)!r}\n"
        "AUTHOR = 'Benchmark'\n"
        "SITENAME = 'Bare'\n"
        "SITEURL = ''\n"
        "TIMEZONE = 'UTC'\n"
        "PLUGINS = []\n"
        "# Same split as ours, so both see the same 1,000 essays and one page.\n"
        "PAGE_PATHS = ['pages']\n"
        "ARTICLE_EXCLUDES = ['pages', 'extra']\n",
        encoding="utf-8",
    )


def bare_command(output: Path) -> list[str]:
    return [sys.executable, "-m", "pelican", str(CORPUS), "-o", str(output), "-s", str(BARE_SETTINGS)]


def ours_command(output: Path, extra: dict | None = None) -> list[str]:
    """The command `invoke build` runs, but with the content cache under
    bench/.work/ rather than ROOT/cache/.

    pelican_command passes `--extra-settings CACHE_PATH="..."`. Pelican's
    --extra-settings takes several KEY=VALUE items after one flag, and a second
    --extra-settings flag *replaces* the first one's items (argparse action
    ParseOverrides sets a fresh dict), so appending a second flag would silently
    drop anything else pelican_command overrides. Instead the CACHE_PATH item is
    rewritten in place (or added to the existing flag's items), and `extra`
    (name → value) added beside it."""
    command = pelican_command(settings=ROOT / "pelicanconf.py", output=output, content=CORPUS)
    ours = [f"CACHE_PATH={json.dumps(str(OURS_CACHE))}", *(f"{k}={json.dumps(v)}" for k, v in (extra or {}).items())]
    if "--extra-settings" not in command:
        return command + ["--extra-settings", *ours]
    start = command.index("--extra-settings") + 1
    end = start
    while end < len(command) and not command[end].startswith("-"):
        end += 1
    items = [item for item in command[start:end] if not item.startswith("CACHE_PATH=")]
    return command[:start] + items + ours + command[end:]


def without_search() -> dict:
    """Settings for our build without the search plugin."""
    from pelican.settings import read_settings

    return {"PLUGINS": [name for name in read_settings(str(ROOT / "pelicanconf.py"))["PLUGINS"] if name != "site_search"]}


def search_index_size(site: Path) -> tuple[int, int]:
    """(bytes, files) of the search index a build wrote (plugins/site_search)."""
    files = [path for path in (site / "pagefind").rglob("*") if path.is_file()]
    return sum(path.stat().st_size for path in files), len(files)


def run(command: list[str], cwd: Path, name: str) -> tuple[float, int, float]:
    """Run one build; return (wall seconds, peak RSS in KiB, CPU seconds).
    Exit on failure. CPU time (user + system) is shown beside wall time so a
    slow run can be told apart: time spent computing, or time spent waiting.

    The child's output goes to a file rather than a pipe: nothing has to read
    it while it runs, and Popen.wait/communicate would reap the child before
    os.wait4 could collect its rusage."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
        if child.returncode != 0:
            log.seek(0)
            print(f"\n{name} build FAILED (exit {child.returncode}):\n  {' '.join(command)}\n")
            print(log.read())
            sys.exit(1)
    return seconds, usage.ru_maxrss, usage.ru_utime + usage.ru_stime  # ru_maxrss: KiB on Linux


def check_output(output: Path, expected: list[Path], name: str) -> None:
    """A build that writes nothing is fast; make sure every essay got written."""
    missing = [p for p in expected if not (output / p).is_file()]
    if missing:
        shown = ", ".join(str(p) for p in missing[:5])
        print(f"\n{name} build wrote no {shown} (and {len(missing) - min(5, len(missing))} more missing)")
        sys.exit(1)


def default_output_root() -> Path:
    shm = Path("/dev/shm")
    return shm / "kizuna-bench" if shm.is_dir() and os.access(shm, os.W_OK) else OUTPUTS


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    # Flush what earlier builds and this removal left for the disk to do, so
    # the next build is timed for its own work, not for the writeback of the last.
    os.sync()
    return path


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--essays", type=int, default=1000, help="essays in the corpus (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="builds of each kind (default 3)")
    # On the virtual machines this was measured on, writing thousands of small
    # files to disk costs seconds of system time that grow from one back-to-back
    # build to the next (and fall back after a minute idle), which swamps what
    # the settings cost. So by default the sites go to a tmpfs, /dev/shm, where
    # one exists; --output-root bench/.work/out measures with the disk included.
    parser.add_argument("--output-root", type=Path, default=default_output_root(),
                        help="where the built sites go (default: /dev/shm/kizuna-bench, else bench/.work/out)")
    args = parser.parse_args()
    outputs = args.output_root.resolve()

    print(f"Generating {args.essays} essays in {CORPUS.relative_to(ROOT)} ...", flush=True)
    slugs = generate_corpus(args.essays)
    write_bare_settings()
    # Body words only: Markdown markup (##, >, --, [^1]:) is not a word.
    body_words = [
        sum(1 for token in p.read_text(encoding="utf-8").split("\n\n", 1)[1].split() if any(c.isalpha() for c in token))
        for p in CORPUS.glob("essay-*.md")
    ]
    print(f"  {len(slugs)} essays, {sum(body_words):,} words of body text ({min(body_words)}-{max(body_words)} per essay)")

    # What each build must have written (URL settings differ: bare Pelican
    # writes <slug>.html, ours writes essays/<slug>/index.html).
    bare_expected = [Path(f"{s}.html") for s in slugs] + [Path("pages/about.html"), Path("index.html")]
    ours_expected = [Path(f"essays/{s}/index.html") for s in slugs] + [
        Path("about/index.html"), Path("index.html"), Path("robots.txt"), Path("favicon.svg")]

    # The essay the warm rebuild sees changed; put back after each warm build
    # so every repetition's bare and cold builds see the identical corpus.
    changed = CORPUS / f"{slugs[len(slugs) // 2]}.md"
    original = changed.read_text(encoding="utf-8")
    marker = "benchmarkwarmrebuildmarker"

    kinds = ["bare", "no search", "ours cold", "ours warm"]
    times, peaks, cpus = ({kind: [] for kind in kinds} for _ in range(3))
    no_search = without_search()

    def record(kind, result):
        times[kind].append(result[0])
        peaks[kind].append(result[1])
        cpus[kind].append(result[2])
        print(f"  {kind:<10} {result[0]:7.2f} s  {result[1] / 1024:7.1f} MiB  ({result[2]:.2f} s CPU)", flush=True)

    # Alternate the kinds so drift (thermal, other load) spreads over all of them.
    for round_ in range(1, args.repeat + 1):
        print(f"Round {round_}/{args.repeat}", flush=True)

        out = fresh(outputs / "bare")
        record("bare", run(bare_command(out), WORK, "bare"))
        check_output(out, bare_expected, "bare")

        # The cold build below without search (before it, so that its cache is
        # the one the warm build reuses): what the index costs.
        fresh(OURS_CACHE)
        out = fresh(outputs / "no-search")
        record("no search", run(ours_command(out, no_search), ROOT, "no search"))
        check_output(out, ours_expected, "no search")

        # Cold: no cache folder at all, as after `invoke clean` or a settings change.
        fresh(OURS_CACHE)
        out = fresh(outputs / "ours-cold")
        record("ours cold", run(ours_command(out), ROOT, "ours cold"))  # cwd as kizuna.build.build
        check_output(out, ours_expected, "ours cold")
        if not any(OURS_CACHE.iterdir()):
            print(f"\nours cold build left no content cache in {OURS_CACHE}")
            sys.exit(1)
        index = search_index_size(out)
        if not index[1]:
            print(f"\nours cold build wrote no search index in {out / 'pagefind'}")
            sys.exit(1)

        # Warm: one essay edited (appended paragraph, mtime clearly newer, as
        # Pelican's cache compares mtimes), same cache, fresh output folder.
        stat = changed.stat()
        changed.write_text(original + f"\nOne more paragraph, written later: {marker}.\n", encoding="utf-8")
        os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 60 * 10**9))
        out = fresh(outputs / "ours-warm")
        record("ours warm", run(ours_command(out), ROOT, "ours warm"))
        check_output(out, ours_expected, "ours warm")
        if marker not in (out / "essays" / changed.stem / "index.html").read_text(encoding="utf-8"):
            print(f"\nours warm build did not pick up the change to {changed.name}")
            sys.exit(1)
        changed.write_text(original, encoding="utf-8")

    median = {kind: statistics.median(values) for kind, values in times.items()}
    peak = {kind: max(values) for kind, values in peaks.items()}

    print(f"\n{args.essays} essays, {args.repeat} builds of each kind (median time, highest peak RSS), output in {outputs}\n")
    print(f"  {'build':<10} {'median s':>9} {'all runs s':>24} {'peak MiB':>9} {'median CPU s':>13}")
    for kind in times:
        runs = " ".join(f"{t:.2f}" for t in times[kind])
        cpu = statistics.median(cpus[kind])
        print(f"  {kind:<10} {median[kind]:9.2f} {runs:>24} {peak[kind] / 1024:9.1f} {cpu:13.2f}")
    print()

    def verdict(ratio, goal):
        return "PASS" if ratio <= goal else "MISS"

    cold = median["ours cold"] / median["bare"]
    bare_search = median["no search"] / median["bare"]
    warm = median["ours warm"] / median["bare"]
    # Ours' peak is the higher of its cold and warm builds.
    memory = max(peak["ours cold"], peak["ours warm"]) / peak["bare"]
    print(f"cold build ratio ours/bare, search on: {cold:.2f} (goal <= {COLD_GOAL}) {verdict(cold, COLD_GOAL)}")
    print(f"  without search: {bare_search:.2f}; search adds {median['ours cold'] - median['no search']:.2f} s "
          f"({cold - bare_search:+.2f} of bare)")
    print(f"search index: {index[0]:,} bytes in {index[1]:,} files")
    print(f"warm rebuild (one essay changed) ours-warm / bare-cold: {warm:.2f} (goal <= {WARM_GOAL}) {verdict(warm, WARM_GOAL)}")
    print(f"peak memory ratio ours/bare: {memory:.2f} (goal <= {MEMORY_GOAL}) {verdict(memory, MEMORY_GOAL)}")
    # A build's peak is its largest process's: with search, Pagefind's own (it holds every page while it indexes).
    print(f"  without search: {peak['no search'] / peak['bare']:.2f}")
    if outputs != OUTPUTS.resolve():
        shutil.rmtree(outputs, ignore_errors=True)  # don't leave sites in memory


if __name__ == "__main__":
    main()
