"""Scheduled essays: dated in the future, an essay waits for its date, in
production builds and feeds, and the server's timer publishes it after.
Builds here run with a fixed clock (BUILD_CLOCK, as `invoke preview --at`)."""

import gzip
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import feedparser
import pytest

from kizuna import CONTENT, DEV_SETTINGS, PROD_SETTINGS, ROOT
from kizuna.build import BuildError, build, clock_settings
from kizuna.deploy import Deployment, render
from kizuna.errors import KizunaError
from kizuna.processes import free_port, stop
from support import require_tool, writer_env

SLUG = "letters-to-the-lighthouse"
DUE = "2031-03-01 09:00"
ESSAY = f"""Title: Letters to the Lighthouse
Date: {DUE}
Tags: lighthouse-keeping
Summary: An essay that waits for spring.

A sentence that must wait for its morning.
"""
BEFORE = "2031-03-01T08:59"
AFTER = "2031-03-01T09:00"


@pytest.fixture(scope="module")
def content(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scheduled") / "content"
    shutil.copytree(CONTENT, folder)
    (folder / f"{SLUG}.md").write_text(ESSAY, encoding="utf-8")
    # A published essay that links to it: the link must wait too, its words kept.
    (folder / "pointer.md").write_text(f"Title: Pointer\nDate: 2026-01-01\n\nSee [a letter to come]({{filename}}{SLUG}.md).\n",
                                       encoding="utf-8")
    return folder


def built(content: Path, where: Path, at: str, settings=PROD_SETTINGS) -> Path:
    return build(settings, where / "output", content, quiet=True, extra_settings=clock_settings(at))


def texts(site: Path):
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".xml", ".txt", ".json"}:
            yield path, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def before(content, tmp_path_factory) -> Path:
    return built(content, tmp_path_factory.mktemp("before"), BEFORE)


@pytest.fixture(scope="module")
def after(content, tmp_path_factory) -> Path:
    return built(content, tmp_path_factory.mktemp("after"), AFTER)


def test_a_production_build_before_the_date_tells_nothing_of_it(before):
    assert (before / "index.html").is_file()
    assert not (before / "essays" / SLUG).exists()
    assert not (before / "tags" / "lighthouse-keeping").exists()  # a tag only it uses: no page
    assert "<p>See a letter to come.</p>" in (before / "essays" / "pointer" / "index.html").read_text(encoding="utf-8")
    for path, text in texts(before):
        for trace in (SLUG, "Lighthouse", "must wait for its morning"):
            assert trace not in text, f"{path.relative_to(before)} tells of the scheduled essay ({trace!r})"
    # The search index: each page Pagefind knows is a gzipped fragment holding its address and words.
    fragments = [gzip.decompress(path.read_bytes()) for path in (before / "pagefind").rglob("*.pf_fragment")]
    assert fragments and all(SLUG.encode() not in f and b"must wait" not in f for f in fragments)


def test_the_sitemap_dates_no_list_by_an_essay_not_yet_due(before, after):
    from test_theme import sitemap_dates

    home = next(loc for loc in sitemap_dates(before) if loc.endswith(".org/"))
    assert not sitemap_dates(before)[home].startswith(DUE[:10])
    assert sitemap_dates(after)[home].startswith(DUE[:10])


def test_after_its_date_it_is_published_everywhere(after):
    page = (after / "essays" / SLUG / "index.html").read_text(encoding="utf-8")
    assert "A sentence that must wait for its morning." in page
    assert "Scheduled" not in page  # the writer's note is for drafts only
    pointer = (after / "essays" / "pointer" / "index.html").read_text(encoding="utf-8")
    assert f'<a href="https://kizuna.example.org/essays/{SLUG}/">a letter to come</a>' in pointer
    assert f"/essays/{SLUG}/" in (after / "index.html").read_text(encoding="utf-8")
    assert (after / "tags" / "lighthouse-keeping" / "index.html").is_file()
    assert SLUG in (after / "sitemap.xml").read_text(encoding="utf-8")
    fragments = [gzip.decompress(path.read_bytes()) for path in (after / "pagefind").rglob("*.pf_fragment")]
    assert any(f"/essays/{SLUG}/".encode() in f and b"must wait for its morning" in f for f in fragments)
    for name in ("feeds/all.atom.xml", "feeds/all.rss.xml"):
        feed = feedparser.parse((after / name).read_bytes())
        assert not feed.bozo, feed.get("bozo_exception")
        (entry,) = [e for e in feed.entries if e.link.endswith(f"/essays/{SLUG}/")]
        body = entry.content[0].value if "content" in entry else entry.description
        assert "A sentence that must wait for its morning." in body  # full text, as every entry


def test_while_writing_a_scheduled_essay_is_a_draft_that_says_when(content, tmp_path):
    site = built(content, tmp_path, BEFORE, DEV_SETTINGS)
    draft = (site / "drafts" / SLUG / "index.html").read_text(encoding="utf-8")
    assert "A sentence that must wait for its morning." in draft
    note = re.search(r'<p class="scheduled" role="note">(.*?)</p>', draft, re.S)
    assert note and "1 March 2031, 09:00" in note[1], draft[:2000]
    assert not (site / "essays" / SLUG).exists()
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Letters to the Lighthouse" not in home and f"/essays/{SLUG}/" not in home  # not listed (a link to its draft, from another essay's summary, is the writer's)
    feed = (site / "feeds" / "all.atom.xml").read_text(encoding="utf-8")
    assert "Letters to the Lighthouse" not in feed and f"/essays/{SLUG}/" not in feed


