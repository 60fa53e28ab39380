"""Checks on content, in the writer's words: each problem is one line that
names the file (and the line in it) and says what to write instead. A build
reports every problem it finds, as one logged error, before anything is
written, so `--fatal errors` stops it and output/ stays as it was.

Errors, each a trap Pelican walks into silently or with a message about
its own internals:

* a field Kizuna does not know (`Stauts: draft` published a draft), with
  the nearest known field as a suggestion (FIELDS: what Pelican, the plugins
  in use and the theme read);
* a Status other than published, draft, hidden or skip (an empty one meant
  published);
* a Date or Modified not written year-month-day (`11/12/2026` was read as
  12 November), or not a real date;
* an empty Title, an empty Content-Note (a note with no words warns of
  nothing), an empty tag (`Tags: a, , b`) or quotes around tags
  (`Tags: "Tokyo, 1998"` made the tags `"Tokyo` and `1998"`);
* an empty or wrapped Series, or one with no letter or digit (it has no
  address), or a Series_index that is not a whole number from 1
  (pelican-series' int() stopped the build with a traceback);
* a footnote reference with no definition (`[^2]` was printed as text);
* a file in content/ that no reader takes (an essay saved as .txt was left
  out), other than images and media and anything in STATIC_PATHS;
* no Title, or no Date on an essay that is not a draft (Pelican's own
  checks, made here so they join the report instead of stopping it early);
* two essays (or pages) that would be written to one address (Pelican only
  notices while writing, and then names the output file, not the essays).

A warning: an image without alt text (a reader who cannot see it should still
be told what it shows; alt="" is for decoration, rarely found in an essay).

Cost: each Markdown file's fields are read from its first lines when Pelican
reads the file, and the footnote check looks at the HTML Pelican made; files
in Pelican's content cache are not read again, as their problems are cached
with their metadata. A file with problems is given status `skip`, so that
Pelican's own first error cannot end the build before the report.
"""

import difflib
import logging
import mimetypes
import os
import re
from datetime import datetime
from fnmatch import fnmatch
from html.parser import HTMLParser

from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator
from pelican.readers import MarkdownReader


logger = logging.getLogger(__name__)

# The fields an essay or page may have, as a writer writes them.
FIELDS = [
    # Pelican's own
    "Title", "Slug", "Date", "Modified", "Status", "Category", "Tags", "Summary", "Author", "Authors",
    "Lang", "Translation", "Template", "Save_as", "Url", "Timezone", "Date_format",
    # the theme (article.subtitle), plugins/baked_comments (Comments: off),
    # the comment thread's stable id (Thread) and plugins/content_notes
    "Subtitle", "Comments", "Thread", "Content-Note",
    # the official plugins in PLUGINS: related_posts, readtime, sitemap
    "Related_posts", "Readtime", "Private", "Changefreq", "Priority",
    # plugins/series_pages (pelican-series' names): the series, and a part's place in it
    "Series", "Series_index",
]
KNOWN = {name.lower(): name for name in FIELDS}
STATUSES = ["published", "draft", "hidden", "skip"]  # Pelican's, for essays and pages alike
ALLOWED_STATUSES = ", ".join(STATUSES[:-1]) + " or " + STATUSES[-1]
MARKDOWN_EXTENSIONS = set(MarkdownReader.file_extensions)  # md, markdown, mkd, mdown
CHECKED = "content_checks"  # the metadata key that carries a file's problems to the build's report
QUOTES = "\"'“”‘’«»„"

# Python-Markdown's meta extension, which Pelican reads fields with.
FIELD_LINE = re.compile(r"^[ ]{0,3}(?P<name>[A-Za-z0-9_-]+):\s*(?P<value>.*)")
MORE_LINE = re.compile(r"^[ ]{4,}(?P<value>.*)")
BEGIN_LINE = re.compile(r"^-{3}(\s.*)?")
END_LINE = re.compile(r"^(-{3}|\.{3})(\s.*)?")

ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?")
NUMERIC_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
DATE_FORMS = "write it year-month-day, as 2026-11-28 or 2026-11-28 09:00"

FOOTNOTE_REFERENCE = re.compile(r"\[\^([^\]\n]+)\]")
CODE = re.compile(r"<(pre|code)\b.*?</\1>", re.S)


