"""Scheduled essays: an essay dated in the future waits for its date.

Until then it is a draft in every build, so nothing tells of it: no page at
its address, no entry in a list, a feed, a tag, a series, the search index,
the sitemap or another essay's neighbours. While writing, it is built where
drafts are (/drafts/<slug>/), with a note saying when it will appear; a
production build does not write drafts at all. After its date, the next build
publishes it, which is what the server's timer is for (`invoke deploy.render`
writes kizuna-publish.timer: it runs `invoke publish` on a schedule).

This is Pelican's own WITH_FUTURE_DATES = False, with one difference: "now"
is the build's clock, BUILD_CLOCK (an ISO 8601 time; None means the real
time), so `invoke preview --at "2026-12-24 08:00"` shows the site as it will
be then, and tests build with a fixed clock. Pelican's own check stays off
(WITH_FUTURE_DATES True), as it reads the real time only.

Only essays that would be published are held back: a `Status: draft` stays
a draft, and a `Status: hidden` essay (linked, never listed) is left alone.
Pages have no date that means "not before".
"""

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from pelican import signals


logger = logging.getLogger(__name__)

SCHEDULED = "scheduled"  # metadata key: the essay waits for its date (templates read article.scheduled)


def clock(settings) -> datetime:
    """The build's "now", aware."""
    value = settings.get("BUILD_CLOCK")
    if not value:
        return datetime.now(timezone.utc)
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(settings.get("TIMEZONE") or "UTC"))


def hold_until_due(generator, metadata):
    date = metadata.get("date")
    if not isinstance(date, datetime) or metadata.get("status", "published") != "published":
        return
    if date.tzinfo is None:  # as Pelican reads it: in the site's timezone
        date = date.replace(tzinfo=ZoneInfo(generator.settings.get("TIMEZONE") or "UTC"))
    if date > generator.scheduled_clock:
        metadata["status"] = "draft"
        metadata[SCHEDULED] = True
        generator.scheduled_count += 1
        if generator.scheduled_next is None or date < generator.scheduled_next:
            generator.scheduled_next = date


def start_clock(generator):
    """One clock for the whole build, read before the first essay."""
    generator.scheduled_clock = clock(generator.settings)
    generator.scheduled_count = 0
    generator.scheduled_next = None


def report(generator):
    if generator.scheduled_count:
        logger.info("%d essay%s scheduled; the next appears %s (a build after then publishes it)",
                    generator.scheduled_count, "" if generator.scheduled_count == 1 else "s",
                    generator.scheduled_next.isoformat(timespec="minutes"))


def register():
    signals.article_generator_init.connect(start_clock)
    signals.article_generator_context.connect(hold_until_due)
    signals.article_generator_finalized.connect(report)
