"""`invoke publish` to S3-compatible object storage (kizuna/object_storage.py),
against moto's S3 server run as its own process on loopback, with real boto3
over HTTP: every file there with its type, cache rule and encoding; only
what changed sent again; deletions last; a dry run that writes nothing;
redirects as object-storage redirects; a publish killed part-way that leaves
every page whole, old or new, with what it names; and errors in words."""

import gzip
import io
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from bench.images import photograph, save_photo
from kizuna import CONTENT, PROD_SETTINGS, ROOT
from kizuna import object_storage, publish as publishing
from kizuna.build import build
from kizuna.errors import KizunaError
from kizuna.local_s3 import local_s3
from support import free_port, invoke, writer_env

OLD_POST = "2019/05/hello-world/index.html"  # an imported blog's old address, sent on to the first essay
ESSAY = "essays/unresolved-desire-to-connect/"
CHANGED, DELETED = "note-05", "note-07"
NOTES = 40  # enough pages that a publish can be stopped in the middle of them


# --- A real S3 API on loopback, and the builds to publish -------------------------

@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto's S3 server (`python -m moto.server`) on a free 127.0.0.1 port,
    stopped by pid; boto3 in this process (and in the children it starts)
    finds it through the usual AWS variables."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as output, local_s3(output) as s3, pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        for name, value in s3.env.items():
            patch.setenv(name, value)
        yield s3


_buckets = itertools.count(1)


@pytest.fixture
def bucket(moto):
    """A new empty bucket; .name, .s3 (a boto3 client)."""
    import boto3

    name = f"kizuna-test-{next(_buckets)}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    return SimpleNamespace(name=name, s3=s3, target=f"s3://{name}")


