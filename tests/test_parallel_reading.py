"""Reading on two cores (plugins/parallel_reading): a cold build of many
essays reads some of them in a second process, writes the very site a build
in one process writes, and reports a mistake in an essay the second process
read as a build in one process reports it."""

import os
import subprocess
import sys

import pytest
from pelican.settings import read_settings

from kizuna import DEV_SETTINGS, ROOT
from kizuna.build import BuildError, build, pelican_command

ESSAYS = 120  # over plugins/parallel_reading's ENOUGH


def corpus(folder):
    """Essays with what Markdown and the plugins make something of: fields,
    tags, headings, footnotes, quotes and dashes; and an About page."""
    (folder / "pages").mkdir(parents=True)
    (folder / "pages" / "about.md").write_text("Title: About\n\nWho writes here.\n", encoding="utf-8")
    for number in range(1, ESSAYS + 1):
        (folder / f"essay-{number:03d}.md").write_text(
            f"Title: Essay {number}\nDate: 2025-{1 + number % 12:02d}-{1 + number % 28:02d} 09:{number % 60:02d}\n"
            f"Tags: letters, rain {number % 7}\nSummary: The \"summary\" of essay {number}.\n\n"
            f"## A heading\n\nThe body of essay {number} -- with \"quotes\" and a note.[^1]\n\n"
            f"> A quotation, {number}...\n\n[^1]: The note of essay {number}.\n", encoding="utf-8")
    return folder


def settings(tmp_path, name: str, parallel: bool) -> dict:
    plugins = read_settings(str(DEV_SETTINGS))["PLUGINS"]
    return {"ISSO_BAKE_URL": "", "CACHE_PATH": str(tmp_path / f"cache-{name}"),  # cold: a cache of its own
            "PLUGINS": plugins if parallel else [plugin for plugin in plugins if plugin != "parallel_reading"]}


def verbose(command) -> subprocess.CompletedProcess:
    """Run a Pelican command line with its INFO messages shown: --verbose, and
    Pelican's rich log handler (its plain one passes on warnings and errors only)."""
    command = [*command[:3], "--verbose", *command[3:]]  # before --extra-settings, which takes what follows
    command[command.index("--log-handler") + 1] = "rich"
    return subprocess.run(command, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300, env={**os.environ, "COLUMNS": "250"})


def tree(folder) -> dict:
    """Every file's bytes."""
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_two_readers_write_the_site_one_reader_writes(tmp_path):
    content = corpus(tmp_path / "content")
    together = tmp_path / "together"
    command = pelican_command(DEV_SETTINGS, together, content, settings(tmp_path, "together", True))
    log = verbose(command)
    assert log.returncode == 0, log.stdout
    assert f"Read {ESSAYS // 2} of {ESSAYS // 2} essays in a second process" in log.stdout, log.stdout[-2000:]
    alone = build(DEV_SETTINGS, tmp_path / "alone", content, quiet=True,
                  extra_settings=settings(tmp_path, "alone", False))
    assert tree(together) == tree(alone)


@pytest.mark.parametrize("name", ["aaa-broken.md", "essay-001x.md"])  # read by the second reader, by Pelican
def test_a_mistake_in_any_essay_is_reported_as_always(tmp_path, name):
    content = corpus(tmp_path / "content")
    (content / name).write_text("Title: Broken\nDate: 11/12/2026\nStauts: draft\n\nA note.[^9]\n", encoding="utf-8")
    errors = {}
    for parallel in (True, False):
        with pytest.raises(BuildError) as failed:
            build(DEV_SETTINGS, tmp_path / str(parallel) / "output", content, quiet=True,
                  extra_settings=settings(tmp_path, str(parallel), parallel))
        errors[parallel] = str(failed.value).replace(str(tmp_path / str(parallel)), "")
    assert errors[True] == errors[False]
    assert name in errors[True] and "11/12/2026" in errors[True] and "Stauts" in errors[True], errors[True]
    assert "[^9]" in errors[True], errors[True]


def test_few_essays_are_read_as_always(tmp_path):
    """The writing loop's single essay, or a rebuild from the content cache: no second process."""
    content = corpus(tmp_path / "content")
    for path in sorted(content.glob("essay-*.md"))[10:]:
        path.unlink()
    command = pelican_command(DEV_SETTINGS, tmp_path / "output", content, settings(tmp_path, "few", True))
    log = verbose(command)
    assert log.returncode == 0, log.stdout
    assert "second process" not in log.stdout
    assert (tmp_path / "output" / "essays" / "essay-10" / "index.html").exists()


if sys.platform == "win32":  # os.fork: the plugin steps aside there
    pytestmark = pytest.mark.skip("no fork on Windows")
