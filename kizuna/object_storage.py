"""`invoke publish` to S3-compatible object storage: KIZUNA_DEPLOY_TARGET=s3://bucket/prefix.

Where and as whom: boto3 reads the endpoint, region and credentials the usual
AWS way (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID
and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE and ~/.aws/); Kizuna adds none of
its own.

What a publish does, so that a reader never meets a broken mix:

1. Plan: every file of output/ becomes an object (comment data never,
   kizuna.publish.is_comment_data; nor the .gz/.br copies precompress leaves
   beside a file, which nginx serves and object storage cannot choose between).
   A file is unchanged when the manifest (an object beside the site, MANIFEST)
   says it was uploaded from the same bytes with the same headers, and the
   bucket's listing still shows the body the manifest noted (its ETag). So only
   files whose content or rules changed travel, and nothing unchanged is
   compressed again.
2. Upload in tiers, each in parallel, each finished before the next begins:
   the assets pages use (theme, images, Pagefind's script and the index's
   parts), then the pages that use them (HTML, feeds, sitemap, Pagefind's
   entry, which names the index's parts), then the old addresses' redirects.
   An object appears whole or not at all, so a publish stopped anywhere leaves
   every page old or new, and whatever a page names already there.
3. Delete last what the site no longer has: only objects an earlier publish
   put there (the manifest lists them), so a bucket can hold other things.
   A file named by its content (a stylesheet, a photo's copy, a part of the
   search index) stays a day longer (RETIRE_SECONDS), for the pages browsers
   and CDNs may still show from their copies.
The manifest is written last, and after each large tier, so a publish that
was stopped does not send again most of what it had finished.
"""

import base64
import gzip
import hashlib
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from kizuna import CONTENT, OUTPUT, assets
from kizuna.errors import KizunaError

SCHEME = "s3://"
MANIFEST = ".kizuna-publish.json"  # under the prefix; never served by a link
# Uploads at once within a tier: enough to hide each request's round trip on
# a home connection; boto3's connection pool is sized to match.
WORKERS = 8
# After a tier of at least this many uploads the manifest is written (a
# stopped publish then need not send them again); a smaller tier is cheaper
# to send again than the manifest is to write.
CHECKPOINT = 100


class ObjectStorageError(KizunaError):
    pass


# --- What each file is: its type, how long it may be kept, how it travels -------
# One home for these rules on object storage; deploy/nginx-site.conf.j2 says the
# same for nginx (a year for the hashed names below, pages checked again).

TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
    ".xml": "application/xml", ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml", ".avif": "image/avif", ".webp": "image/webp", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".ico": "image/x-icon",
    ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".otf": "font/otf",
    ".wasm": "application/wasm", ".webmanifest": "application/manifest+json", ".pdf": "application/pdf",
    ".mp3": "audio/mpeg", ".mp4": "video/mp4",
    # Pagefind's own files (its WebAssembly and the index's parts) are gzip
    # data that Pagefind fetches and unpacks itself.
    ".pagefind": "application/octet-stream", ".pf_fragment": "application/octet-stream",
    ".pf_index": "application/octet-stream", ".pf_filter": "application/octet-stream",
    ".pf_meta": "application/octet-stream",
}
UNKNOWN = "application/octet-stream"
FEED_TYPES = {".atom.xml": "application/atom+xml; charset=utf-8", ".rss.xml": "application/rss+xml; charset=utf-8"}
# Text that shrinks when gzipped. Images and fonts are compressed already, and
# Pagefind's files are gzip data: a Content-Encoding on them would have the
# browser unpack what Pagefind expects to unpack itself.
COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/json", "application/xml",
                "application/atom+xml", "application/rss+xml", "text/plain", "text/markdown", "image/svg+xml",
                "application/manifest+json", "application/wasm"}

