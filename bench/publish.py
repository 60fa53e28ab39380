"""Publish benchmark: `invoke publish` to object storage (kizuna/object_storage.py)
for bench/build.py's 1,000-essay corpus, against moto's S3 server on loopback.

    .venv/bin/python bench/publish.py [--essays 1000]

What it does, in one run:

* writes the corpus bench/build.py writes (its generator, same seed) and
  builds it with production settings (publishconf.py, as `invoke publish`
  builds; comments are not baked, there is no comment server here);
* starts moto's S3 server (`python -m moto.server`) on a free 127.0.0.1 port,
  makes a bucket, and publishes the site into it: the anchor, with how many
  objects it holds;
* changes one essay in the middle of the archive, twice, building again into
  a fresh folder and publishing each time: a word corrected in its middle (a
  slip put right), then a paragraph added at its end. For each: how many
  objects were uploaded (goal <= 10), which ones and why, and the time as a
  ratio of the first publish (goal <= 0.1).

Only the publish step is timed (after the build: hashing output/, listing the
bucket, reading the manifest, compressing and uploading, deleting, writing the
manifest); the builds are shown for scale. moto is a Python server on the same
machine, so its share of the time is larger than a real service's, but so is
its speed per request; the ratio is what to read. Exit status 0 whether or not
the goals are met.
"""

import argparse
import io
import os
import shutil
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from build import CORPUS, default_output_root, fresh, generate_corpus  # noqa: E402
from kizuna import PROD_SETTINGS, object_storage  # noqa: E402
from kizuna.build import build  # noqa: E402
from kizuna.local_s3 import local_s3  # noqa: E402

UPLOAD_GOAL = 10
RATIO_GOAL = 0.1
BUCKET = "kizuna-bench"
NO_BAKING = {"ISSO_BAKE_URL": ""}


def why(key: str) -> str:
    """Why one essay's change touches this object."""
    if key.startswith("essays/"):
        return "the essay's page"
    if key.startswith("pagefind/"):
        return "the search index: the essay's new words (parts are named by content; the entry names them)"
    if key.startswith("feeds/"):
        return "a feed that carries the essay's text"
    if key == "sitemap.xml":
        return "the sitemap: the essay's date or its lists' (dated by their newest essay) changed"
    return "a page that shows the essay"


def built(name: str, outputs: Path) -> tuple[Path, float]:
    started = time.perf_counter()
    output = build(PROD_SETTINGS, fresh(outputs / name), CORPUS, quiet=True, extra_settings=NO_BAKING)
    return output, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--essays", type=int, default=1000, help="essays in the corpus (default 1000)")
    args = parser.parse_args()
    outputs = default_output_root() / "publish"

    print(f"Generating {args.essays} essays and building them with production settings ...", flush=True)
    slugs = generate_corpus(args.essays)
    first_site, first_build = built("first", outputs)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    try:
        with open(os.devnull, "w") as quiet, local_s3(quiet, buckets=(BUCKET,)) as s3:
            os.environ.update(s3.env)  # boto3 in this process finds the server as a writer's would
            import boto3

            first = object_storage.publish(f"s3://{BUCKET}", first_site, CORPUS, stream=io.StringIO())
            held = sum(page.get("KeyCount", 0) for page in boto3.client("s3").get_paginator("list_objects_v2")
                       .paginate(Bucket=BUCKET))

            changed = CORPUS / f"{slugs[len(slugs) // 2]}.md"
            original = changed.read_text(encoding="utf-8")
            results = []
            try:
                for edit, change in EDITS:  # each on top of the one before, published in turn
                    changed.write_text(change(changed.read_text(encoding="utf-8")), encoding="utf-8")
                    site, build_seconds = built(f"after-{len(results)}", outputs)
                    report = object_storage.publish(f"s3://{BUCKET}", site, CORPUS, stream=io.StringIO())
                    results.append((edit, report, build_seconds, len(list((site / "pagefind" / "index").iterdir()))))
            finally:
                changed.write_text(original, encoding="utf-8")  # the corpus as bench/build.py wrote it
    finally:
        shutil.rmtree(outputs, ignore_errors=True)

    verdict = {True: "PASS", False: "MISS"}
    print(f"\n{args.essays} essays; production builds {first_build:.1f} s, then "
          f"{', '.join(f'{seconds:.1f} s' for _, _, seconds, _ in results)} (not timed below)")
    print(f"first publish (upload step only): {first.seconds:.2f} s, {len(first.uploaded):,} objects uploaded "
          f"({first.sent / 1e6:.1f} MB gzipped where text), {held:,} objects in the bucket with the manifest")
    for edit, second, _, chunk_count in results:
        ratio = second.seconds / first.seconds
        print(f"\nsecond publish, {changed.stem} changed ({edit}): {len(second.uploaded)} objects uploaded "
              f"(goal <= {UPLOAD_GOAL}) {verdict[len(second.uploaded) <= UPLOAD_GOAL]}, {len(second.deleted)} deleted, "
              f"{len(second.kept)} kept a day, "
              f"{second.unchanged:,} unchanged, {second.sent / 1e3:.1f} KB sent")
        chunks = [key for key in second.uploaded if key.startswith("pagefind/index/")]
        for key in sorted(set(second.uploaded) - set(chunks)):
            print(f"  uploaded {key}: {why(key)}")
        if chunks:
            print(f"  uploaded {len(chunks)} of the {chunk_count} word-index chunks (pagefind/index/*.pf_index): "
                  "Pagefind cuts its word index by size, so the essay's added entries move the boundaries after them")
        if second.deleted:
            print(f"  deleted  {len(second.deleted)}: {', '.join(sorted(second.deleted)[:3])}…")
        if second.kept:
            print(f"  kept a day, then deleted: {len(second.kept)} index parts the new entry no longer names "
                  f"({', '.join(sorted(key.rsplit('/', 1)[-1] for key in second.kept)[:3])}…), for pages still cached")
        print(f"  time / first publish: {second.seconds:.2f} s / {first.seconds:.2f} s = {ratio:.3f} "
              f"(goal <= {RATIO_GOAL}) {verdict[ratio <= RATIO_GOAL]}")


def corrected(text: str) -> str:
    """A word put right in the middle of the essay, as a writer fixes a slip."""
    header, body = text.split("\n\n", 1)
    middle = len(body) // 2
    start = body.index(" ", middle) + 1
    end = body.index(" ", start)
    return f"{header}\n\n{body[:start]}{'quiet' if body[start:end] != 'quiet' else 'gentle'}{body[end:]}"


def extended(text: str) -> str:
    return text + "\nOne more paragraph, written later.\n"


EDITS = [("a word corrected", corrected), ("a paragraph added", extended)]

if __name__ == "__main__":
    main()
