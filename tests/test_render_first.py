"""The saved essay first (kizuna/render_first.py), with the real Pelican,
settings, theme and plugins: the page it writes is the page the whole-site
build then writes, byte for byte; it writes nothing else but a new image the
page needs; and on anything odd it steps aside and touches nothing."""

import shutil

from kizuna import DEV_SETTINGS, PROD_SETTINGS
from kizuna.build import build
from kizuna.render_first import LOOP_FILE, render_first
from support import tree_digest

NO_ISSO = {"ISSO_BAKE_URL": ""}  # nothing to bake: no comment server in these tests
LOOP = {**NO_ISSO, "WRITING_LOOP_FILE": LOOP_FILE}
# A valid 1x1 PNG (the build reads every image's size, and stops at a broken one).
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")


TOPICS = ["rain, letters", "letters, trains", "trains, rain", "silence"]


def essay(number: int, tags: str, extra: str = "") -> str:
    return (f"Title: Essay number {number}\nDate: 2026-0{1 + number // 28}-{1 + number % 28:02d} 09:00\n"
            f"Tags: {tags}\nSummary: The summary of essay {number}.\n\n"
            f"The body of essay {number}, about {tags}.{extra}\n")


def site(tmp_path, count: int = 12):
    """A content/ of `count` essays sharing tags (so each page has older, newer
    and related essays), an About page, and its built output/ as the loop builds it."""
    content = tmp_path / "content"
    (content / "pages").mkdir(parents=True)
    (content / "images").mkdir()
    (content / "pages" / "about.md").write_text("Title: About\n\nWho writes here.\n", encoding="utf-8")
    for number in range(1, count + 1):
        (content / f"essay-{number:02d}.md").write_text(essay(number, TOPICS[number % 4]), encoding="utf-8")
    output = build(DEV_SETTINGS, tmp_path / "output", content, quiet=True, extra_settings=LOOP)
    return content, output


def test_the_first_page_is_the_page_the_whole_build_writes(tmp_path):
    content, output = site(tmp_path)
    page = output / "essays" / "essay-number-6" / "index.html"
    assert 'rel="prev"' in page.read_text() and 'rel="next"' in page.read_text()
    assert "Related essays" in page.read_text()
    others = {path: path.read_bytes() for path in output.rglob("*") if path.is_file() and path != page}

    (content / "essay-06.md").write_text(essay(6, TOPICS[2], " A sentence added while writing."),
                                         encoding="utf-8")
    assert render_first(content / "essay-06.md", output=output, content=content,
                        extra_settings=NO_ISSO) == ["essays/essay-number-6/index.html"]
    first = page.read_bytes()
    assert b"A sentence added while writing." in first
    # Nothing else was touched: the home page, feeds and tags wait for the whole build.
    assert {path: path.read_bytes() for path in output.rglob("*") if path.is_file() and path != page} == others

    whole = build(DEV_SETTINGS, tmp_path / "whole", content, quiet=True, extra_settings=LOOP)
    assert (whole / "essays" / "essay-number-6" / "index.html").read_bytes() == first

    # A page (not an essay) too.
    (content / "pages" / "about.md").write_text("Title: About\n\nWho writes here, and why.\n", encoding="utf-8")
    assert render_first(content / "pages" / "about.md", output=output, content=content,
                        extra_settings=NO_ISSO) == ["about/index.html"]
    whole = build(DEV_SETTINGS, tmp_path / "whole-again", content, quiet=True, extra_settings=LOOP)
    assert (output / "about" / "index.html").read_bytes() == (whole / "about" / "index.html").read_bytes()


def test_an_image_added_with_the_essay_shows_at_once(tmp_path):
    content, output = site(tmp_path, count=3)
    (content / "images" / "street.png").write_bytes(PNG)
    (content / "essay-02.md").write_text(essay(2, "rain", "\n\n![A rainy street](images/street.png)"),
                                         encoding="utf-8")
    assert render_first(content / "essay-02.md", output=output, content=content, extra_settings=NO_ISSO)
    assert (output / "images" / "street.png").read_bytes() == PNG
    assert 'src="/images/street.png"' in (output / "essays" / "essay-number-2" / "index.html").read_text()


