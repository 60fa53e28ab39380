"""Image benchmark: an essay with five large photos, as a phone gets it.

    .venv/bin/python bench/images.py [--no-lighthouse]

The anchor, measured in the same run: the five photos as the writer saved
them (4000 x 3000 JPEG, quality 90, a few MB each), which is what a phone
would download if the page showed them as they are. Goal: the phone gets at
least 5 x fewer image bytes (originals / shipped >= 5), and Lighthouse scores
the essay 100 in all four categories.

What it does, in one run:

* makes five photo-like pictures with a fixed seed: texture at every scale,
  as in photographs (so smaller copies keep detail and do not shrink to
  nothing), light falling across the frame, a little sensor grain, colour
  softer than the detail; one of them tagged by its camera as turned
  (EXIF orientation 6), as phone photos often are;
* puts them in an essay beside a copy of content/ (bench/.work/images/), and
  builds it with publishconf.py, as `invoke publish` does, twice, with an
  empty image cache and then with the cache the first build filled: the
  first encodes every copy, the second encodes none;
* serves the build with kizuna.serve on a free 127.0.0.1 port (stopped by its
  process id), opens the essay in Debian's chromium (Playwright) as two
  phones, a Moto G Power (412 x 823 at 1.75, Lighthouse's phone) and an
  iPhone (390 x 844 at 3), scrolls to the end so every lazy image loads, and
  adds up the bytes of the images the page loaded (the Performance API's
  encodedBodySize; images are not compressed again in transit) and its
  layout shift (CLS);
* runs Lighthouse on the essay (bench/page.py's run: mobile, simulated
  throttling) and prints its four scores and the audits it fails.

The exit status is 0 whether or not the goals are met; non-zero when a
build, the server, the browser or Lighthouse fails.
"""

import argparse
import contextlib
import random
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `kizuna` imports from any cwd

from PIL import Image, ImageChops, ImageOps  # noqa: E402

WORK = ROOT / "bench" / ".work" / "images"
SLUG = "five-photographs"
PHOTO_SIZE = (4000, 3000)
GOAL = 5.0  # originals / shipped, on each phone
SCORE_GOAL = 100
# (name, CSS width, height, device pixel ratio)
PHONES = [("Moto G Power", 412, 823, 1.75), ("iPhone", 390, 844, 3)]


# --------------------------------------------------------------------------
# Photo-like pictures (tests/test_responsive_images.py makes its own with these)
# --------------------------------------------------------------------------

def _noise(size: tuple[int, int], rnd: random.Random) -> Image.Image:
    return Image.frombytes("L", size, rnd.randbytes(size[0] * size[1]))