def note(number: int, extra: str = "") -> str:
    return (f"Title: Note {number}\nSlug: note-{number:02d}\nDate: 2026-02-{1 + number % 27:02d} 0{number % 10}:00\n"
            f"Category: Notes\nTags: note{number % 6}, waiting\nSummary: A short note, number {number}.\n\n"
            f"A short note about waiting, the {number}th of them, with a few words to index.\n{extra}")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Production builds of one content folder as it changes: v1; v2 with one
    essay's text changed; v3 with another essay deleted; v4, every page
    changed (the site renamed), a photo added to twenty essays, and an essay
    added. Each build's content is
    kept beside it (the old addresses are read from it)."""
    folder = tmp_path_factory.mktemp("s3-sites")
    content = folder / "content"
    shutil.copytree(CONTENT, content)
    for number in range(NOTES):
        (content / f"note-{number:02d}.md").write_text(note(number), encoding="utf-8")
    save_photo(photograph(1000, 750, 7), content / "images" / "harbour.jpg")
    (content / "note-03.md").write_text(note(3, "\n![A harbour at dawn](images/harbour.jpg)\n"), encoding="utf-8")
    (content / "extra" / "comments").mkdir()
    (content / "extra" / "comments" / "leak.db").write_text("must not travel")  # comment data, wherever it is
    (content / ".imported").mkdir()
    (content / ".imported" / "wordpress.json").write_text(json.dumps({"items": {"12": {
        "status": "published", "type": "post", "url": f"/{ESSAY}",
        "link": "https://old.example/2019/05/hello-world/", "guid": "https://old.example/?p=12"}}}))
    settings = {"ISSO_BAKE_URL": "", "IMAGE_CACHE_PATH": str(folder / "image-cache")}
    built = {}

    def version(name, extra=None):
        kept = folder / f"content-{name}"
        shutil.copytree(content, kept)
        built[name] = SimpleNamespace(output=build(PROD_SETTINGS, folder / name, kept, quiet=True,
                                                   extra_settings={**settings, **(extra or {})}), content=kept)

    version("v1")
    (content / f"{CHANGED}.md").write_text(note(5, "\nA paragraph written later, after a night's sleep.\n"))
    version("v2")
    (content / f"{DELETED}.md").unlink()
    version("v3")
    (content / "note-99.md").write_text(note(99), encoding="utf-8")
    save_photo(photograph(1000, 750, 8), content / "images" / "lighthouse.jpg")  # new copies, new names
    for number in range(10, 30):
        (content / f"note-{number:02d}.md").write_text(note(number, "\n![A lighthouse](images/lighthouse.jpg)\n"))
    version("v4", {"SITENAME": "Kizuna, renamed"})
    return built


def publish(bucket, site, dry_run=False, prefix="", now=None):
    """Publish a build in this process (at time `now`, by default now); (report, what it printed)."""
    shown = io.StringIO()
    report = object_storage.publish(bucket.target + prefix, site.output, site.content, dry_run=dry_run, stream=shown,
                                    now=now)
    return report, shown.getvalue()


def publishable(output: Path) -> dict[str, bytes]:
    """{relative path: bytes} of what should be in the bucket, found without
    the code under test: every file but precompress's .gz/.br copies and
    comment data (the top comments/ folder, database files)."""
    files = {}
    for path in output.rglob("*"):
        relative = path.relative_to(output).as_posix()
        if not path.is_file() or relative.startswith("comments/") or path.suffix == ".db":
            continue
        if path.suffix in (".gz", ".br") and path.with_suffix("").exists():
            continue
        files[relative] = path.read_bytes()
    return files


def objects(bucket, prefix="") -> dict[str, dict]:
    """{key: {"etag", ...}} of everything in the bucket under prefix."""
    found = {}
    for page in bucket.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.name, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = {"etag": item["ETag"], "modified": item["LastModified"]}
    return found


def stored(bucket, key: str) -> tuple[bytes, dict]:
    """(the bytes a reader's browser ends up with, the object's headers)."""
    answer = bucket.s3.get_object(Bucket=bucket.name, Key=key)
    data = answer["Body"].read()
    if answer.get("ContentEncoding") == "gzip":
        data = gzip.decompress(data)
    return data, answer


def changed_between(old: Path, new: Path) -> tuple[set[str], set[str]]:
    """(files new or different in `new`, files gone from `old`)."""
    before, after = publishable(old), publishable(new)
    return {key for key, data in after.items() if before.get(key) != data}, set(before) - set(after)


# --- First publish: everything there, each as it should be served ----------------

EXPECTED_TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8", ".avif": "image/avif", ".webp": "image/webp", ".jpg": "image/jpeg",
    ".pf_fragment": "application/octet-stream", ".pf_index": "application/octet-stream",
    ".pf_meta": "application/octet-stream", ".pagefind": "application/octet-stream",
}
YEAR = "public, max-age=31536000, immutable"


def expected_type(key: str) -> str:
    if key.endswith(".atom.xml"):
        return "application/atom+xml; charset=utf-8"
    if key.endswith(".rss.xml"):
        return "application/rss+xml; charset=utf-8"
    if key.endswith(".xml"):
        return "application/xml"
    return EXPECTED_TYPES[Path(key).suffix]


def test_first_publish_puts_every_file_with_its_type_cache_rule_and_encoding(sites, bucket):
    site = sites["v1"]
    bucket.s3.put_object(Bucket=bucket.name, Key="comments/data/comments.db", Body=b"precious")
    bucket.s3.put_object(Bucket=bucket.name, Key="notes-from-elsewhere.txt", Body=b"not the site's")
    report, shown = publish(bucket, site)
    files = publishable(site.output)
    assert (site.output / "comments" / "feed" / "index.html").is_file()  # built, yet comment-folder data
    assert (site.output / "extra" / "comments" / "leak.db").is_file()
    assert (site.output / "index.html.gz").is_file() and (site.output / "index.html.br").is_file()

    there = objects(bucket)
    assert set(there) == set(files) | {object_storage.MANIFEST, "comments/data/comments.db",
                                        "notes-from-elsewhere.txt"}
    assert sorted(report.uploaded) == sorted(files) and report.unchanged == 0 and report.deleted == []
    assert not [key for key in there if key.endswith((".gz", ".br", ".db")) and key != "comments/data/comments.db"]
    kinds = {Path(key).suffix for key in files}
    assert {".html", ".css", ".js", ".xml", ".json", ".svg", ".txt", ".avif", ".webp", ".jpg", ".pf_fragment",
            ".pf_index", ".pf_meta", ".pagefind"} <= kinds, kinds
    for key, data in files.items():
        body, answer = stored(bucket, key)
        assert body == data, key  # what a browser unpacks is output/'s file, byte for byte
        assert answer["ContentType"] == expected_type(key), key
        named = re.search(r"(\.[0-9a-f]{10}\.(css|js)|\.pf_[a-z]+|-\d+w\.[0-9a-f]{10}\.\w+)$", key)
        assert answer["CacheControl"] == (YEAR if named else object_storage.SHORT), key
        text = answer["ContentType"].split(";")[0] in object_storage.COMPRESSIBLE
        assert answer.get("ContentEncoding") == ("gzip" if text else None), key
    assert object_storage.SHORT.startswith("public, max-age=60, stale-while-revalidate=")
    # Pages name the theme's files by their content (kept a year); the plain names, named by no page, are not.
    page = (sites["v1"].output / ESSAY / "index.html").read_text(encoding="utf-8")
    stylesheet = re.search(r'href="[^"]*/(theme/css/kizuna\.[0-9a-f]{10}\.css)"', page).group(1)
    assert stored(bucket, stylesheet)[1]["CacheControl"] == YEAR
    assert stored(bucket, "theme/css/kizuna.css")[1]["CacheControl"] == object_storage.SHORT
    # The comment data and the foreign object are left alone.
    assert bucket.s3.get_object(Bucket=bucket.name, Key="comments/data/comments.db")["Body"].read() == b"precious"
    assert shown.splitlines()[-1].startswith(f"Published to s3://{bucket.name}/: {len(files):,} uploaded, 0 unchanged, "
                                             "0 deleted, ")


def test_old_addresses_become_object_storage_redirects(sites, bucket):
    publish(bucket, sites["v1"])
    answer = bucket.s3.head_object(Bucket=bucket.name, Key=OLD_POST)
    assert answer["WebsiteRedirectLocation"] == f"/{ESSAY}"
    body, _ = stored(bucket, OLD_POST)
    assert body == (sites["v1"].output / OLD_POST).read_bytes()  # the build's small page, for a reader who gets it
    assert bucket.s3.head_object(Bucket=bucket.name, Key="feed/index.html")["WebsiteRedirectLocation"] == \
        "/feeds/all.atom.xml"
    assert "WebsiteRedirectLocation" not in bucket.s3.head_object(Bucket=bucket.name, Key=ESSAY + "index.html")


# --- Publishing again -------------------------------------------------------------

def test_publishing_the_same_site_again_uploads_nothing(sites, bucket):
    publish(bucket, sites["v1"])
    before = objects(bucket)
    report, shown = publish(bucket, sites["v1"])
    assert report.uploaded == [] and report.deleted == [] and report.sent == 0
    assert report.unchanged == len(publishable(sites["v1"].output))
    assert objects(bucket) == before  # not even the manifest was written again
    assert ": 0 uploaded, " in shown


def test_one_essay_changed_uploads_only_the_objects_that_changed(sites, bucket):
    publish(bucket, sites["v1"])
    report, shown = publish(bucket, sites["v2"])
    changed, gone = changed_between(sites["v1"].output, sites["v2"].output)
    assert f"essays/{CHANGED}/index.html" in changed
    assert set(report.uploaded) == changed and set(report.deleted) | set(report.kept) == gone
    assert len(changed) < 20, sorted(changed)  # the essay, its index parts, the lists and feeds that show it
    print(f"one essay changed: {len(changed)} objects uploaded, {len(gone)} gone: {sorted(changed)}")
    for key in changed:
        assert stored(bucket, key)[0] == (sites["v2"].output / key).read_bytes()
    assert not set(objects(bucket)) & set(report.deleted)
    # The search index's old parts stay a while, for a page still cached that asks for them.
    assert report.kept and all(object_storage.HASHED.search(key) for key in report.kept)
    assert set(report.kept) <= set(objects(bucket))


def test_a_deleted_essay_is_deleted_last(sites, bucket):
    publish(bucket, sites["v2"])
    report, _ = publish(bucket, sites["v3"])
    changed, gone = changed_between(sites["v2"].output, sites["v3"].output)
    assert f"essays/{DELETED}/index.html" in gone
    assert set(report.deleted) | set(report.kept) == gone and set(report.uploaded) == changed
    assert f"essays/{DELETED}/index.html" in report.deleted  # a page: at once
    order = [action for action, _ in report.events]
    assert order == sorted(order, key=lambda action: action == "delete"), "a deletion came before an upload"
    there = objects(bucket)
    assert f"essays/{DELETED}/index.html" not in there
    assert set(there) == set(publishable(sites["v3"].output)) | {object_storage.MANIFEST} | set(report.kept)


def test_files_named_by_their_content_go_a_day_after_the_site_stopped_naming_them(sites, bucket):
    publish(bucket, sites["v2"])
    report, _ = publish(bucket, sites["v3"])
    kept = set(report.kept)
    assert kept, "the deleted essay's search fragment, at least, is named by its content"
    # Published again within the day: still there, still noted as leaving.
    soon, _ = publish(bucket, sites["v3"], now=time.time() + 3600)
    assert set(soon.kept) == kept and soon.deleted == [] and soon.uploaded == []
    # A day (and a margin) later, whatever publish comes next removes them.
    later, _ = publish(bucket, sites["v3"], now=time.time() + object_storage.RETIRE_SECONDS + 60)
    assert set(later.deleted) == kept and later.kept == [] and later.uploaded == []
    assert set(objects(bucket)) == set(publishable(sites["v3"].output)) | {object_storage.MANIFEST}


def test_dry_run_says_what_would_happen_and_writes_nothing(sites, bucket):
    report, shown = publish(bucket, sites["v1"], dry_run=True)
    assert objects(bucket) == {}, "a dry run wrote to an empty bucket (the manifest included)"
    assert f"would upload (new) {ESSAY}index.html" in shown
    publish(bucket, sites["v2"])
    before = objects(bucket)
    report, shown = publish(bucket, sites["v3"], dry_run=True)
    assert objects(bucket) == before
    changed, gone = changed_between(sites["v2"].output, sites["v3"].output)
    assert set(report.uploaded) == changed and set(report.deleted) | set(report.kept) == gone
    assert f"would delete essays/{DELETED}/index.html" in shown
    assert "nothing was written" in shown.splitlines()[-1]


def test_a_prefix_keeps_the_site_in_its_folder(sites, bucket):
    publish(bucket, sites["v1"], prefix="/blog")
    there = objects(bucket)
    assert f"blog/{ESSAY}index.html" in there and "blog/" + object_storage.MANIFEST in there
    assert all(key.startswith("blog/") for key in there)
    report, _ = publish(bucket, sites["v1"], prefix="/blog")
    assert report.uploaded == []


def test_a_changed_rule_sends_again_and_compression_can_be_left_to_a_cdn(sites, bucket):
    site = sites["v1"]
    publish(bucket, site)
    shown = io.StringIO()
    report = object_storage.publish(bucket.target, site.output, site.content, compression="none", stream=shown)
    texts = {key for key in publishable(site.output)
             if object_storage.content_type(key).split(";")[0] in object_storage.COMPRESSIBLE}
    assert set(report.uploaded) == texts  # the headers changed, so these go again; images and index parts do not
    page, answer = stored(bucket, "index.html")
    assert "ContentEncoding" not in answer and page == (site.output / "index.html").read_bytes()
    with pytest.raises(KizunaError, match="KIZUNA_DEPLOY_COMPRESSION is 'brotli'"):
        object_storage.publish(bucket.target, site.output, site.content, compression="brotli", stream=shown)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_one_line_rewritten_on_a_terminal_and_plain_lines_elsewhere():
    for stream in (Terminal(), io.StringIO()):
        progress = object_storage.Progress(stream)
        progress.start("pages", 40)
        for _ in range(40):
            progress.advance(1000)
        progress.finish()
        text = stream.getvalue()
        assert "pages: 40/40 uploaded, 40.0 KB" in text
        if stream.isatty():
            assert text.count("\n") == 1 and text.count("\r") >= 2  # one line, updated in place
        else:
            assert "\r" not in text and 2 <= text.count("\n") <= 12  # a line at each tenth


# --- Stopped part-way -------------------------------------------------------------

SITE_HOST = "kizuna.example.org"


def assets_named(page: bytes) -> set[str]:
    """The keys of what a page loads from the site: stylesheets, scripts, images and their copies."""
    soup = BeautifulSoup(page, "html.parser")
    addresses = [tag.get("href") for tag in soup.find_all("link") if tag.get("href")
                 and set(tag.get("rel") or []) & {"stylesheet", "icon", "preload", "modulepreload"}]
    addresses += [tag.get("src") for tag in soup.find_all(["script", "img", "source"]) if tag.get("src")]
    for tag in soup.find_all(["img", "source"]):
        addresses += [candidate.split()[0] for candidate in (tag.get("srcset") or "").split(",") if candidate.strip()]
    keys = set()
    for address in addresses:
        parts = urlsplit(address)
        if parts.scheme in ("", "http", "https") and parts.netloc in ("", SITE_HOST) and parts.path.startswith("/") \
                and not parts.path.startswith("/isso/"):
            keys.add(parts.path.lstrip("/") + ("index.html" if parts.path.endswith("/") else ""))
    return keys


def test_a_publish_killed_part_way_leaves_every_page_whole_and_a_rerun_finishes(sites, bucket, moto):
    old, new = sites["v1"], sites["v4"]
    publish(bucket, old)
    code = ("import sys; from pathlib import Path; from kizuna import object_storage; "
            "object_storage.publish(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))")
    child = subprocess.Popen([sys.executable, "-c", code, bucket.target, str(new.output), str(new.content)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        for line in child.stdout:
            seen.append(line)
            progress = re.match(r"pages: (\d+)/(\d+) uploaded", line)
            if progress and 0 < int(progress[1]) < int(progress[2]):
                # Freeze the storage where it is, then kill the publisher outright.
                os.kill(moto.process.pid, signal.SIGSTOP)
                child.kill()
                break
    finally:
        os.kill(moto.process.pid, signal.SIGCONT)
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "".join(seen)
    assert not any(line.startswith("Published") for line in seen), "".join(seen)

    old_files, new_files = publishable(old.output), publishable(new.output)
    there = objects(bucket)
    versions = {"old": 0, "new": 0}
    for key in there:
        if not key.endswith(".html"):
            continue
        page, _ = stored(bucket, key)
        assert page in (old_files.get(key), new_files.get(key)), f"{key} is neither the old page nor the new one"
        versions["new" if page == new_files.get(key) and page != old_files.get(key) else "old"] += 1
        missing = assets_named(page) - set(there)
        assert not missing, f"{key} names {sorted(missing)}, which the bucket does not hold"
    print(f"stopped part-way: pages {versions}")
    assert versions["old"] and versions["new"], f"not stopped in the middle of the pages: {versions}"

    report, _ = publish(bucket, new)  # the rerun finishes the job
    # (the old site's files named by their content stay a day, for pages still cached: see below)
    assert report.kept and set(objects(bucket)) == set(new_files) | {object_storage.MANIFEST} | set(report.kept)
    for key in (f"{ESSAY}index.html", "index.html"):
        assert stored(bucket, key)[0] == new_files[key]
    assert publish(bucket, new)[0].uploaded == []


# --- Through `invoke publish`, and errors in words ------------------------------

def test_invoke_publish_uploads_to_object_storage(repo_copy, isso, bucket, moto):
    env = writer_env(KIZUNA_SITEURL="https://writer.example", KIZUNA_ISSO_BAKE_URL=isso.url + "/",
                     KIZUNA_DEPLOY_TARGET=f"{bucket.target}/site", **moto.env)
    dry = invoke(repo_copy, "publish", "--dry-run", env=env)
    assert f"would upload (new) site/{ESSAY}index.html" in dry.stdout
    assert objects(bucket) == {}
    result = invoke(repo_copy, "publish", env=env)
    assert re.search(rf"Published to {bucket.target}/site/: \d+ uploaded, 0 unchanged, 0 deleted, ", result.stdout), \
        result.stdout
    page, answer = stored(bucket, f"site/{ESSAY}index.html")
    assert answer["ContentType"] == "text/html; charset=utf-8" and b"https://writer.example/" in page
    assert page == (repo_copy / "output" / ESSAY / "index.html").read_bytes()


@pytest.mark.parametrize("target, said", [
    ("s3://", "with no bucket name"),
    ("s3:/my-essays", "object storage is written s3://bucket/prefix"),
    ("s3://My_Essays", "a bucket's name is 3 to 63 lowercase letters"),
    ("s3://kizuna-no-such-bucket", "There is no bucket kizuna-no-such-bucket at http://127.0.0.1:"),
])
def test_a_bad_target_is_said_before_the_build(moto, monkeypatch, target, said):
    monkeypatch.setenv("KIZUNA_SITEURL", "https://writer.example")
    with pytest.raises(publishing.PublishError, match=re.escape(said)):
        publishing.ready(target)


def test_missing_credentials_and_an_unreachable_endpoint_are_said_before_the_build(moto, bucket, monkeypatch,
                                                                                     tmp_path):
    monkeypatch.setenv("KIZUNA_SITEURL", "https://writer.example")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(publishing.PublishError, match="No credentials to publish to s3://.*AWS_ACCESS_KEY_ID"):
        publishing.ready(bucket.target)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(publishing.PublishError, match="Could not reach the bucket .* at http://127.0.0.1:.*endpoint"):
        publishing.ready(bucket.target)


def test_a_failure_while_publishing_is_a_message_naming_the_bucket(sites, moto):
    with pytest.raises(KizunaError, match="There is no bucket kizuna-gone at "):
        object_storage.publish("s3://kizuna-gone", sites["v1"].output, sites["v1"].content, stream=io.StringIO())


def test_invoke_publish_says_a_missing_bucket_in_words_and_builds_nothing(repo_copy, moto):
    env = writer_env(KIZUNA_SITEURL="https://writer.example", KIZUNA_DEPLOY_TARGET="s3://kizuna-not-made",
                     **moto.env)
    result = invoke(repo_copy, "publish", check=False, env=env)
    assert result.returncode == 1, result.stdout
    assert "There is no bucket kizuna-not-made at http://127.0.0.1:" in result.stdout
    assert "Traceback" not in result.stdout
    assert not (repo_copy / "output").exists()  # said before the build