class Build:
    """What one run of Pelican found; started again with every run (livereload
    runs many)."""

    problems: list = []  # (path, line or 0, text)
    articles = None  # the ArticlesGenerator, for the duplicate check

    @classmethod
    def start(cls, generator):
        cls.problems, cls.articles = [], generator


def shown(path: str) -> str:
    """A path as the writer would type it: from here when under here."""
    relative = os.path.relpath(path)
    return path if relative == ".." or relative.startswith("../") else relative


# --- Fields, read when Pelican reads the file ------------------------------

def read_fields(path: str) -> list[list]:
    """[name as written, line number, value] for each field at the top of a
    Markdown file, read as Python-Markdown's meta extension reads them."""
    fields = []
    with open(path, encoding="utf-8-sig") as text:
        for number, line in enumerate(text, 1):
            line = line.rstrip("\r\n").expandtabs(4)
            if number == 1 and BEGIN_LINE.match(line):
                continue
            if not line.strip() or END_LINE.match(line):
                break
            if match := FIELD_LINE.match(line):
                fields.append([match["name"], number, match["value"].strip()])
            elif (match := MORE_LINE.match(line)) and fields:
                fields[-1][2] += "\n" + match["value"].strip()
            else:
                break
    return fields


def unknown_field(name: str) -> str:
    guess = difflib.get_close_matches(name.lower(), KNOWN, n=1)
    if guess:
        return f"unknown field `{name}` — did you mean `{KNOWN[guess[0]]}`?"
    return f"unknown field `{name}`; the fields an essay may have are {', '.join(FIELDS)}"


def date_problem(name: str, value: str) -> str | None:
    if not value:
        return f"{name} is empty; {DATE_FORMS}"
    if ISO_DATE.fullmatch(value):
        try:
            datetime.fromisoformat(value)
            return None
        except ValueError:
            return f"{name} '{value}' is not a valid date: there is no such day or time"
    readings = []
    if match := NUMERIC_DATE.fullmatch(value):
        first, second, year = (int(part) for part in match.groups())
        for month, day in ((second, first), (first, second)):
            try:
                reading = datetime(year, month, day).strftime("%Y-%m-%d")
            except ValueError:
                continue
            if reading not in readings:
                readings.append(reading)
    if len(readings) > 1:
        return (f"{name} '{value}' could be {readings[0]} or {readings[1]} (year-month-day): "
                f"write the one you mean, e.g. {readings[1]} or {readings[1]} 09:00")
    if readings:
        return f"{name} '{value}' is not written year-month-day: write {readings[0]} (or {readings[0]} 09:00)"
    return f"{name} '{value}' is not a date Kizuna reads; {DATE_FORMS}"


def list_problem(name: str, value: str) -> str | None:
    """Tags and Authors are split as Pelican splits them: one a line, or on
    semicolons if there are any, else on commas."""
    if not value:
        return None  # `Tags:` with nothing after it: no tags
    items = value.split("\n") if "\n" in value else value.split(";" if ";" in value else ",")
    items = [item.strip() for item in items]
    if any(item and (item[0] in QUOTES or item[-1] in QUOTES) for item in items):
        made = [f"`{item}`" for item in items if item]
        made = ", ".join(made[:-1]) + " and " + made[-1] if len(made) > 1 else made[0]
        return (f"{name}: quotes do not group words, so `{value}` makes {made}; separate "
                f"{name.lower()} with commas, without quotes (with semicolons if one has a comma in it: "
                f"Tokyo, 1998; memory)")
    if "" in items:
        return f"{name}: an empty item between commas in `{value}`; remove the extra comma"
    return None


def series_problem(name: str, value: str) -> str | None:
    """Series: one line naming the series; Series_index: a part's number in
    it, a whole number from 1 (parts without one follow, by date)."""
    if name == "Series":
        if not value:
            return "Series is empty; name the series this essay is a part of (Series: Letters home) or remove the line"
        if "\n" in value:
            return "Series is more than one line; write the series' name on one line"
        if not any(character.isalnum() for character in value):
            return f"Series '{value}' has no letter or digit to make its address from; give it a name in words"
        return None
    if not value.isdecimal() or int(value) < 1:
        return (f"Series_index '{value}' is not a part's number; write a whole number from 1 (Series_index: 2), "
                f"or remove the line to place the part by its date")
    return None