def _texture(width: int, height: int, rnd: random.Random, coarsest: int, finest: int,
             falloff: float = 1.2) -> Image.Image:
    """Noise at each scale from `coarsest` to `finest` cells across, each
    octave a little fainter than the last: photographs have detail at every
    scale, which is what makes them weigh what they do at every size."""
    longest = max(width, height)
    texture, total, cells, octave = None, 0.0, coarsest, 0
    while cells <= finest:
        size = (max(2, width * cells // longest), max(2, height * cells // longest))
        layer = _noise(size, rnd).resize((width, height), Image.BICUBIC)
        weight = 1.0 / falloff ** octave
        total += weight
        texture = layer if texture is None else Image.blend(texture, layer, weight / total)
        cells, octave = cells * 2, octave + 1
    return ImageOps.autocontrast(texture, cutoff=0.5)


def photograph(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like RGB picture, the same for the same seed."""
    rnd = random.Random(seed)
    longest = max(width, height)
    light = Image.linear_gradient("L").resize((width, height))
    luma = Image.blend(_texture(width, height, rnd, 4, longest), light, 0.35)
    grain = Image.blend(_noise((width, height), rnd), Image.new("L", (width, height), 128), 0.9)
    luma = ImageChops.add(luma, grain, offset=-128)
    grey = Image.new("L", (width, height), 128)
    blue, red = (Image.blend(_texture(width, height, rnd, 2, 64), grey, 0.6) for _ in range(2))
    return Image.merge("YCbCr", (luma, blue, red)).convert("RGB")


def save_photo(image: Image.Image, path: Path, turned: bool = False, quality: int = 90) -> None:
    """As a camera saves it: JPEG. `turned`: as a phone held upright saves a
    photo, the pixels as the sensor lies, on their side, and EXIF orientation
    6 telling viewers to turn it a quarter clockwise (a portrait photo)."""
    exif = Image.Exif()
    if turned:
        exif[0x0112] = 6
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=quality, exif=exif.tobytes())


# --------------------------------------------------------------------------
# The essay
# --------------------------------------------------------------------------

PHOTOS = [  # (file, alt text, caption)
    ("harbour.jpg", "Fishing boats tied up in a small harbour at dawn", "The harbour, before the boats go out"),
    ("market.jpg", "A crowded covered market, lanterns overhead", "The market at noon"),
    ("hill.jpg", "A steep path up a green hill, a bench halfway", "Halfway up, the bench everyone stops at"),
    ("station.jpg", "An empty station platform in the rain", "The last train, which I missed"),
    ("window.jpg", "A window at night, one lamp lit inside", "Home, seen from the street"),
]
TURNED = "station.jpg"


def essay() -> str:
    paragraphs = [
        "I went back to the town where I grew up, with a camera and no plan. These are five photographs "
        "from one day there, and what each made me think of.",
        "The harbour was the first place I walked to. The boats had not changed, only the names painted "
        "on them, and the men who used to shout at us for climbing on the ropes were gone.",
        "At the market I bought nothing, which would have surprised my mother. I stood under the lanterns "
        "and listened for a voice I knew, and heard none, and felt both relief and its opposite.",
        "Everyone stops at the bench on the hill. It was put there for the view, but people stop because "
        "they are tired, and then they see the view, and then they stay longer than they meant to.",
        "I missed the last train on purpose, I think. The platform was empty and the rain made it quiet, "
        "and it felt like the right place to sit with everything I had not said.",
        "In the end I walked past the house. Someone else's lamp was on in my old window. I hope they are "
        "happy there. I hope they leave the window lit for someone.",
    ]
    body = [paragraphs[0]]
    for (name, alt, caption), words in zip(PHOTOS, paragraphs[1:]):
        body += [f'![{alt}](images/{name} "{caption}")', words]
    return ("Title: Five Photographs\nSlug: five-photographs\nDate: 2026-01-10 09:00\n"
            "Summary: A day back in the town I grew up in, in five photographs.\n\n" + "\n\n".join(body) + "\n")


def write_site(folder: Path) -> tuple[Path, dict[str, int]]:
    """content/ (a copy of the site's) with the essay and its photos; returns
    it and each photo's size in bytes."""
    content = folder / "content"
    shutil.rmtree(content, ignore_errors=True)
    shutil.copytree(ROOT / "content", content)
    sizes = {}
    for seed, (name, _, _) in enumerate(PHOTOS):
        path = content / "images" / name
        save_photo(photograph(*PHOTO_SIZE, seed=seed), path, turned=name == TURNED)
        sizes[name] = path.stat().st_size
    (content / f"{SLUG}.md").write_text(essay(), encoding="utf-8")
    return content, sizes


# --------------------------------------------------------------------------
# In the browser
# --------------------------------------------------------------------------

# Layout shift as the page measures it (the Layout Instability API), from the first paint on.
WATCH_SHIFTS = """
window.__shift = 0;
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) window.__shift += entry.value;  // no reader input here: every shift counts
}).observe({type: "layout-shift", buffered: true});
"""
SCROLL_TO_THE_END = """async () => {
  const pause = () => new Promise(done => setTimeout(done, 150));
  for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight / 2) { scrollTo(0, y); await pause(); }
  scrollTo(0, document.documentElement.scrollHeight);
  await Promise.all([...document.images].map(image => image.decode().catch(() => null)));
}"""
IMAGE_BYTES = """() => performance.getEntriesByType("resource")
  .filter(entry => entry.initiatorType === "img")
  .map(entry => ({url: entry.name, bytes: entry.encodedBodySize}))"""


def on_phone(browser, url: str, width: int, height: int, scale: float) -> dict:
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale,
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.add_init_script(WATCH_SHIFTS)
        page.goto(url, wait_until="load")
        page.evaluate(SCROLL_TO_THE_END)
        loaded = page.evaluate(IMAGE_BYTES)
        chosen = page.evaluate("() => [...document.querySelectorAll('article img')].map(i => i.currentSrc)")
        return {"images": loaded, "bytes": sum(item["bytes"] for item in loaded), "chosen": chosen,
                "cls": page.evaluate("() => window.__shift")}
    finally:
        context.close()


# --------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------

def build_site(content: Path, output: Path, cache: Path, port: int) -> float:
    """A production build (publishconf.py) addressed to the loopback server; its seconds."""
    from kizuna import PROD_SETTINGS
    from kizuna.build import build

    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    build(settings=PROD_SETTINGS, output=output, content=content, quiet=True, extra_settings={
        "SITEURL": url, "FEED_DOMAIN": url, "ISSO_URL": url + "/isso/", "ISSO_BAKE_URL": "",
        "IMAGE_CACHE_PATH": str(cache)})
    return time.perf_counter() - started


def copy_of(output: Path, address: str, extension: str) -> Path:
    """The file behind a copy's address, in another format (same width)."""
    path = output / urlsplit(address).path.lstrip("/")
    return path.with_suffix("." + extension)


def copies_made(cache: Path) -> int:
    return sum(1 for path in cache.rglob("*") if path.suffix in (".avif", ".webp", ".jpg", ".png"))


def main() -> int:
    parser = argparse.ArgumentParser(description="Image bytes a phone gets for a five-photo essay, and Lighthouse.")
    parser.add_argument("--no-lighthouse", action="store_true", help="skip the Lighthouse run")
    args = parser.parse_args()
    with contextlib.ExitStack() as servers:
        return _measure(args, servers)


def _measure(args, servers: contextlib.ExitStack) -> int:
    from kizuna.browser import CHROMIUM, launch
    from kizuna.build import BuildError
    from kizuna.processes import free_port, server
    from kizuna.serve import command as site_server
    sys.path.insert(0, str(ROOT / "bench"))  # here, not on import: the tests import this file's photographs
    import page as page_bench  # bench/page.py: Lighthouse as it runs it

    try:
        if not Path(CHROMIUM).exists():
            raise page_bench.BenchError(f"{CHROMIUM} is missing: run ./setup --dev")
        print("Making five photos and the essay...", flush=True)
        content, originals = write_site(WORK)
        output, cache = WORK / "output", WORK / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        port = free_port()
        print("Building (publishconf.py), with an empty image cache, then again...", flush=True)
        cold = build_site(content, output, cache, port)
        made = copies_made(cache)
        before = {path: path.stat().st_mtime_ns for path in cache.rglob("*") if path.is_file()}
        warm = build_site(content, output, cache, port)
        encoded_again = sum(1 for path in cache.rglob("*")
                            if path.is_file() and before.get(path) != path.stat().st_mtime_ns)
        servers.enter_context(server(site_server(output, port), port, cwd=ROOT))
        url = f"http://127.0.0.1:{port}/essays/{SLUG}/"

        from playwright.sync_api import sync_playwright
        phones = {}
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                for name, width, height, scale in PHONES:
                    print(f"Loading the essay as a {name} ({width}x{height} at {scale})...", flush=True)
                    phones[name] = on_phone(browser, url, width, height, scale)
            finally:
                browser.close()

        lhr = None
        if not args.no_lighthouse:
            page_bench.ensure_lighthouse()
            print("Lighthouse (mobile, simulated throttling)...", flush=True)
            lhr = page_bench.lighthouse(url, WORK / "lighthouse.report.json")
    except (BuildError, page_bench.BenchError, RuntimeError, TimeoutError) as error:
        print(f"bench/images.py: {error}", file=sys.stderr)
        return 1

    total = sum(originals.values())
    print()
    print(f"Five photos, {PHOTO_SIZE[0]} x {PHOTO_SIZE[1]} JPEG quality 90: {total:,} bytes as saved "
          f"({', '.join(f'{size / 1e6:.1f} MB' for size in originals.values())})")
    print(f"Build with an empty image cache {cold:.1f} s ({made} copies made); again {warm:.1f} s "
          f"({encoded_again} files in the cache written again)")
    print()
    print(f"  {'phone':28}{'image bytes':>14}{'originals/shipped':>20}{'CLS':>8}   copies chosen")
    for (name, width, height, scale), shown in zip(PHONES, phones.values()):
        ratio = total / shown["bytes"] if shown["bytes"] else float("inf")
        chosen = sorted({src.rsplit("/", 1)[-1].split(".")[0].split("-")[-1] + "." + src.rsplit(".", 1)[-1]
                         for src in shown["chosen"]})
        print(f"  {f'{name} {width}x{height}@{scale}':28}{shown['bytes']:>14,}{ratio:>20.1f}"
              f"{shown['cls']:>8.3f}   {', '.join(chosen)} ({len(shown['images'])} images)")
    print()
    print("  A browser without AVIF would get the same widths as WebP, one without either as JPEG:")
    for name, shown in phones.items():
        other = {kind: sum(copy_of(output, src, kind).stat().st_size for src in shown["chosen"])
                 for kind in ("webp", "jpg")}
        print(f"  {name:28}{other['webp']:>14,} WebP ({total / other['webp']:.1f}x)"
              f"{other['jpg']:>12,} JPEG ({total / other['jpg']:.1f}x)")
    print()
    print("Goals")
    for name, shown in phones.items():
        ratio = total / shown["bytes"] if shown["bytes"] else float("inf")
        print(f"  {'originals/shipped, ' + name:34}{ratio:8.1f}  (goal >= {GOAL:g})  {'PASS' if ratio >= GOAL else 'MISS'}")
    if lhr is not None:
        scores = page_bench.figures(lhr)
        for category in page_bench.CATEGORIES:
            print(f"  {'Lighthouse ' + category:34}{scores[category]:8g}  (goal = {SCORE_GOAL})  "
                  f"{'PASS' if scores[category] >= SCORE_GOAL else 'MISS'}")
        print(f"  (Lighthouse {lhr['lighthouseVersion']}: LCP {lhr['audits']['largest-contentful-paint']['numericValue']:,.0f} ms, "
              f"CLS {lhr['audits']['cumulative-layout-shift']['numericValue']:.3f}, "
              f"{scores['requests']} requests, {scores['bytes']:,} bytes transferred)")
        failing = page_bench.failing_audits(lhr)
        print(f"Failing Lighthouse audits: {len(failing) or 'none'}")
        for audit_id, (title, score, shown) in sorted(failing.items(), key=lambda item: item[1][1]):
            print(f"  {audit_id} (score {score:.2f}): {title}{' — ' + shown if shown else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
