"""Development settings. publishconf.py imports these and overrides only what
production changes; everything a writer might want to tune lives here."""

import os
import sys

# Plugins and the kizuna package are imported by path, not installed.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kizuna.assets import hashed, svg_data_uri  # noqa: E402
from kizuna.settings import site_value  # noqa: E402  (the settings table: names, defaults)
from kizuna.comments import retention  # noqa: E402  (the privacy page's durations, in words)

AUTHOR = site_value("KIZUNA_AUTHOR")
SITENAME = site_value("KIZUNA_SITENAME")
SITESUBTITLE = "Reflective essays, and a quiet place to answer them"
SITEURL = ""  # relative URLs while writing; publishconf.py sets the real one
RELATIVE_URLS = False

PATH = "content"
THEME = "theme"
TIMEZONE = "UTC"
DEFAULT_LANG = site_value("KIZUNA_LANG")
DEFAULT_DATE_FORMAT = "%-d %B %Y"
DEFAULT_CATEGORY = "Essays"

# Essays live at /essays/<slug>/; a writer can rename a file without breaking
# links because the slug comes from the title or the Slug: field. Slugs keep
# the title's own script (絆 stays 絆, not "ban"), as Hugo's do: a
# transliteration reads well only for Latin letters.
SLUGIFY_USE_UNICODE = True
ARTICLE_URL = "essays/{slug}/"
ARTICLE_SAVE_AS = "essays/{slug}/index.html"
DRAFT_URL = "drafts/{slug}/"
DRAFT_SAVE_AS = "drafts/{slug}/index.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
PAGE_PATHS = ["pages"]
ARTICLE_EXCLUDES = ["pages", "extra", "images"]
# Essays and pages are Markdown. Pelican's other readers stay off, so that an
# .html or .rst file in content/ is named by plugins/content_checks (as a
# .txt file is) rather than published without its checks.
READERS = {"html": None, "htm": None, "rst": None}
CATEGORY_URL = "categories/{slug}/"
CATEGORY_SAVE_AS = "categories/{slug}/index.html"
CATEGORIES_URL = "categories/"
CATEGORIES_SAVE_AS = "categories/index.html"
TAG_URL = "tags/{slug}/"
TAG_SAVE_AS = "tags/{slug}/index.html"
TAGS_URL = "tags/"
TAGS_SAVE_AS = "tags/index.html"
AUTHOR_URL = "authors/{slug}/"
AUTHOR_SAVE_AS = "authors/{slug}/index.html"
AUTHORS_URL = "authors/"
AUTHORS_SAVE_AS = "authors/index.html"
ARCHIVES_URL = "archives/"
ARCHIVES_SAVE_AS = "archives/index.html"
YEAR_ARCHIVE_URL = "archives/{date:%Y}/"
YEAR_ARCHIVE_SAVE_AS = "archives/{date:%Y}/index.html"
# Essays in parts (`Series:`, plugins/series_pages): each series' page and
# feed, and the list of every series.
SERIES_URL = "series/{slug}/"
SERIES_SAVE_AS = "series/{slug}/index.html"
SERIES_FEED_ATOM = "feeds/series/{slug}.atom.xml"
SERIES_INDEX_URL = "series/"
SERIES_INDEX_SAVE_AS = "series/index.html"
# Pages rendered from templates alone; 404 is written as 404.html.
DIRECT_TEMPLATES = ["index", "archives", "tags", "categories", "authors", "404", "privacy", "search"]
# The privacy page (theme/templates/privacy.html), linked from every footer and
# from the comment form, says what the comment server keeps and for how long,
# from the settings the server reads (the environment, else the table's
# defaults): change one on the server, and set it for `invoke publish` too.
PRIVACY_URL = "privacy/"
PRIVACY_SAVE_AS = "privacy/index.html"
PRIVACY = {
    "addresses_kept": retention.in_words(retention.days_kept(site_value("KIZUNA_ISSO_RETENTION_DAYS")) * 86400),
    "edit_window": retention.in_words(retention.duration(site_value("KIZUNA_ISSO_EDIT_WINDOW"))),
    "reply_notices": retention.is_on(site_value("KIZUNA_ISSO_REPLY_NOTIFICATIONS")),
    "sender_hash_kept": retention.in_words(retention.sender_hash_kept()),
    "waiting_kept": retention.in_words(retention.waiting_kept()),  # Isso's purge-after (comments/isso.cfg)
}
# The search page (theme/templates/search.html, theme/static/js/search.js): it
# searches the index plugins/site_search writes, in the reader's browser.
SEARCH_URL = "search/"
SEARCH_SAVE_AS = "search/index.html"

