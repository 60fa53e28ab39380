"""Production settings: pelicanconf.py plus only what a real site changes.

The site's address, the comment server's, and where approved comments are
read from come from the environment, with the defaults in kizuna/settings.py
(the README's "Settings" table).
"""

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: E402,F401,F403
from pelicanconf import PLUGINS  # noqa: E402
from kizuna.settings import site_value  # noqa: E402

SITEURL = site_value("KIZUNA_SITEURL", production=True).rstrip("/")
ISSO_URL = site_value("KIZUNA_ISSO_URL", production=True)
ISSO_BAKE_URL = site_value("KIZUNA_ISSO_BAKE_URL", production=True)
RELATIVE_URLS = False
FEED_DOMAIN = SITEURL

# Drafts are for the writer's eyes only: never written in production.
DRAFT_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""

# Every production build starts clean, so nothing stale is shipped.
DELETE_OUTPUT_DIRECTORY = True
LOAD_CONTENT_CACHE = False

# nginx serves these .gz/.br copies as they are (gzip_static, brotli_static).
PLUGINS = PLUGINS + ["pelican.plugins.precompress"]
PRECOMPRESS_GZIP = True
PRECOMPRESS_BROTLI = True
PRECOMPRESS_ZOPFLI = False
PRECOMPRESS_ZSTANDARD = False
PRECOMPRESS_MIN_SIZE = 512
