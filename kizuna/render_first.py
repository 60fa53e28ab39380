"""The saved essay first: while writing, the page of the file just saved is
rendered on its own, in this process, and put into output/ before the
whole-site build starts.

A warm build of 1,000 essays takes over a second, most of it rendering 1,600
pages the writer is not looking at (docs/benchmarks.md has the profile).
Rendering one essay through the same Pelican, settings, theme and plugins,
with every other output switched off, takes a small fraction of that and does
not grow with the archive. What it cannot know (the essays before and after
it, related essays, the home page and feeds) the whole-site build brings a
moment later.

Anything unusual (an error, a file that is not an essay or page, a settings
file that no longer loads) makes it step aside: it returns nothing and the
whole-site build, which reports errors properly, runs as always.
"""

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import weakref
from pathlib import Path

from kizuna import CONTENT, DEV_SETTINGS, OUTPUT

# What a build of one essay would write besides that essay's page: all off.
# (Pelican skips an output whose *_SAVE_AS is empty and a feed set to None.)
ONLY_ITS_PAGE = {
    "DIRECT_TEMPLATES": [],
    "PAGINATED_TEMPLATES": {},
    **{name: "" for name in ("TAG_SAVE_AS", "TAGS_SAVE_AS", "CATEGORY_SAVE_AS", "CATEGORIES_SAVE_AS",
                             "AUTHOR_SAVE_AS", "AUTHORS_SAVE_AS", "ARCHIVES_SAVE_AS", "YEAR_ARCHIVE_SAVE_AS",
                             "MONTH_ARCHIVE_SAVE_AS", "DAY_ARCHIVE_SAVE_AS")},
    "STATIC_CREATE_LINKS": True,  # static files are linked, not copied, into the scratch folder
    "CACHE_CONTENT": False,  # the whole-site build owns the content cache
    "LOAD_CONTENT_CACHE": False,
    "DELETE_OUTPUT_DIRECTORY": False,
}
# Write nothing on the essay's page; the search index is the whole build's to refresh.
WHOLE_SITE_PLUGINS = {"pelican.plugins.sitemap", "site_search"}
# In output/, written by the whole-site build when asked (plugins/writing_loop).
LOOP_FILE = ".kizuna-writing-loop.json"


