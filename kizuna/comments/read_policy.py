"""How long a comment read (a thread, a count, a thread's feed) may be kept,
and how it is compressed: one policy for gunicorn's memory
(hardening.ThreadReads), nginx's micro-cache (deploy/read-cache.conf.j2) and
a CDN in front of it, which reads it from CDN-Cache-Control.

Every reader gets an answer at once: for FRESH_SECONDS an answer is served as
it is; for STALE_SECONDS after that it is still served, while one request
refreshes it in the background (nginx's proxy_cache_background_update, a
CDN's stale-while-revalidate). So no reader waits for Isso to render a busy
thread, and a new approved comment shows within about FRESH_SECONDS.

A browser asks for gzip (and, over HTTPS, brotli): the answer is compressed
once per refresh and kept compressed, not once per reader by nginx (which
made a browser's read cost ten plain ones).
"""

import gzip

import brotli

FRESH_SECONDS = 1
STALE_SECONDS = 60
# If Isso is down or failing, readers keep seeing the comments they saw.
STALE_IF_ERROR_SECONDS = 86_400

# What Isso says to the cache in front of it (nginx), and what nginx passes on
# as CDN-Cache-Control (RFC 9213: Cloudflare, Fastly, Akamai) to a CDN in front.
CACHE_CONTROL = (f"public, max-age={FRESH_SECONDS}, stale-while-revalidate={STALE_SECONDS}, "
                 f"stale-if-error={STALE_IF_ERROR_SECONDS}")
# What a reader's browser is told: ask every time (the cache in front answers
# at once). Browsers honour stale-while-revalidate too, so with the policy above
# a reader who reloaded to see a reply, or the writer a comment just approved,
# would be shown the copy from before, from the browser's own cache.
BROWSER_CACHE_CONTROL = "no-cache"

# Preferred first: brotli is smaller, gzip is understood by every client.
ENCODINGS = ("br", "gzip")
# Below this a compressed body is hardly smaller (an empty thread is "[]").
SMALLEST = 1024
# Quality 5: within a few percent of brotli's best for JSON, in a millisecond
# or two for a 100-comment thread (11, the best, takes a tenth of a second).
BROTLI_QUALITY = 5


def accepted(header: str | None) -> str | None:
    """The encoding to answer an Accept-Encoding header with (None: as is).
    A coding the client refuses with q=0 is not chosen."""
    offered = {}
    for part in (header or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        offered[name.strip()] = quality
    return next((coding for coding in ENCODINGS if offered.get(coding, 0) > 0), None)


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.compress(body, quality=BROTLI_QUALITY)
    return gzip.compress(body, compresslevel=6, mtime=0)


def shared(headers: list) -> list:
    """An answer's headers with the policy above in place of whatever
    Cache-Control or Expires it had."""
    return [(name, value) for name, value in headers
            if name.lower() not in ("cache-control", "expires")] + [("Cache-Control", CACHE_CONTROL)]


def cacheable(start_response):
    """start_response for an answer every reader may share (a count): its
    200 carries the policy above, for nginx and a CDN alike."""

    def start(status, headers, exc_info=None):
        return start_response(status, shared(headers) if status.startswith("200") else headers, exc_info)

    return start
