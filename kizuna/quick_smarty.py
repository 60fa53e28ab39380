"""Python-Markdown's smarty extension (real quotes, dashes and ellipses), with
the same HTML out in a fraction of the time.

smarty runs a second full inline pass (an InlineProcessor) over every text in
the page. That machinery is general and slow: for a 1,000-essay site it
doubled the whole build (Python-Markdown issue #1103, closed as wontfix).
smarty's patterns only ever substitute text, so this extension applies the
very same compiled patterns, in the same order, with the same placeholder
rules, using plain string operations:

  * like InlineProcessor, a match is replaced by a \\x02…\\x03 placeholder and
    the same pattern is searched again from the start, so lookbehinds see
    exactly what they would see under smarty;
  * the entities go through md.htmlStash exactly as smarty's own handleMatch
    stores them, so the serialised HTML is byte for byte smarty's.

tests/test_quick_smarty.py checks that equality on a generated corpus and on
the awkward cases (nested quotes, decades, dashes, code).
"""

import re
import re._parser as sre_parse  # to read where in a match its required text sits

from markdown.extensions.smarty import SmartyExtension
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

# Every smarty pattern needs one of these to match.
TRIGGERS = re.compile(r"['\"]|--|\.\.\.|<<|>>")
# How far before its required text a match, with its look-behind, can begin
# (the longest is "&#8211;" before a quote). Searching from there, rather than
# from the start of the text as InlineProcessor does, finds the same first match:
# a pattern's result at a position depends only on the characters around it.
REACH = 16
TOKEN = re.compile("\x02qs(\\d+)\x03")


def required_text(replace, substitutions: dict) -> str:
    """Text that every match of a rule contains, known from what the rule puts
    in its place: a rule writing a curly single quote matched a ', and so on.
    "" (found in any text) when the rule is not one of smarty's own."""
    needles = {
        "left-single-quote": "'", "right-single-quote": "'",
        "left-double-quote": '"', "right-double-quote": '"',
        "ndash": "--", "mdash": "---", "ellipsis": "...",
        "left-angle-quote": "<<", "right-angle-quote": ">>",
    }
    written = next((part for part in replace if isinstance(part, str)), "")
    for name, needle in needles.items():
        if written.startswith(substitutions[name]):
            return needle
    return ""


ZERO_WIDTH = {"ASSERT", "ASSERT_NOT", "AT"}


def needle_offsets(pattern: str, needle: str) -> tuple[int, ...] | None:
    """How far before the required text a match can start, when the pattern
    says so plainly: 0 when it opens with that text (after look-arounds), the
    widths of a leading group of fixed-width alternatives when the text follows
    that group. None when unsure; such rules are searched the ordinary way."""
    items = [(str(op), value) for op, value in sre_parse.parse(pattern).data]
    while items and items[0][0] in ZERO_WIDTH:
        items.pop(0)
    if items and items[0] == ("LITERAL", ord(needle[0])):
        return (0,)
    if len(items) > 1 and items[0][0] == "SUBPATTERN" and items[1] == ("LITERAL", ord(needle[0])):
        group = items[0][1][3].data
        if len(group) == 1 and str(group[0][0]) == "BRANCH":
            widths = [branch.getwidth() for branch in group[0][1][1]]
            if all(low == high for low, high in widths):
                return tuple(sorted({low for low, _ in widths}))
    return None


def first_match(pattern, text: str, start: int, needle: str, offsets):
    """The leftmost match that begins at or after start, as pattern.search
    would find it, trying only the places the required text allows."""
    if offsets is None:
        return pattern.search(text, start)
    if offsets == (0,):
        found = text.find(needle, start)
        while found >= 0:
            match = pattern.match(text, found)
            if match:
                return match
            found = text.find(needle, found + 1)
        return None
    places = set()
    found = text.find(needle, start)
    while found >= 0:
        places.update(found - offset for offset in offsets if found - offset >= start)
        found = text.find(needle, found + 1)
    for place in sorted(places):
        match = pattern.match(text, place)
        if match:
            return match
    return None


class SmartPunctuation(Treeprocessor):
    def __init__(self, md, rules):
        super().__init__(md)
        self.rules = rules  # [(pattern, replacement, required text, offsets)] in priority order

    def educate(self, text: str) -> str:
        if not TRIGGERS.search(text):
            return text
        pieces = []
        for pattern, replace, needle, offsets in self.rules:
            first = text.find(needle)
            if first < 0:
                continue  # no required text, no match: skip the regex entirely
            match = first_match(pattern, text, max(0, first - REACH), needle, offsets)
            while match:
                pieces.append("".join(
                    match.group(part) if isinstance(part, int) else self.md.htmlStash.store(part)
                    for part in replace
                ))
                text = f"{text[:match.start()]}\x02qs{len(pieces) - 1}\x03{text[match.end():]}"
                match = first_match(pattern, text, max(0, match.start() - REACH), needle, offsets)
        return TOKEN.sub(lambda token: pieces[int(token.group(1))], text) if pieces else text

    def run(self, root):
        for element in root.iter():
            if element is root:
                continue  # InlineProcessor, too, looks only at the root's descendants
            if element.text and not isinstance(element.text, AtomicString):
                element.text = self.educate(element.text)
            if element.tail and not isinstance(element.tail, AtomicString):
                element.tail = self.educate(element.tail)


class QuickSmartyExtension(SmartyExtension):
    def extendMarkdown(self, md):
        super().extendMarkdown(md)  # registers smarty's patterns and escaping rules
        smarty = md.treeprocessors["smarty"]
        rules = []
        for pattern in smarty.inlinePatterns:
            needle = required_text(pattern.replace, self.substitutions)
            offsets = needle_offsets(pattern.compiled_re.pattern, needle) if needle else None
            rules.append((pattern.compiled_re, pattern.replace, needle, offsets))
        md.treeprocessors.register(SmartPunctuation(md, rules), "smarty", 6)


def makeExtension(**kwargs):
    return QuickSmartyExtension(**kwargs)