class _Errors(logging.Handler):
    """Pelican's errors during the render (which the whole-site build will report)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen = []

    def emit(self, record):
        self.seen.append(record)


def kind_of(path: Path, content: Path, settings: dict) -> str | None:
    """"article" or "page" for a Markdown file Pelican would read as one, else None."""
    try:
        relative = path.resolve().relative_to(content.resolve()).as_posix()
    except ValueError:
        return None
    if path.suffix.lstrip(".").lower() not in {"md", "markdown", "mkd", "mdown"} or not path.is_file():
        return None
    parts = relative.split("/")
    if any(part.startswith(".") for part in parts):
        return None

    def under(folders):
        return any(folder in ("", ".") or relative == folder.strip("/") or relative.startswith(folder.strip("/") + "/")
                   for folder in folders)
    if under(settings.get("STATIC_PATHS", [])):
        return None
    if under(settings.get("PAGE_PATHS", [])):
        return "page"
    if under(settings.get("ARTICLE_PATHS", [""])):
        return "article"
    return None


def last_whole_build(output: Path) -> dict:
    """What the last whole-site build told the loop (plugins/writing_loop): {} if nothing."""
    try:
        told = json.loads((output / LOOP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return told if isinstance(told, dict) else {}


def neighbours(relative: str, told: dict, content: Path) -> list[str]:
    """The essays the last whole-site build showed on this essay's page (older,
    newer, related): read along with it, its page shows them too."""
    known = (told.get("neighbours") or {}).get(relative) or []
    return [path for path in known if isinstance(path, str) and (content / path).is_file()]


def someone_elses(written: list[Path], scratch: str, relative: str, told: dict, output: Path) -> bool:
    """Whether a page would go where the last whole build put something else (say,
    another essay's page, for a Slug: copied from it): that is for the whole build
    to refuse, naming both files."""
    addresses = told.get("addresses") or {}
    for path in written:
        address = path.relative_to(scratch).as_posix()
        owner = addresses.get(address)
        if (owner is None and (output / address).exists()) or (owner is not None and owner != relative):
            return True
    return False


def forget_plugins(folder: Path) -> None:
    """After a plugin file changes: import the plugins afresh on the next render
    (the whole-site build, a new process each time, always does), and take
    their old handlers off Pelican's signals."""
    from blinker import Signal
    from pelican.plugins import signals

    folder = Path(folder).resolve()
    forgotten = {name for name, module in list(sys.modules.items())
                 if getattr(module, "__file__", None) and Path(module.__file__).resolve().is_relative_to(folder)}
    for name in forgotten:
        del sys.modules[name]
    for signal in vars(signals).values():
        if isinstance(signal, Signal):
            for held in list(signal.receivers.values()):
                receiver = held() if isinstance(held, weakref.ref) else held
                if receiver is not None and getattr(receiver, "__module__", None) in forgotten:
                    signal.disconnect(receiver)


def _write_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.first")
    temporary.write_bytes(source.read_bytes())
    os.replace(temporary, target)  # the browser never reads half a page


def render_first(changed: Path, settings: Path = DEV_SETTINGS, output: Path = OUTPUT, content: Path = CONTENT,
                 extra_settings: dict | None = None) -> list[str]:
    """Render the essay or page at `changed` alone into `output`; return the
    output paths written (relative), or [] when it stepped aside."""
    import pelican
    from pelican import signals
    from pelican.settings import read_settings

    changed, content = Path(changed), Path(content)
    errors = _Errors()
    root = logging.getLogger()
    root.addHandler(errors)  # also keeps Pelican's own messages off the terminal: the whole build says them
    written: list[Path] = []
    static = []  # the static generator, whose files are read once the render is done (plugins add image copies)

    def record(path, context=None):
        shown = (context or {}).get("article") or (context or {}).get("page")
        if shown is not None and Path(shown.source_path).resolve() == changed.resolve():
            written.append(Path(path))

    def record_static(generator):
        static.append(generator)

    try:
        # Beside output/, so that static files can be hard links (no copying of every image).
        with contextlib.redirect_stdout(io.StringIO()), \
                tempfile.TemporaryDirectory(prefix=".first-", dir=Path(output).parent) as scratch:
            values = read_settings(str(settings), override={"PATH": str(content.resolve()), **(extra_settings or {})})
            kind = kind_of(changed, content, values)
            if kind is None:
                return []
            relative = changed.resolve().relative_to(content.resolve()).as_posix()
            told = last_whole_build(Path(output))
            values.update(ONLY_ITS_PAGE, OUTPUT_PATH=scratch,
                          ARTICLE_PATHS=[relative, *neighbours(relative, told, content)]
                          if kind == "article" else [],
                          PLUGINS=[name for name in values.get("PLUGINS") or [] if name not in WHOLE_SITE_PLUGINS])
            signals.content_written.connect(record)
            signals.static_generator_finalized.connect(record_static)
            try:
                pelican.Pelican(values).run()
            finally:
                signals.content_written.disconnect(record)
                signals.static_generator_finalized.disconnect(record_static)
            if errors.seen or not written or someone_elses(written, scratch, relative, told, Path(output)):
                return []
            # Files the whole-site build has not copied yet (an image just added), then the page.
            names = [file.save_as for generator in static for file in generator.staticfiles]
            new = [Path(scratch) / name for name in names
                   if (Path(scratch) / name).is_file() and not (Path(output) / name).exists()]
            for path in [*new, *written]:
                _write_atomically(path, Path(output) / path.relative_to(scratch))
            return [path.relative_to(scratch).as_posix() for path in written]
    except Exception:  # noqa: BLE001 (stepping aside: the whole-site build reports what went wrong)
        return []
    finally:
        root.removeHandler(errors)