def test_a_draft_stays_a_draft_and_a_zone_is_respected(content, tmp_path):
    (content / "kept-back.md").write_text("Title: Kept Back\nDate: 2020-01-01\nStatus: draft\n\nNot yet.\n")
    (content / "zoned.md").write_text("Title: Zoned\nDate: 2031-03-01T10:00+09:00\n\nAn early riser.\n")
    try:
        site = built(content, tmp_path, "2031-03-01T01:30+00:00")  # 10:30 in Tokyo: due
        assert not (site / "essays" / "kept-back").exists()
        assert (site / "essays" / "zoned" / "index.html").is_file()
        assert not (site / "essays" / SLUG).exists()
    finally:
        (content / "kept-back.md").unlink()
        (content / "zoned.md").unlink()


def test_a_time_that_is_not_one_is_named():
    with pytest.raises(BuildError, match="--at 'next tuesday' is not a time"):
        clock_settings("next tuesday")
    assert clock_settings(None) == {}


def _page(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None


@pytest.mark.parametrize("at, shown", [(BEFORE, False), (AFTER, True)])
def test_invoke_preview_at_shows_the_site_as_it_will_be(repo_copy, browser, at, shown):
    """The real command, in the browser: the home page lists the essay only once it is due."""
    (repo_copy / "content" / f"{SLUG}.md").write_text(ESSAY, encoding="utf-8")
    port = free_port()
    here = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "invoke", "preview", "--port", str(port), "--at", at],
                               cwd=repo_copy, env=writer_env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while _page(f"{here}/") is None:  # the build runs once the server listens
            assert process.poll() is None and time.monotonic() < deadline, "invoke preview did not serve the site"
            time.sleep(0.2)
        page = browser.new_page()
        try:
            page.goto(f"{here}/")
            links = page.locator(f'a[href$="/essays/{SLUG}/"]')
            assert (links.count() > 0) is shown
            response = page.goto(f"{here}/essays/{SLUG}/")
            assert (response.status == 200) is shown
            if shown:
                assert "A sentence that must wait for its morning." in page.inner_text("article")
        finally:
            page.close()
    finally:
        stop(process)


def test_deploy_render_writes_a_timer_systemd_accepts(tmp_path):
    """kizuna-publish.timer runs kizuna-publish.service (invoke publish, on the server) on the schedule."""
    app = tmp_path / "app"
    (app / ".venv" / "bin").mkdir(parents=True)
    (app / ".venv" / "bin" / "invoke").symlink_to(Path(sys.executable).parent / "invoke")
    paths = render(Deployment(site_url="https://essays.example.org", app_dir=str(app),
                              publish_schedule="*-*-* 06:00"), tmp_path / "rendered")
    timer = (tmp_path / "rendered" / "kizuna-publish.timer").read_text()
    service = (tmp_path / "rendered" / "kizuna-publish.service").read_text()
    assert tmp_path / "rendered" / "kizuna-publish.timer" in paths
    assert re.search(r"^OnCalendar=\*-\*-\* 06:00$", timer, re.M) and "Persistent=true" in timer
    assert re.search(rf"^ExecStart={re.escape(str(app))}/\.venv/bin/invoke publish$", service, re.M)
    assert "Environment=KIZUNA_DEPLOY_TARGET=/srv/kizuna/www" in service
    assert "Environment=KIZUNA_ISSO_BAKE_URL=http://127.0.0.1:8081/" in service  # comments read on loopback
    analyze = require_tool("systemd-analyze")
    result = subprocess.run([analyze, "verify", str(tmp_path / "rendered" / "kizuna-publish.service"),
                             str(tmp_path / "rendered" / "kizuna-publish.timer")], capture_output=True, text=True)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "kizuna-publish" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_the_schedule_comes_from_its_setting_and_a_bad_one_is_named(tmp_path):
    env = writer_env(KIZUNA_SITEURL="https://essays.example.org", KIZUNA_PUBLISH_SCHEDULE="hourly")
    out = tmp_path / "rendered"
    subprocess.run([sys.executable, "-m", "invoke", "deploy.render", "--out", str(out)], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    assert "OnCalendar=hourly" in (out / "kizuna-publish.timer").read_text()
    require_tool("systemd-analyze")
    for bad in ("every full moon", "hourly\nExecStart=/bin/sh"):
        with pytest.raises(KizunaError, match="KIZUNA_PUBLISH_SCHEDULE="):
            render(Deployment(site_url="https://essays.example.org", publish_schedule=bad), tmp_path / "bad")
    result = subprocess.run([sys.executable, "-m", "invoke", "deploy.render", "--out", str(tmp_path / "again")],
                            cwd=ROOT, env={**env, "KIZUNA_PUBLISH_SCHEDULE": "whenever"}, capture_output=True,
                            text=True)
    assert result.returncode == 1 and "KIZUNA_PUBLISH_SCHEDULE='whenever'" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr

