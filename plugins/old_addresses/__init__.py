"""An imported blog's old addresses, for hosts without nginx: a small page
at each address the blog's posts and pages had, sending readers on to where
each lives now (kizuna/redirects.py; nginx answers 301 instead). Never over a
page of the site."""

from pelican import signals


def write_old_addresses(pelican) -> None:
    from kizuna.redirects import moved, write_pages

    write_pages(pelican.output_path, moved(pelican.settings["PATH"])["paths"])


def register():
    signals.finalized.connect(write_old_addresses)
