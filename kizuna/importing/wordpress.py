"""Reading a WordPress eXtended RSS export (WXR 1.1/1.2, Tools → Export) with
the standard library: one Item for each post, page and attachment, with the
fields an essay needs and the ids later steps (comments, redirects) need."""

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from kizuna.errors import KizunaError

# Exports name their namespaces by version (…/export/1.0/ to 1.2/), so names
# are matched on their local part and the namespace's last segment.
WP, CONTENT, EXCERPT, DC = "wp", "content", "excerpt", "dc"
NO_DATE = "0000-00-00 00:00:00"


class ExportError(KizunaError):
    pass


@dataclass
class Comment:
    """One wp:comment, as the export holds it."""
    comment_id: str
    parent: str  # "0" or "" for none
    author: str
    email: str
    website: str
    address: str
    date_gmt: str  # "YYYY-MM-DD HH:MM:SS" in UTC (else the blog's local time)
    content: str  # HTML, with line breaks for paragraphs (wpautop)
    approved: str  # 1, 0, spam, trash
    kind: str  # comment (or ""), pingback, trackback


@dataclass
class Item:
    post_id: str
    post_type: str  # post, page, attachment, nav_menu_item, …
    status: str  # publish, draft, pending, private, future, trash, inherit, auto-draft
    title: str
    link: str  # the old permalink
    guid: str
    post_name: str  # WordPress's slug, percent-decoded ("" for most drafts)
    date_gmt: str  # "YYYY-MM-DD HH:MM:SS" in UTC, or "" when WordPress never set it
    date_local: str  # the same in the blog's own time zone (no offset is stored)
    modified_gmt: str
    creator: str  # author login
    content: str  # HTML as WordPress stores it (line breaks, not <p>: wpautop)
    excerpt: str
    password: str
    sticky: bool
    parent: str
    categories: list = field(default_factory=list)  # display names, in the export's order
    tags: list = field(default_factory=list)
    formats: list = field(default_factory=list)  # post formats (Quote, Status…): WordPress styling only
    attachment_url: str = ""
    comments: list = field(default_factory=list)  # Comment, which kizuna/importing/comments.py brings in


@dataclass
class Export:
    title: str
    site: str  # wp:base_blog_url, against which relative addresses are read
    authors: dict  # login → display name
    items: list
    categories: dict = field(default_factory=dict)  # nicename → (name, parent's nicename or "")
    tags: dict = field(default_factory=dict)  # slug → name


def _local(tag: str) -> tuple[str, str]:
    """('wp', 'post_id') for '{https://wordpress.org/export/1.2/}post_id'."""
    if not tag.startswith("{"):
        return "", tag
    space, name = tag[1:].split("}", 1)
    for mark, prefix in (("/excerpt/", EXCERPT), ("/export/", WP), ("purl.org/rss/1.0/modules/content", CONTENT),
                         ("purl.org/dc/", DC)):  # excerpt's namespace is under export's: first
        if mark in space:
            return prefix, name
    return space, name


def _children(element) -> dict:
    found = {}
    for child in element:
        found.setdefault(_local(child.tag), child)
    return found


def _text(children: dict, prefix: str, name: str) -> str:
    element = children.get((prefix, name))
    return (element.text or "") if element is not None else ""


def read(path: Path) -> Export:
    """The export at path; an ExportError if it is not one."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise ExportError(f"There is no file {path}: give the export WordPress made (Tools → Export)") from None
    except ET.ParseError as error:
        raise ExportError(f"{path} is not a readable WordPress export ({error})") from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ExportError(f"{path} is not a WordPress export (WXR): it has no <rss><channel>")
    top = _children(channel)
    if (WP, "wxr_version") not in top:
        raise ExportError(f"{path} is an RSS feed, not a WordPress export: export with Tools → Export")
    authors = {}
    for element in channel:
        if _local(element.tag) == (WP, "author"):
            fields = _children(element)
            login = _text(fields, WP, "author_login").strip()
            authors[login] = _text(fields, WP, "author_display_name").strip() or login
    items = [_item(element) for element in channel.findall("item")]
    # The blog's category tree and tags, whose archive addresses (/category/a/b/, /tag/c/) readers may have kept.
    categories, tags = {}, {}
    for element in channel:
        fields = _children(element)
        if _local(element.tag) == (WP, "category"):
            nicename = unquote(_text(fields, WP, "category_nicename").strip())
            categories[nicename] = (html.unescape(_text(fields, WP, "cat_name").strip()),
                                    unquote(_text(fields, WP, "category_parent").strip()))
        elif _local(element.tag) == (WP, "tag"):
            tags[unquote(_text(fields, WP, "tag_slug").strip())] = html.unescape(_text(fields, WP, "tag_name").strip())
    return Export(title=_text(top, "", "title").strip(), site=_text(top, WP, "base_blog_url").strip()
                  or _text(top, "", "link").strip(), authors=authors, items=items, categories=categories, tags=tags)


def _comment(fields: dict) -> Comment:
    wp = lambda name: _text(fields, WP, name).strip()  # noqa: E731
    return Comment(comment_id=wp("comment_id"), parent=wp("comment_parent"), author=wp("comment_author"),
                   email=wp("comment_author_email"), website=wp("comment_author_url"),
                   address=wp("comment_author_IP"), date_gmt=wp("comment_date_gmt") or wp("comment_date"),
                   content=wp("comment_content"), approved=wp("comment_approved"), kind=wp("comment_type"))


def _item(element) -> Item:
    fields = _children(element)
    wp = lambda name: _text(fields, WP, name).strip()  # noqa: E731
    terms = {"category": [], "post_tag": [], "post_format": []}
    for term in element.findall("category"):
        name = html.unescape((term.text or "").strip())
        if name and term.get("domain") in terms and name not in terms[term.get("domain")]:
            terms[term.get("domain")].append(name)
    comments = [_comment(_children(child)) for child in element if _local(child.tag) == (WP, "comment")]
    gmt, modified = wp("post_date_gmt"), wp("post_modified_gmt")
    return Item(
        post_id=wp("post_id"), post_type=wp("post_type"), status=wp("status"),
        title=_text(fields, "", "title").strip(), link=_text(fields, "", "link").strip(),
        guid=_text(fields, "", "guid").strip(), post_name=unquote(wp("post_name")),
        date_gmt="" if gmt in ("", NO_DATE) else gmt, date_local="" if wp("post_date") == NO_DATE else wp("post_date"),
        modified_gmt="" if modified in ("", NO_DATE) else modified,
        creator=_text(fields, DC, "creator").strip(), content=_text(fields, CONTENT, "encoded"),
        excerpt=_text(fields, EXCERPT, "encoded"), password=wp("post_password"), sticky=wp("is_sticky") == "1",
        parent=wp("post_parent"), categories=terms["category"], tags=terms["post_tag"],
        formats=terms["post_format"], attachment_url=wp("attachment_url"), comments=comments,
    )