# Named by their content (a new version is a new name), so kept a year:
# the theme's copies and essay photos' smaller copies (kizuna/assets.py), and
# Pagefind's index parts.
HASHED = re.compile(rf"{assets.CONTENT_NAMED}|\.(pf_fragment|pf_index|pf_filter|pf_meta)$")
IMMUTABLE = assets.KEPT_A_YEAR
# Everything else keeps its name from build to build: pages, feeds, Pagefind's
# entry and script. A browser or CDN may reuse it for a minute, so a shared
# essay costs the bucket about one request a minute per CDN node, and a new
# essay shows within a minute; for a day after that, a stale copy is served at
# once while a fresh one is fetched in the background, so no reader waits on
# the bucket. (nginx, which is the origin itself, says no-cache instead.)
PAGE_STALE_SECONDS = 86_400
SHORT = f"public, max-age=60, stale-while-revalidate={PAGE_STALE_SECONDS}"
# A file named by its content that the site no longer names stays this long
# after the publish that dropped it: a page a browser or CDN still holds (up
# to a minute, then a day stale, as above) may still ask for it. Then it goes.
RETIRE_SECONDS = PAGE_STALE_SECONDS + 3_600

# Tiers, in upload order: what pages refer to, the pages, then the old
# addresses (which send readers to pages).
ASSETS, PAGES, REDIRECTS = 0, 1, 2
TIER_NAMES = ("assets", "pages", "old addresses")
PAGE_TYPES = {"text/html", "application/xml", "application/atom+xml", "application/rss+xml"}
PAGE_ENTRY = "pagefind/pagefind-entry.json"  # names the index's parts: a page, for ordering


def content_type(relative: str) -> str:
    name = relative.rsplit("/", 1)[-1].lower()
    for suffix, kind in FEED_TYPES.items():
        if name.endswith(suffix):
            return kind
    suffix = name[name.rfind("."):] if "." in name else ""
    return TYPES.get(suffix, UNKNOWN)


def cache_control(relative: str) -> str:
    return IMMUTABLE if HASHED.search(relative) else SHORT


def tier(relative: str, kind: str) -> int:
    return PAGES if kind.split(";")[0] in PAGE_TYPES or relative == PAGE_ENTRY else ASSETS


def headers(relative: str, compression: str, redirect: str | None = None) -> dict[str, str]:
    """The object's headers (as boto3 names them) for output/'s file at `relative`."""
    kind = content_type(relative)
    made = {"ContentType": kind, "CacheControl": cache_control(relative)}
    if compression == "gzip" and kind.split(";")[0] in COMPRESSIBLE:
        made["ContentEncoding"] = "gzip"
    if redirect:
        made["WebsiteRedirectLocation"] = redirect
    return made


def body(data: bytes, made: dict) -> bytes:
    """What is stored: the file, gzipped the same way every time (no name, no
    time in the header), so an unchanged file always has the same ETag."""
    return gzip.compress(data, compresslevel=9, mtime=0) if made.get("ContentEncoding") == "gzip" else data


# --- Where: s3://bucket/prefix ----------------------------------------------------

BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class Target:
    bucket: str
    prefix: str  # "" or "some/folder/"

    def __str__(self):
        return f"{SCHEME}{self.bucket}/{self.prefix}"


def is_object_storage(target: str) -> bool:
    return target.strip().lower().startswith("s3:")


def parse(target: str) -> Target:
    """s3://bucket or s3://bucket/prefix; a clear error for anything else."""
    example = "e.g. KIZUNA_DEPLOY_TARGET=s3://my-essays or s3://my-bucket/essays"
    if not target.startswith(SCHEME):
        raise ObjectStorageError(f"KIZUNA_DEPLOY_TARGET is {target!r}: object storage is written s3://bucket/prefix, "
                                 f"{example}")
    bucket, _, prefix = target[len(SCHEME):].partition("/")
    if not bucket:
        raise ObjectStorageError(f"KIZUNA_DEPLOY_TARGET is {target!r}, with no bucket name: {example}")
    if not BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ObjectStorageError(f"KIZUNA_DEPLOY_TARGET names the bucket {bucket!r}: a bucket's name is 3 to 63 "
                                 f"lowercase letters, digits, dots and hyphens ({example})")
    parts = [part for part in prefix.split("/") if part]
    if any(part in (".", "..") for part in parts) or re.search(r"[\s\\?#]", prefix):
        raise ObjectStorageError(f"KIZUNA_DEPLOY_TARGET's folder {prefix!r} is not a plain path: {example}")
    return Target(bucket, "".join(part + "/" for part in parts))


# --- Talking to the bucket, and saying what went wrong in words ------------------

