"""Moving in: an existing blog's posts and pages become Kizuna essays and pages.

`invoke import wordpress EXPORT.xml` reads a WordPress export (wordpress.py),
turns each post's HTML into Markdown (html.py) and writes the files, a state
file and a report (essays.py). The state file, content/.imported/wordpress.json,
keeps for every imported item its WordPress id, old permalink, guid and
post_name beside its new slug, address and comment thread: what a later
comments import (the export's wp:comment elements) and redirects from the old
addresses need. Nothing here ever deletes a file or overwrites one the writer
has edited since it was imported.
"""