def field_problems(fields: list[list]) -> tuple[list, set]:
    """[(line, text)] for the fields, and the known fields a suggestion named."""
    problems, suggested = [], set()
    for name, line, value in fields:
        known = KNOWN.get(name.lower())
        if known is None:
            text = unknown_field(name)
            problems.append((line, text))
            suggested.update(word.lower() for word in re.findall(r"did you mean `(\w+)`", text))
        elif known == "Status":
            status = value.lower()
            if not status:
                problems.append((line, f"Status is empty; it may be {ALLOWED_STATUSES}"))
            elif status not in STATUSES:
                guess = difflib.get_close_matches(status, STATUSES, n=1)
                hint = f" — did you mean `{guess[0]}`?" if guess else "."
                problems.append((line, f"Unknown status '{value}'{hint} Status may be {ALLOWED_STATUSES}"))
        elif known in ("Date", "Modified"):
            if text := date_problem(known, value):
                problems.append((line, text))
        elif known in ("Tags", "Authors"):
            if text := list_problem(known, value):
                problems.append((line, text))
        elif known == "Title" and not value:
            problems.append((line, "Title is empty"))
        elif known == "Content-Note" and not value:
            problems.append((line, "Content-Note is empty; name what the essay touches on "
                                   "(Content-Note: grief, self-harm) or remove the line"))
        elif known in ("Series", "Series_index"):
            if text := series_problem(known, value):
                problems.append((line, text))
    return problems, suggested


def footnote_problems(html: str, path: str) -> list:
    """[(line, text)] for each footnote reference Markdown left as text: it
    had no definition. Code is left out: `[^a-z]` there is no footnote."""
    if not html or "[^" not in html:
        return []
    labels = dict.fromkeys(FOOTNOTE_REFERENCE.findall(CODE.sub("", html)))
    if not labels:
        return []
    with open(path, encoding="utf-8-sig") as text:
        lines = text.read().splitlines()
    problems = []
    for label in labels:
        mark = f"[^{label}]"
        line = next((number for number, text in enumerate(lines, 1)
                     if mark in text and not text.lstrip().startswith(mark + ":")), 0)
        problems.append((line, f"footnote {mark} has no definition: add a line `{mark}: the note` after the "
                               f"paragraph, or fix the label"))
    return problems


def checking(read):
    """Wrap a Markdown reader's read(path) so that it also returns the file's
    problems, in the metadata, where Pelican's content cache keeps them."""

    def read_and_check(source_path):
        fields = read_fields(source_path)
        problems, suggested = field_problems(fields)
        try:
            content, metadata = read(source_path)
        except Exception:
            if not problems:
                raise  # Pelican's own message ("Could not process ...")
            content, metadata = "", {}  # the problems above explain it
        problems += footnote_problems(content, source_path)
        # Fields written (even wrongly) or suggested are not reported missing as well.
        named = suggested | {name.lower() for name, _, _ in fields}
        metadata[CHECKED] = {"path": shown(source_path), "problems": problems, "named": sorted(named)}
        return content, metadata

    read_and_check.checking = True
    return read_and_check


def check_while_reading(generator):
    """Each run's generators have readers of their own: wrap their Markdown readers."""
    if isinstance(generator, ArticlesGenerator):
        Build.start(generator)
    for extension in MARKDOWN_EXTENSIONS:
        reader = generator.readers.readers.get(extension)
        if reader is not None and not getattr(reader.read, "checking", False):
            reader.read = checking(reader.read)


def collect(generator, metadata):
    """Every file Pelican reads (or takes from its cache) passes here with its
    metadata: keep its problems for the report and skip it."""
    checked = metadata.pop(CHECKED, None)
    if checked is None:
        return  # not a Markdown file: reported as a stray file
    path, named = checked["path"], set(checked["named"])
    problems = [(path, line, text) for line, text in checked["problems"]]
    if "title" not in metadata and "title" not in named:
        problems.append((path, 0, "could not find information about 'title': add a line `Title: …` at the top"))
    is_draft = str(metadata.get("status", "")).strip().lower() == "draft"
    if isinstance(generator, ArticlesGenerator) and "date" not in metadata and "date" not in named and not is_draft:
        problems.append((path, 0, f"could not find information about 'date': add a line `Date: …` ({DATE_FORMS})"))
    if problems:
        Build.problems.extend(problems)
        metadata["status"] = "skip"  # Pelican passes over it quietly; the report tells


# --- Files and addresses, once all content is read ---------------------------

