"""The theme's CSS and JavaScript, also written under names made of their
content (kizuna/assets.py), which is what pages link to. Written once the
site is (before pelican-precompress, listed after this, compresses them)."""

from pathlib import Path

from pelican import signals


def write_named_copies(pelican) -> None:
    from kizuna.assets import write_named_copies as write

    write(Path(pelican.output_path) / pelican.settings["THEME_STATIC_DIR"])


def register():
    signals.finalized.connect(write_named_copies)
