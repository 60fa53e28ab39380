"""Read the essays on two cores: a second process reads some of them
(Markdown to HTML, and their fields) while Pelican reads the rest.

Pelican reads one file after another on one core, and reading is most of a
cold build: at 1,000 essays, about two thirds of it (docs/benchmarks.md).
When a build starts (article_generator_init) with enough essays to read, this
forks the build as its first essay is read: the copy reads its share of the
essays with the very readers Pelican would use (other plugins' wrappers, such
as content_checks', included), and sends back what each read returns, content and
metadata, in the order Pelican asks for them. Pelican then reads only the
rest itself; for the copy's share, its reader returns what came back. All
else (the content objects, signals, plugins, the content cache, writing)
stays in Pelican's own process, so nothing downstream knows the difference.

Anything unusual falls back to Pelican reading the file itself: the copy
failing on a file (Pelican then reports the error as always), the copy gone,
or a file Pelican asks for that the copy was not given. Few essays to read
(a rebuild that takes the rest from the content cache, the writing loop's
single essay) are not worth a second process and are read as always.

The copy shares the second core with Pagefind (plugins/site_search), which
runs at a lower priority and catches up while Pelican writes.
"""

import io
import logging
import os
import pickle

from pelican import signals

logger = logging.getLogger(__name__)

ENOUGH = 100  # essays to read, below which a second process is not worth starting
SHARE = 1, 2  # the copy reads every other essay (measured against 2 in 5 and 3 in 5: docs/benchmarks.md)

_planned = {}  # generator → what the copy will read, until it starts
_reading = None  # this build's Reading


class _Pickler(pickle.Pickler):
    """Sends the build's settings (which tags, categories and authors point
    to) by name: the other side puts its own settings, the same, in their place."""

    def __init__(self, file, settings):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.settings = settings

    def persistent_id(self, obj):
        return "settings" if obj is self.settings else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, settings):
        super().__init__(file)
        self.settings = settings

    def persistent_load(self, name):
        if name != "settings":
            raise pickle.UnpicklingError(f"unknown reference {name!r}")
        return self.settings


class Reading:
    def __init__(self, generator, paths: list[str]):
        """Fork; the copy reads `paths` (absolute) and leaves."""
        self.settings = generator.readers.settings
        self.readers = generator.readers.readers  # extension → reader, as Pelican will use them
        self.reads = {extension: reader.read for extension, reader in self.readers.items()}
        self.pending, self.received = set(paths), {}
        self.given, self.taken = len(paths), 0
        incoming, outgoing = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the copy
            os.close(incoming)
            self._read_for_pelican(paths, outgoing)
        os.close(outgoing)
        self.incoming = os.fdopen(incoming, "rb")
        for extension, reader in self.readers.items():
            reader.read = self._reader(extension)

    def _read_for_pelican(self, paths, outgoing) -> None:
        """In the copy: read each file as Pelican would, send the result, leave
        without running anything of the build's on exit."""
        status = 0
        try:
            with os.fdopen(outgoing, "wb") as out:
                for path in paths:
                    try:
                        message = self._pickled(path, self.reads[extension_of(path)](path))
                    except Exception:  # noqa: BLE001 (Pelican reads it again, and reports what is wrong)
                        message = self._pickled(path, None)
                    out.write(message)
                    out.flush()
        except BrokenPipeError:  # the build stopped
            status = 1
        finally:
            os._exit(status)

    def _pickled(self, path, result) -> bytes:
        """One message, whole or not at all: an error while pickling must not
        leave half a message in the pipe."""
        message = io.BytesIO()
        _Pickler(message, self.settings).dump((path, result))
        return message.getvalue()

    def _reader(self, extension):
        own = self.reads[extension]

        def read(path):
            if path in self.pending:
                result = self._take(path)
                if result is not None:
                    self.taken += 1
                    return result
            return own(path)

        return read

    def _take(self, path):
        """What the copy read for `path` (None: read it here)."""
        while path not in self.received:
            try:
                # One unpickler a message, as one pickler wrote it: their memos must agree.
                read, result = _Unpickler(self.incoming, self.settings).load()
            except Exception:  # noqa: BLE001 (gone, or garbled: Pelican reads the rest itself)
                logger.debug("The second reader stopped early; Pelican reads the rest itself")
                self.pending.clear()
                return None
            self.received[read] = result
        self.pending.discard(path)
        return self.received.pop(path)

    def finish(self) -> None:
        """Reading is over: end the copy (it is done, or is told so by its pipe
        closing) and collect its exit. The readers are this run's alone."""
        self.incoming.close()
        os.waitpid(self.pid, 0)
        logger.info("Read %d of %d essays in a second process", self.taken, self.given)


def extension_of(path: str) -> str:
    return os.path.splitext(path)[1].lstrip(".")


def start(generator) -> None:
    """A build starts: what the copy will read, if it is worth it."""
    finish(None)
    if not hasattr(os, "fork"):
        return
    # Pelican lists the files as a set, in an order of its own; read in the
    # order of their names, Pelican asks for them in the order the copy reads them.
    listed = generator.get_files
    generator.get_files = lambda *args, **kwargs: sorted(listed(*args, **kwargs))
    settings = generator.settings
    names = generator.get_files(settings["ARTICLE_PATHS"], exclude=settings["ARTICLE_EXCLUDES"])
    to_read = [os.path.abspath(os.path.join(generator.path, name)) for name in names
               if generator.get_cached_data(name, None) is None
               and extension_of(name) in generator.readers.readers]
    if len(to_read) < ENOUGH:
        return
    share, of = SHARE
    _planned[generator] = [path for number, path in enumerate(to_read) if number % of < share]


def fork(generator) -> None:
    """Just before Pelican reads its first essay (article_generator_preread),
    when every plugin has wrapped the readers as it wants (content_checks
    does, at article_generator_init): the copy then reads with them all, and
    does its share of their work too."""
    global _reading
    paths = _planned.pop(generator, None)
    if paths:
        _reading = Reading(generator, paths)


def finish(generator) -> None:
    global _reading
    _planned.clear()
    if _reading is not None:
        reading, _reading = _reading, None
        reading.finish()


def register():
    signals.article_generator_init.connect(start)
    signals.article_generator_preread.connect(fork)
    signals.article_generator_finalized.connect(finish)