ODD = {  # file written → its text: each on its own, as any one of them makes the render step aside
    "essay-02.md": essay(2, "rain").replace("2026-01-03 09:00", "2026-13-45"),  # broken date
    "essay-03.md": essay(3, "rain", "\n\n![A street](images/nowhere.png)"),  # missing image
    # Addresses the last whole build gave to something else: another essay's page, the list of tags.
    "essay-04.md": essay(4, "rain").replace("Tags:", "Slug: essay-number-1\nTags:"),
    "pages/tags.md": "Title: Tags\n\nA page whose address is the list of tags.\n",
    "notes.txt": "not an essay",
    "images/street.png": PNG,
}


def test_it_steps_aside_and_touches_nothing_on_anything_odd(tmp_path):
    content, output = site(tmp_path, count=3)
    before = tree_digest(output)
    for name, text in ODD.items():
        changed = content / name
        kept = changed.read_bytes() if changed.exists() else None
        changed.write_bytes(text if isinstance(text, bytes) else text.encode())
        assert render_first(changed, output=output, content=content, extra_settings=NO_ISSO) == [], name
        assert tree_digest(output) == before, name
        changed.write_bytes(kept) if kept is not None else changed.unlink()
    outside = tmp_path / "elsewhere.md"
    outside.write_text(essay(9, "rain"), encoding="utf-8")
    for changed in (outside, content / "gone.md"):
        assert render_first(changed, output=output, content=content, extra_settings=NO_ISSO) == [], changed
    assert tree_digest(output) == before
    # and with all that put back, it renders again
    assert render_first(content / "essay-02.md", output=output, content=content, extra_settings=NO_ISSO)


def test_the_loops_file_is_never_published(prod_site, tmp_path):
    """The loop's file (and its build-error file) live only in a writing loop's output/."""
    assert not [path for path in prod_site.rglob(".*")], "hidden files in a production build"
    content, output = site(tmp_path, count=2)
    assert (output / LOOP_FILE).is_file()
    shutil.rmtree(output)
    production = build(PROD_SETTINGS, tmp_path / "prod", content, quiet=True, extra_settings=NO_ISSO)
    assert not (production / LOOP_FILE).exists()


def test_an_edited_plugin_is_used_from_the_next_render(tmp_path):
    """The whole-site build starts a new Pelican each time; the first render
    lives in the loop's process, so it must import an edited plugin afresh."""
    from kizuna import ROOT
    from kizuna.render_first import forget_plugins

    content, output = site(tmp_path, count=2)
    plugins = tmp_path / "plugins"
    (plugins / "stamp").mkdir(parents=True)
    stamp = plugins / "stamp" / "__init__.py"

    def plugin(version: str) -> str:
        return ("from pelican import signals\n\n\ndef stamp(content):\n"
                f"    content._content += '<p>stamped {version}</p>'\n\n\n"
                "def register():\n    signals.content_object_init.connect(stamp)\n")
    stamp.write_text(plugin("first"), encoding="utf-8")
    settings = tmp_path / "loopconf.py"
    settings.write_text(f"from pelicanconf import *  # noqa\nTHEME = {str(ROOT / 'theme')!r}\n"
                        f"PLUGIN_PATHS = [{str(ROOT / 'plugins')!r}, {str(plugins)!r}]\n"
                        "PLUGINS = PLUGINS + ['stamp']\n", encoding="utf-8")
    page = output / "essays" / "essay-number-1" / "index.html"
    try:
        assert render_first(content / "essay-01.md", settings, output, content, NO_ISSO)
        assert "stamped first" in page.read_text()
        stamp.write_text(plugin("second"), encoding="utf-8")
        forget_plugins(plugins)
        assert render_first(content / "essay-01.md", settings, output, content, NO_ISSO)
        assert "stamped second" in page.read_text() and "stamped first" not in page.read_text()
    finally:
        forget_plugins(plugins)  # no stamps on the pages of later tests in this process