def session():
    """A boto3 session that leaves the dates in answers as text: nothing here
    reads them, and parsing one per object is a good part of the time a
    listing of thousands takes on this side (the AWS CLI's
    --no-parse-timestamps does the same)."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
    return boto3.session.Session(botocore_session=core)


def client(made=None):
    from botocore.config import Config

    # Standard retries: a dropped connection or a throttled request is tried
    # again a few times, without the legacy mode's minute-long waits.
    config = Config(max_pool_connections=WORKERS, connect_timeout=10, read_timeout=60,
                    retries={"max_attempts": 4, "mode": "standard"})
    return (made or session()).client("s3", config=config)


def explained(error: Exception, s3, target: Target, key: str | None = None, doing: str = "reach") -> ObjectStorageError:
    """A boto3/botocore failure as the writer can act on it."""
    from botocore import exceptions

    where = f"{SCHEME}{target.bucket}/{key}" if key else f"the bucket {target.bucket}"
    endpoint = getattr(getattr(s3, "meta", None), "endpoint_url", None) or "the storage service"
    after = "" if doing == "reach" else (" Every page there is whole, the old one or the new one; "
                                         "run `invoke publish` again to finish.")
    if isinstance(error, (exceptions.NoCredentialsError, exceptions.PartialCredentialsError)):
        return ObjectStorageError(f"No credentials to publish to {target}: set AWS_ACCESS_KEY_ID and "
                                  "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile in ~/.aws/credentials).")
    if isinstance(error, (exceptions.EndpointConnectionError, exceptions.ConnectTimeoutError,
                          exceptions.ReadTimeoutError, exceptions.ConnectionClosedError)):
        return ObjectStorageError(f"Could not {doing} {where} at {endpoint}: {error}. Check the network and the "
                                  f"endpoint (AWS_ENDPOINT_URL for storage other than AWS).{after}")
    if isinstance(error, exceptions.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = error.response.get("Error", {}).get("Message", "") or code
        if code in ("NoSuchBucket", "404") and key is None or code == "NoSuchBucket":
            return ObjectStorageError(f"There is no bucket {target.bucket} at {endpoint}: create it (with website "
                                      "hosting or a CDN in front, docs/production.md), or correct "
                                      f"KIZUNA_DEPLOY_TARGET, AWS_ENDPOINT_URL or AWS_DEFAULT_REGION.{after}")
        if code in ("AccessDenied", "403", "AllAccessDisabled", "Forbidden"):
            return ObjectStorageError(f"Access denied to {where} at {endpoint}: the credentials in use "
                                      "(AWS_ACCESS_KEY_ID or AWS_PROFILE) need s3:ListBucket, s3:GetObject, "
                                      f"s3:PutObject and s3:DeleteObject on this bucket.{after}")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"):
            return ObjectStorageError(f"{endpoint} refused the credentials ({code}): check AWS_ACCESS_KEY_ID and "
                                      f"AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).{after}")
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301"):
            return ObjectStorageError(f"The bucket {target.bucket} lives in another region: set "
                                      f"AWS_DEFAULT_REGION to its region.{after}")
        return ObjectStorageError(f"Could not {doing} {where} at {endpoint}: {code}: {message}.{after}")
    return ObjectStorageError(f"Could not {doing} {where} at {endpoint}: {error}.{after}")


def problems(target: str) -> list[str]:
    """What stands between this target and a publish, checked before the
    build: the address, the credentials, and the bucket (reachable, there, ours)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        where = parse(target)
    except ObjectStorageError as error:
        return [str(error)]
    s3 = None
    try:
        made = session()
        s3 = client(made)
        if made.get_credentials() is None:  # none anywhere boto3 looks
            raise NoCredentialsError()
        s3.head_bucket(Bucket=where.bucket)
    except (BotoCoreError, ClientError) as error:
        return [str(explained(error, s3, where))]
    return []


# --- The plan: what is there, what should be ------------------------------------

@dataclass(frozen=True)
class File:
    relative: str  # its path under output/, which is its key under the prefix
    path: Path
    source: str  # sha256 of the file
    headers: dict
    tier: int

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.headers, sort_keys=True).encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def redirects(output: Path, content: Path) -> dict[str, str]:
    """{relative path of a page the build left at an old address: where it sends readers}
    (kizuna/redirects.py), for those pages only that are that small page."""
    from kizuna.redirects import moved, page

    found = {}
    for old, new in moved(content)["paths"].items():
        relative = old.strip("/") + "/index.html"
        path = output / relative
        if old.endswith("/") and ".." not in old.split("/") and path.is_file() and \
                path.read_bytes() == page(new).encode("utf-8"):
            found[relative] = new
    return found


