"""Each essay's comments as an Atom feed, so the writer (or a reader) can
follow new comments in a feed reader: Isso's own GET /feed?uri=<thread id>,
which the essay page advertises (theme/templates/partials/feeds.html).

Isso serves it when isso.cfg's [rss] base is set, and links each comment as
base + thread id + #isso-<id>. A thread id is its essay's path on the site
(COMMENTS_THREAD_ID), so the base is the site's origin: the first of
[general] host (KIZUNA_ISSO_HOST), unless isso.cfg names another
(with_base, called before Isso is made).

As Isso 0.14 writes it, the feed breaks promises the thread keeps, so the
feed view is wrapped (as_readers_see_it, installed by isso_rules):

  * it lists every comment not waiting, also a reply whose parent still
    waits (the thread hides it) and deleted ones (an empty entry with no
    author); here it holds exactly what the thread shows, text and all;
  * its ETag and Last-Modified came from the thread's newest comment, so a
    feed reader asking "changed since?" was told no after the writer
    approved an older comment; here the ETag is the feed's own digest, and
    there is no Last-Modified;
  * a comment without a name had an empty <name>; here it is "Anonymous",
    as on the page; the feed is titled by the essay, and typed
    application/atom+xml (Isso: text/xml).

Nothing else in it comes from a reader but the comment's name and its text,
rendered and sanitised by Isso: no e-mail address, website or network address.
"""

import hashlib
from xml.etree import ElementTree as ET

from kizuna.comments.store import DELETED, PUBLIC

ATOM = "http://www.w3.org/2005/Atom"
THREADING = "http://purl.org/syndication/thread/1.0"  # RFC 4685's thr:in-reply-to, which Isso writes
CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
              "HTTP_IF_RANGE", "HTTP_RANGE")


def with_base(conf) -> None:
    """[rss] base, when isso.cfg leaves it empty: the site's origin."""
    if not (conf.get("rss", "base") or "").strip():
        hosts = [host.strip() for host in conf.getiter("general", "host") if host.strip()]
        conf.set("rss", "base", hosts[0].rstrip("/") if hosts else "")


def shown(db, uri: str) -> set[int]:
    """The ids of the comments the thread shows readers: approved, and under a
    comment shown too (approved, or a deleted one's placeholder), as
    isso_rules.VisibleCounts counts them."""
    return {row[0] for row in db.execute(
        "SELECT c.id FROM comments AS c JOIN threads ON threads.id = c.tid LEFT JOIN comments AS p ON p.id = c.parent"
        " WHERE threads.uri = ? AND c.mode = ? AND (c.parent IS NULL OR p.mode IN (?, ?))",
        (uri, PUBLIC, PUBLIC, DELETED)).fetchall()}


def _tag(name: str) -> str:
    return f"{{{ATOM}}}{name}"


def rewritten(body: bytes, keep: set[int], title: str | None) -> bytes:
    """Isso's feed with only the entries in `keep`, each with a name, titled `title`."""
    feed = ET.fromstring(body)
    for entry in feed.findall(_tag("entry")):
        number = (entry.findtext(_tag("id")) or "").rpartition("/")[2]
        if not number.isdigit() or int(number) not in keep:
            feed.remove(entry)
            continue
        name = entry.find(f"{_tag('author')}/{_tag('name')}")
        if name is not None and not (name.text or "").strip():
            name.text = "Anonymous"
    if title:
        feed.find(_tag("title")).text = f"Thoughts on “{title}”"
    updated = [entry.findtext(_tag("updated")) for entry in feed.findall(_tag("entry"))]
    if updated:
        feed.find(_tag("updated")).text = max(updated)
    # Written back as Isso writes it: Atom the default namespace, thr: for threading.
    for element in feed.iter():
        element.tag = element.tag.replace(f"{{{ATOM}}}", "").replace(f"{{{THREADING}}}", "thr:")
    feed.set("xmlns", ATOM)
    feed.set("xmlns:thr", THREADING)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def as_readers_see_it(view):
    """Isso's feed view, rewritten as above (see the module's docstring)."""
    api = view.__self__

    def feed(environ, request, **values):
        # Isso answers "not modified" by its own ETag before we could change the feed: ask it plainly.
        plain = type(request)({key: value for key, value in environ.items() if key not in CONDITIONS})
        response = view(plain.environ, plain, **values)
        if getattr(response, "status_code", None) != 200:
            return response
        uri = request.args.get("uri", "")
        thread = api.threads[uri] if uri in api.threads else None
        body = rewritten(response.get_data(), shown(api.isso.db, uri), thread and thread["title"])
        response.set_data(body)
        response.mimetype = "application/atom+xml"
        response.headers.pop("Last-Modified", None)
        response.set_etag(hashlib.sha256(body).hexdigest()[:32])
        return response.make_conditional(request)
    feed.__self__, feed.__name__ = api, "feed"
    return feed
