"""Content notes: `Content-Note: grief, self-harm` at the top of an essay
tells a reader what it touches on before they read it, so they can choose.

The theme shows the note above the essay and beside the essay in every list
(partials/content_note.html reads `content_note`, set here from the field).
Feed readers never see the theme, so each feed item's content and summary
start with the note as well; the essay's own HTML is left alone, so the
essay page does not show it twice. An empty `Content-Note:` is reported by
plugins/content_checks.
"""

from html import escape
from urllib.parse import unquote, urlsplit

from pelican import signals


FIELD = "content-note"  # Pelican lowercases field names


def note_of(content) -> str:
    """The note as written; continuation lines (a long note wrapped in the
    file) arrive from Python-Markdown's meta extension as a list."""
    value = content.metadata.get(FIELD) or ""
    if isinstance(value, (list, tuple)):
        value = " ".join(value)
    return " ".join(str(value).split())


def note_html(note: str) -> str:
    # The same words as the theme's partials/content_note.html.
    return f'<p class="content-note"><strong>Content note:</strong> {escape(note)}</p>'


def remember_note(content):
    """`content-note` is not a name a template can write after a dot."""
    content.content_note = note_of(content)


def essays_in_feeds(context):
    """What Pelican puts in feeds: published essays and their translations."""
    for essay in context.get("articles", []):
        yield essay
        yield from getattr(essay, "translations", [])


def add_notes_to_feed(context, feed):
    """Put each noted essay's note at the start of its feed item. Pelican
    keeps no reference to the essay in an item, only its absolute link
    (percent-encoded, maybe with ?ref=feed), which ends with the essay's url."""
    notes = {unquote(essay.url): essay.content_note for essay in essays_in_feeds(context)
             if getattr(essay, "content_note", "")}
    if not notes:
        return
    for item in feed.items:
        path = unquote(urlsplit(item["link"]).path)
        note = next((note for url, note in notes.items() if path.endswith("/" + url.lstrip("/"))), None)
        if note is None:
            continue
        for key in ("content", "description"):  # RSS has only a description; Atom may drop a summary equal to content
            if item.get(key) is not None:
                item[key] = note_html(note) + item[key]


def register():
    signals.content_object_init.connect(remember_note)
    signals.feed_generated.connect(add_notes_to_feed)