def local_files(output: Path, content: Path, compression: str) -> dict[str, File]:
    """Every file of output/ that is published, by its relative path."""
    from kizuna.publish import is_comment_data

    moved = redirects(output, content)
    files = {}
    for folder, folders, names in os.walk(output):
        here = Path(folder).relative_to(output).as_posix()
        inside = "" if here == "." else here + "/"
        folders[:] = sorted(name for name in folders if not is_comment_data(inside + name))
        present = set(names)
        for name in sorted(names):
            relative = inside + name
            if name.endswith((".gz", ".br")) and name[:-3] in present or is_comment_data(relative):
                continue  # precompress's copy of the file beside it; comment data
            path = Path(folder) / name
            made = headers(relative, compression, moved.get(relative))
            files[relative] = File(relative, path, _sha256(path), made,
                                   REDIRECTS if relative in moved else tier(relative, made["ContentType"]))
    return files


@dataclass
class Plan:
    upload: list  # of File, with why: (File, "new" | "changed")
    unchanged: list[str]
    delete: list[str]  # relative paths
    retiring: dict[str, float] = field(default_factory=dict)  # named by content, gone from the site: since when


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else value


def plan(files: dict[str, File], manifest: dict, listed: dict[str, str], target: Target, now: float) -> Plan:
    from kizuna.publish import is_comment_data

    upload, unchanged = [], []
    for relative, file in files.items():
        noted = manifest.get(relative)
        there = listed.get(target.prefix + relative)
        if noted and there and noted["source"] == file.source and noted["headers"] == file.fingerprint \
                and noted["etag"] == there:
            unchanged.append(relative)
        else:
            upload.append((file, "changed" if there else "new"))
    gone = sorted(relative for relative in manifest if relative not in files and not is_comment_data(relative)
                  and target.prefix + relative in listed)
    retiring = {relative: manifest[relative].get("retired", now) for relative in gone if HASHED.search(relative)}
    retiring = {relative: since for relative, since in retiring.items() if now - since < RETIRE_SECONDS}
    return Plan(upload, unchanged, [relative for relative in gone if relative not in retiring], retiring)


def _current(entry: dict) -> dict:
    """A manifest entry for a file the site has (again)."""
    return {name: value for name, value in entry.items() if name != "retired"}


def _list(s3, bucket: str, prefix: str, delimiter: str = "") -> tuple[dict[str, str], list[str]]:
    listed, folders = {}, []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter=delimiter):
        listed.update({item["Key"]: _etag(item["ETag"]) for item in page.get("Contents", [])})
        folders += [common["Prefix"] for common in page.get("CommonPrefixes", [])]
    return listed, folders


def _listing(s3, target: Target) -> dict[str, str]:
    """{key: ETag} of every object under the prefix. A listing comes a
    thousand keys a page, each page after the last, so the top folder is
    listed first and each folder in it (essays/, pagefind/, tags/…) then on
    a thread of its own."""
    listed, folders = _list(s3, target.bucket, target.prefix, "/")
    with ThreadPoolExecutor(WORKERS) as pool:
        for inside, _ in pool.map(lambda folder: _list(s3, target.bucket, folder), folders):
            listed.update(inside)
    return listed


def _manifest(s3, target: Target) -> dict:
    from botocore.exceptions import ClientError

    try:
        answer = s3.get_object(Bucket=target.bucket, Key=target.prefix + MANIFEST)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return {}
        raise
    try:
        return json.loads(answer["Body"].read())["objects"]
    except (ValueError, KeyError, TypeError):
        return {}  # unreadable: everything is sent again, which is safe


def _save(s3, target: Target, noted: dict) -> None:
    text = json.dumps({"written by": "invoke publish (kizuna/object_storage.py)", "objects": noted},
                      sort_keys=True, separators=(",", ":")).encode()
    s3.put_object(Bucket=target.bucket, Key=target.prefix + MANIFEST, Body=text, ContentType="application/json",
                  CacheControl="no-store")


# --- Telling the writer how it goes ----------------------------------------------

def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000