def stray_files(settings) -> list:
    """Files in the content folder that no reader takes and that are not
    published as they are (STATIC_PATHS, images and other media)."""
    root = settings["PATH"]
    static = [path.strip("/") for path in settings.get("STATIC_PATHS", [])]
    ignored = settings.get("IGNORE_FILES", [])

    def skip(relative):
        name = os.path.basename(relative)
        return (name.startswith((".", "#")) or name.endswith("~")  # hidden, or an editor's backup or lock
                or any(fnmatch(name, pattern) or fnmatch(relative, pattern) for pattern in ignored)
                or any(relative == path or relative.startswith(path + "/") for path in static))

    as_they_are = " or ".join(shown(os.path.join(root, path)) + "/" for path in static) or "STATIC_PATHS"
    found = []
    for folder, subfolders, names in os.walk(root, followlinks=True):
        relative_folder = "" if folder == root else os.path.relpath(folder, root).replace(os.sep, "/")
        subfolders[:] = sorted(name for name in subfolders if not skip(f"{relative_folder}/{name}".lstrip("/")))
        for name in sorted(names):
            relative = f"{relative_folder}/{name}".lstrip("/")
            extension = name.rpartition(".")[2].lower() if "." in name else ""
            if skip(relative) or extension in MARKDOWN_EXTENSIONS:
                continue
            kind = mimetypes.guess_type(name)[0] or ""
            if kind.split("/")[0] in ("image", "audio", "video") or kind == "application/pdf":
                continue  # media an essay may link to with {static}
            what = f".{extension} files" if extension else "files without an extension"
            found.append((shown(os.path.join(folder, name)), 0,
                          f"Kizuna does not read {what}, so this one is left out of the site: if it is an essay "
                          f"or page, rename it to {name.rpartition('.')[0] or name}.md; files to publish as they are "
                          f"belong in {as_they_are}"))
    return found


def _contents(generators):
    for generator in generators:
        if isinstance(generator, ArticlesGenerator):
            yield from generator.articles
            yield from generator.translations
            yield from generator.drafts
            yield from generator.drafts_translations
            yield from generator.hidden_articles
        elif isinstance(generator, PagesGenerator):
            yield from generator.pages
            yield from generator.translations
            yield from generator.draft_pages
            yield from generator.hidden_pages


def duplicate_addresses(contents):
    """Return {save_as: [source paths]} for every address claimed twice."""
    claims = {}
    for content in contents:
        if content.save_as:  # drafts are not written in production
            claims.setdefault(content.save_as, []).append(content.source_path)
    return {address: paths for address, paths in claims.items() if len(paths) > 1}


def address_problems(generators) -> list:
    return [
        (shown(min(paths)), 0, f"duplicate slug: {' and '.join(shown(p) for p in sorted(paths))} would both be "
                               f"written to {address} (give one of them another Slug:)")
        for address, paths in sorted(duplicate_addresses(_contents(generators)).items())
    ]


def report(pages):
    """After the last content is read and before anything is written: every
    problem of the build, one line each, as one error."""
    generators = [g for g in (Build.articles, pages) if g is not None]
    problems = sorted({*Build.problems, *stray_files(pages.settings), *address_problems(generators)})
    Build.problems = []
    if problems:
        logger.error("\n".join(f"{path}, line {line}: {text}" if line else f"{path}: {text}"
                               for path, line, text in problems))


# --- Warnings ----------------------------------------------------------------

class _ImagesWithoutAlt(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img" and not (attributes.get("alt") or "").strip():
            self.sources.append(attributes.get("src") or "(no src)")


def images_without_alt(html: str) -> list[str]:
    parser = _ImagesWithoutAlt()
    parser.feed(html)
    return parser.sources


def warn_about_missing_alt(content):
    html = getattr(content, "_content", None) or ""
    if "<img" not in html:
        return
    for source in images_without_alt(html):
        logger.warning("%s: image %s has no alt text; describe what it shows, e.g. ![A rainy street](%s)",
                       shown(content.source_path), source, source)


def register():
    signals.article_generator_init.connect(check_while_reading)
    signals.page_generator_init.connect(check_while_reading)
    signals.article_generator_context.connect(collect)
    signals.page_generator_context.connect(collect)
    signals.page_generator_finalized.connect(report)
    signals.content_object_init.connect(warn_about_missing_alt)
