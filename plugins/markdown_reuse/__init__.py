"""Read every Markdown essay with one Markdown instance, not one per file.

Pelican's MarkdownReader builds a new markdown.Markdown for each file, which
loads and configures every extension again: about a fifth of a 1,000-essay
build. Python-Markdown is made to be reused with reset() between documents
(extensions such as footnotes and toc clear their state there), so this reader
keeps two instances per build: one for essays, one for formatted metadata
fields such as Summary, which must not look for metadata themselves.
"""

from markdown import Markdown
from markdown.preprocessors import Preprocessor
from pelican import signals
from pelican.readers import MarkdownReader
from pelican.utils import pelican_open


class _NoMeta(Preprocessor):
    def run(self, lines):
        return lines


class ReusingMarkdownReader(MarkdownReader):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._essay_md = Markdown(**self.settings["MARKDOWN"])
        self._field_md = Markdown(**self.settings["MARKDOWN"])

    def read(self, source_path):
        self._source_path = source_path
        self._essay_md.reset()
        with pelican_open(source_path) as text:
            content = self._essay_md.convert(text)
        meta = getattr(self._essay_md, "Meta", None)
        if not meta:
            return content, {}
        # Pelican's _parse_metadata converts fields with self._md after
        # deregistering its "meta" preprocessor; give it a stand-in to remove.
        self._md = self._field_md
        self._md.preprocessors.register(_NoMeta(self._md), "meta", 27)
        return content, self._parse_metadata(meta)


def use_reusing_reader(readers):
    for extension in MarkdownReader.file_extensions:
        readers.reader_classes[extension] = ReusingMarkdownReader


def register():
    signals.readers_init.connect(use_reusing_reader)