class Progress:
    """One line updated in place on a terminal; elsewhere (a log, a pipe) a
    plain line as each tier starts and at every tenth of it."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.terminal = self.stream.isatty()
        self.lock = threading.Lock()
        self.shown = 0.0

    def start(self, name: str, total: int):
        self.name, self.total, self.done, self.sent, self.step = name, total, 0, 0, 0
        self._show(force=True)

    def advance(self, sent: int):
        with self.lock:
            self.done += 1
            self.sent += sent
            self._show()

    def finish(self):
        if self.terminal:
            self._show(force=True)
            self.stream.write("\n")
            self.stream.flush()
        elif self.step < 10:
            self._line()

    def _text(self) -> str:
        return f"{self.name}: {self.done:,}/{self.total:,} uploaded, {_size(self.sent)}"

    def _line(self):
        self.stream.write(self._text() + "\n")
        self.stream.flush()

    def _show(self, force: bool = False):
        if self.terminal:
            now = time.monotonic()
            if force or now - self.shown > 0.1:
                self.shown = now
                self.stream.write("\r\033[K" + self._text())
                self.stream.flush()
        elif force:
            self._line()
        elif self.total and self.done * 10 // self.total > self.step:
            self.step = self.done * 10 // self.total
            self._line()


# --- The publish -----------------------------------------------------------------

@dataclass
class Report:
    target: str
    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)  # relative paths, in the order they landed
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    sent: int = 0  # bytes of bodies
    kept: list[str] = field(default_factory=list)  # named by content, no longer the site's: kept a while yet
    events: list = field(default_factory=list)  # ("upload" | "delete", relative), in order
    seconds: float = 0.0

    def summary(self) -> str:
        kept = (f"; {len(self.kept):,} old files named by their content kept a day for pages still cached"
                if self.kept else "")
        if self.dry_run:
            return (f"Dry run for {self.target}: would upload {len(self.uploaded):,}, "
                    f"{self.unchanged:,} unchanged, would delete {len(self.deleted):,}{kept}; nothing was written.")
        return (f"Published to {self.target}: {len(self.uploaded):,} uploaded, {self.unchanged:,} unchanged, "
                f"{len(self.deleted):,} deleted{kept}, {_size(self.sent)} sent in {self.seconds:.1f} s.")


def _upload(s3, target: Target, file: File) -> tuple[str, int]:
    made = dict(file.headers)
    data = body(file.path.read_bytes(), made)
    digest = hashlib.md5(data)
    # The storage checks the body against this digest, so a body damaged on
    # the way is refused rather than served.
    answer = s3.put_object(Bucket=target.bucket, Key=target.prefix + file.relative, Body=data,
                           ContentMD5=base64.b64encode(digest.digest()).decode(), **made)
    # The ETag the listing will show (a single-part upload's is its body's MD5,
    # unless the bucket encrypts with its own keys).
    return _etag(answer.get("ETag")) or digest.hexdigest(), len(data)


def publish(target: str, output: Path = OUTPUT, content: Path = CONTENT, dry_run: bool = False,
            compression: str = "gzip", stream=None, now: float | None = None) -> Report:
    """Make s3://bucket/prefix hold output/ (see the module's docstring).
    `now` (time.time(), by default) is when the publish happens."""
    from botocore.exceptions import BotoCoreError, ClientError

    stream = stream or sys.stdout
    started = time.monotonic()
    where = parse(target)
    output, content = Path(output), Path(content)
    if compression not in ("gzip", "none"):
        raise ObjectStorageError(f"KIZUNA_DEPLOY_COMPRESSION is {compression!r}: it is gzip or none")
    report = Report(str(where), dry_run)
    s3 = client()
    with ThreadPoolExecutor(1) as reader:  # the bucket is read while output/ is hashed
        remote = reader.submit(lambda: (_listing(s3, where), _manifest(s3, where)))
        files = local_files(output, content, compression)
        try:
            listed, manifest = remote.result()
        except (BotoCoreError, ClientError) as error:
            raise explained(error, s3, where, doing="read") from None
    todo = plan(files, manifest, listed, where, time.time() if now is None else now)
    stream.write(f"{where}: {len(files):,} files; {len(todo.upload):,} to upload, {len(todo.unchanged):,} "
                 f"unchanged, {len(todo.delete):,} to delete\n")
    report.unchanged = len(todo.unchanged)
    report.kept = sorted(todo.retiring)
    noted = {relative: _current(manifest[relative]) for relative in todo.unchanged}
    # Entries for what is still there as before, so a stopped publish's manifest stays true.
    noted.update({file.relative: manifest[file.relative] for file, _ in todo.upload if file.relative in manifest
                  and manifest[file.relative]["etag"] == listed.get(where.prefix + file.relative)})
    noted.update({relative: manifest[relative] for relative in todo.delete})
    # What pages still held by browsers and CDNs may ask for, kept a while (RETIRE_SECONDS).
    noted.update({relative: {**manifest[relative], "retired": since} for relative, since in todo.retiring.items()})

    if dry_run:
        for file, why in sorted(todo.upload, key=lambda item: (item[0].tier, item[0].relative)):
            stream.write(f"would upload ({why}) {where.prefix}{file.relative}\n")
            report.uploaded.append(file.relative)
        for relative in todo.delete:
            stream.write(f"would delete {where.prefix}{relative}\n")
            report.deleted.append(relative)
        report.seconds = time.monotonic() - started
        stream.write(report.summary() + "\n")
        return report

    progress = Progress(stream)
    lock = threading.Lock()
    saved = dict(manifest)  # what the bucket's manifest says now

    def save():
        nonlocal saved
        if noted != saved:
            _save_or_explain(s3, where, noted)
            saved = dict(noted)

    def one(file: File):
        try:
            etag, sent = _upload(s3, where, file)
        except (BotoCoreError, ClientError) as error:
            raise explained(error, s3, where, where.prefix + file.relative, "upload") from None
        with lock:
            noted[file.relative] = {"source": file.source, "headers": file.fingerprint, "etag": etag}
            report.uploaded.append(file.relative)
            report.events.append(("upload", file.relative))
            report.sent += sent
        progress.advance(sent)

    with ThreadPoolExecutor(WORKERS) as pool:
        try:
            for number, name in enumerate(TIER_NAMES):
                batch = [file for file, _ in todo.upload if file.tier == number]
                if not batch:
                    continue
                progress.start(name, len(batch))
                done, _ = wait([pool.submit(one, file) for file in batch], return_when=FIRST_EXCEPTION)
                failed = next((future.exception() for future in done if future.exception()), None)
                if failed:
                    raise failed
                progress.finish()
                if len(batch) >= CHECKPOINT:
                    save()
        except BaseException:
            # A failed upload, or Ctrl-C: nothing more starts, what is under way
            # lands whole, and the manifest keeps what did land.
            pool.shutdown(cancel_futures=True)
            if noted != saved:
                _save_quietly(s3, where, noted)
            raise

    if todo.delete:
        stream.write(f"deleting {len(todo.delete):,} objects the site no longer has\n")
    for start in range(0, len(todo.delete), 1000):  # DeleteObjects takes up to 1,000 keys
        chunk = todo.delete[start:start + 1000]
        try:
            answer = s3.delete_objects(Bucket=where.bucket, Delete={
                "Objects": [{"Key": where.prefix + relative} for relative in chunk], "Quiet": True})
        except (BotoCoreError, ClientError) as error:
            raise explained(error, s3, where, where.prefix + chunk[0], "delete") from None
        refused = answer.get("Errors", [])
        if refused:
            first = refused[0]
            raise ObjectStorageError(f"Could not delete {SCHEME}{where.bucket}/{first.get('Key')}: "
                                     f"{first.get('Code')}: {first.get('Message')}. The new site is all there; "
                                     "run `invoke publish` again to remove what it no longer has.")
        for relative in chunk:
            noted.pop(relative, None)
            report.deleted.append(relative)
            report.events.append(("delete", relative))
    save()
    report.seconds = time.monotonic() - started
    stream.write(report.summary() + "\n")
    stream.flush()
    return report


def _save_or_explain(s3, target: Target, noted: dict) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _save(s3, target, noted)
    except (BotoCoreError, ClientError) as error:
        raise explained(error, s3, target, target.prefix + MANIFEST, "write") from None


def _save_quietly(s3, target: Target, noted: dict) -> None:
    """After a failed or stopped publish, note what did land (a second failure is not the one to tell)."""
    try:
        _save(s3, target, noted)
    except Exception:  # noqa: BLE001 - the first failure is the one the writer hears of
        pass
