"""`invoke livereload` as a writer uses it, in a real browser: every save
shows, however close together (observed before: two saves 1.5-2.5 s apart
left the browser on the first one for good, python-livereload's 3-second
window), the saved essay shows first, before the whole-site build, a save
during that build stops it and wins, a broken essay shows its error over the
last good page, and the terminal says what was rebuilt and how long it took."""

import contextlib
import subprocess
import sys
import time

from kizuna.processes import free_port, stop, wait_until_listening

ESSAY = "content/unresolved-desire-to-connect.md"
ESSAY_URL = "/essays/unresolved-desire-to-connect/"
SENTENCE = "Humans are known to be social animals"


@contextlib.contextmanager
def writing_loop(repo_copy, browser, tmp_path):
    """`invoke livereload` in repo_copy, and a browser page on the seed essay.
    Yields (page, said): said() is what the terminal has said so far."""
    port, comments_port = free_port(), free_port()
    while comments_port == port:
        comments_port = free_port()
    log_path = tmp_path / "livereload.log"
    log = log_path.open("w")
    loop = subprocess.Popen([sys.executable, "-m", "invoke", "livereload", "--port", str(port),
                             "--comments-port", str(comments_port)], cwd=repo_copy, stdout=log,
                            stderr=subprocess.STDOUT)

    def said() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")

    context = browser.new_context()
    try:
        wait_until_listening(port, loop, seconds=120)
        wait_for(said, "Watching ", 1)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"http://127.0.0.1:{port}{ESSAY_URL}")
        page.wait_for_function("() => window.LiveReload && LiveReload.connector._isSocketConnected()")
        time.sleep(0.5)  # the handshake after the socket opens
        yield page, said
    finally:
        # What it said while it worked; stopping it (SIGTERM, raised as KeyboardInterrupt wherever
        # Python happens to be) may print an "Exception ignored" from a weakref callback, not a fault.
        working = said()
        context.close()
        stop(loop)
        log.close()
    assert "Traceback" not in working, working[-3000:]


def wait_for(said, words: str, count: int, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while said().count(words) < count:
        assert time.monotonic() < deadline, f"never said {words!r} {count} times:\n{said()[-3000:]}"
        time.sleep(0.02)
    return said()


def test_every_save_shows_and_a_broken_build_says_why(repo_copy, browser, tmp_path):
    essay = repo_copy / ESSAY
    original = essay.read_text(encoding="utf-8")
    with writing_loop(repo_copy, browser, tmp_path) as (page, said):
        for n in range(1, 4):  # saves 1.5 s apart: each one must reach the page
            essay.write_text(original.replace(SENTENCE, f"Save number {n}: {SENTENCE}"), encoding="utf-8")
            page.wait_for_function("n => document.body.innerText.includes(`Save number ${n}:`)", arg=n)
            time.sleep(1.5)

        essay.write_text(original.replace("Date: 2026-11-28 09:00", "Date: 2026-13-45"), encoding="utf-8")
        shown = page.locator("#kizuna-build-error")
        shown.wait_for()
        assert "unresolved-desire-to-connect.md" in shown.inner_text() and "2026-13-45" in shown.inner_text()
        assert "Save number 3:" in page.locator("main").inner_text()  # the last good page, under the error

        essay.write_text(original, encoding="utf-8")
        page.wait_for_function("() => !document.getElementById('kizuna-build-error')"
                               " && !document.body.innerText.includes('Save number')")
        deadline = time.monotonic() + 60
        while "Rebuilt after" not in said().rsplit("Showed essays/", 1)[-1]:  # the last save's whole build
            assert time.monotonic() < deadline, said()[-3000:]
            time.sleep(0.02)
        log = said()
    # Each save: the essay first, then the whole site (or a note that a newer save stopped it).
    assert log.count("Showed essays/unresolved-desire-to-connect/index.html") >= 4, log[-2000:]
    for save in log.split("Showed essays/")[1:]:
        assert save.index("rebuilding the whole site") < save.find("Rebuilt after") or "Stopped" in save, save
    assert "Build failed after" in log and " s)" in log, log[-2000:]


def test_a_save_during_the_whole_site_build_stops_it_and_wins(repo_copy, browser, tmp_path):
    """With 300 essays the whole-site build takes long enough to save again during it."""
    for number in range(300):
        (repo_copy / "content" / f"filler-{number:03d}.md").write_text(
            f"Title: Filler {number}\nDate: 2020-01-01 {number // 60:02d}:{number % 60:02d}\nTags: filler\n\n"
            f"Words for essay {number}.\n", encoding="utf-8")
    essay = repo_copy / ESSAY
    original = essay.read_text(encoding="utf-8")
    with writing_loop(repo_copy, browser, tmp_path) as (page, said):
        essay.write_text(original.replace(SENTENCE, f"First draft: {SENTENCE}"), encoding="utf-8")
        wait_for(said, "Showed ", 1)
        essay.write_text(original.replace(SENTENCE, f"Second draft: {SENTENCE}"), encoding="utf-8")
        page.wait_for_function("() => document.body.innerText.includes('Second draft:')")
        log = wait_for(said, "Rebuilt after", 1)
        page.wait_for_function("() => document.body.innerText.includes('Second draft:')")
        home = page.context.request.get(page.url.replace(ESSAY_URL, "/")).text()
    assert "Stopped the whole-site build" in log, log[-2000:]
    assert log.index("Stopped the whole-site build") < log.index("Rebuilt after"), log[-2000:]
    assert log.count("Rebuilt after") == 1, log[-2000:]  # one build brought the site up to the newest save
    built = (repo_copy / "output" / "essays" / "unresolved-desire-to-connect" / "index.html").read_text()
    assert "Second draft:" in built and "First draft:" not in built
    assert "Filler 299" in home
