"""Production settings: pelicanconf.py plus only what a real site changes.

Set these in the environment before `invoke publish` (see README):
  KIZUNA_SITEURL       public address of the site, e.g. https://essays.example.org
  KIZUNA_SITENAME      site title (default "Kizuna")
  KIZUNA_AUTHOR        default author (default "K.A.L.T")
  KIZUNA_ISSO_URL      public address of the Isso server (default SITEURL + /isso/)
  KIZUNA_ISSO_BAKE_URL where the build reads approved comments (default ISSO_URL);
                       `invoke publish` fails if they cannot be read there
"""

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: E402,F401,F403
from pelicanconf import PLUGINS  # noqa: E402

SITEURL = os.environ.get("KIZUNA_SITEURL", "https://kizuna.example.org").rstrip("/")
ISSO_URL = os.environ.get("KIZUNA_ISSO_URL", SITEURL + "/isso/")
ISSO_BAKE_URL = os.environ.get("KIZUNA_ISSO_BAKE_URL", ISSO_URL)
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