DEFAULT_PAGINATION = 10
PAGINATED_TEMPLATES = {"index": None, "tag": None, "category": None, "author": None}
PAGINATION_PATTERNS = (
    (1, "{url}", "{save_as}"),
    (2, "{base_name}/page/{number}/", "{base_name}/page/{number}/index.html"),
)

# Feeds carry the whole essay: readers of feeds are readers too.
FEED_DOMAIN = "http://127.0.0.1:8000"  # feeds need absolute links, even while writing
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
RSS_FEED_SUMMARY_ONLY = False
FEED_MAX_ITEMS = 20
# A feed for every way in: each tag, category and series (plugins/series_pages)
# has one, advertised on its page (theme/templates/partials/feeds.html). Atom
# only: every feed reader takes it, and a second format would double the cost.
TAG_FEED_ATOM = "feeds/tags/{slug}.atom.xml"
CATEGORY_FEED_ATOM = "feeds/categories/{slug}.atom.xml"
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None

MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},  # footnotes, attr_list, md_in_html, tables
        "markdown.extensions.toc": {"permalink": "#", "permalink_title": "Link to this section"},
        # Real quotes, dashes and ellipses: smarty, run by a faster equivalent.
        "kizuna.quick_smarty": {},
    },
    "output_format": "html5",
}
# No codehilite: essays seldom hold code, and Pygments' spans and stylesheet
# would weigh on every page; fenced code still renders as <pre><code>.
TYPOGRIFY = False  # smarty already does quotes and dashes

STATIC_PATHS = ["images", "extra"]
FAVICON_DATA_URI = svg_data_uri(os.path.join(PATH, "extra", "favicon.svg"))
JINJA_FILTERS = {"hashed": hashed}  # content-hashed names for theme assets
# Pelican's Jinja defaults, but templates are not checked for changes on each
# use: a page includes a dozen partials, and each check was a stat() of its
# file, 30,000 for 1,000 essays. Each build loads them afresh anyway.
JINJA_ENVIRONMENT = {"trim_blocks": True, "lstrip_blocks": True, "extensions": [], "auto_reload": False}
EXTRA_PATH_METADATA = {
    "extra/robots.txt": {"path": "robots.txt"},
    "extra/favicon.svg": {"path": "favicon.svg"},
}

# Comments: readers' browsers talk to ISSO_URL; the build reads approved
# comments from ISSO_BAKE_URL and bakes them into the pages (plugins/baked_comments).
ISSO_URL = site_value("KIZUNA_DEV_ISSO_URL")  # invoke serve passes the Isso it runs
ISSO_BAKE_URL = ISSO_URL
COMMENTS_THREAD_ID = "/essays/{slug}/"  # stable even if ARTICLE_URL changes
# Seconds per request to Isso while baking: it renders every comment's
# Markdown on each read, and a thread of 10,000 comments takes a while.
COMMENTS_BAKE_TIMEOUT = 60
# A build without its comments only warns; `invoke publish` sets this (as a
# Pelican setting) so that it fails instead, naming the URL and why.
COMMENTS_BAKE_REQUIRED = False
# Isso's widget options, as in the Flex theme: each name → value is written as
# data-isso-<name>="<value>" (True/False as true/false) on the comments, and
# kizuna.js hands them all to the widget. Names are Isso's client settings
# (https://isso-comments.de/docs/reference/client-config/). Its language is
# each essay's own (Lang:, else DEFAULT_LANG) unless "lang" is set here.
ISSO_OPTIONS = {
    "css": False,  # styled by theme/static/css/comments.css, in both themes
    "vote": False,  # a place to answer, not to score
    "avatar": False,
    "gravatar": False,
    "max-comments-nested": "inf",  # every reply shown: the comment server answers whole threads
    # Gentler words than Isso's defaults (English); anonymity is the default, not a gap.
    "postbox-text-text-en": "Your thoughts (at least 3 characters)",
    "postbox-author-text-en": "Name (optional, leave empty to stay anonymous)",
    "postbox-author-placeholder-text-en": "Anonymous",
    "postbox-email-text-en": "E-mail (optional, never shown)",
    "postbox-email-placeholder-text-en": "only for reply notices",
    "postbox-website-placeholder-text-en": "https://",
    "postbox-submit-text-en": "Send",
    "postbox-notification-text-en": "E-mail me when someone replies",
    "atom-feed-text-en": "Follow these thoughts by feed",  # the comment server's feed of this essay's (Atom)
    # Said under a comment just sent, and (kizuna.js) under it at every later visit until the writer decides.
    "comment-queued-text-en": "Waiting for the writer to read it. Until then only you can see it, in this browser.",
}

# Official pelican-plugins, listed explicitly (PLUGINS=None would load every
# installed one), then our own from plugins/.
PLUGIN_PATHS = ["plugins"]
PLUGINS = [
    "pelican.plugins.neighbors",
    "pelican.plugins.related_posts",
    "pelican.plugins.readtime",
    "pelican.plugins.sitemap",
    "sitemap_dates",  # the sitemap's lists dated by their newest essay, not the build's clock
    "theme_assets",  # the theme's CSS and JS also under names made of their content, which pages link to
    "markdown_reuse",
    "parallel_reading",  # a cold build reads its essays on two cores
    "essay_images",  # relative image paths resolve on every page, in feeds too; a missing one fails
    "responsive_images",  # (after essay_images) sizes, smaller copies in AVIF/WebP, lazy loading, captions
    "content_checks",
    "content_notes",  # Content-Note: shown before the essay, in lists and at the start of feed items
    "series_pages",  # Series: essays in parts, each series with its page and feed (pelican-series' order)
    "private_drafts",
    "scheduled_essays",  # an essay dated in the future waits for its date (BUILD_CLOCK below)
    "baked_comments",
    "old_addresses",  # an imported blog's old addresses send readers on (hosts without nginx)
    "site_search",  # every published essay and page in a Pagefind index, built beside the pages
    "writing_loop",  # only with WRITING_LOOP_FILE: what kizuna/render_first.py needs
]
RELATED_POSTS_MAX = 3
SITEMAP = {
    "format": "xml",
    "priorities": {"articles": 0.8, "indexes": 0.5, "pages": 0.5},
    "changefreqs": {"articles": "monthly", "indexes": "daily", "pages": "monthly"},
    "exclude": ["^" + SEARCH_URL],  # a page of results, not of the site's own (it says noindex too)
}

# Reading and parsing 1,000 essays is most of a build: keep the parsed result.
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CACHE_PATH = "cache/pelican"  # invoke build uses a folder per settings fingerprint
GZIP_CACHE = False  # the cache is local and small; skip the compression cost

# Scheduled essays (plugins/scheduled_essays): an essay dated after the build's
# clock is a draft until a build after its date. None is the real time;
# `invoke preview --at TIME` sets it, to see the site as it will be then.
BUILD_CLOCK = None

SUMMARY_MAX_LENGTH = 60
DISPLAY_PAGES_ON_MENU = True
DISPLAY_CATEGORIES_ON_MENU = False
