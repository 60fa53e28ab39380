"""`invoke livereload` as a writer uses it, in a real browser: every save
shows, however close together (observed before: two saves 1.5-2.5 s apart
left the browser on the first one for good, python-livereload's 3-second
window), a broken essay shows its error over the last good page, and the
terminal says what was rebuilt and how long it took."""

import subprocess
import sys
import time

from kizuna.processes import free_port, stop, wait_until_listening

ESSAY = "content/unresolved-desire-to-connect.md"
SENTENCE = "Humans are known to be social animals"


def test_every_save_shows_and_a_broken_build_says_why(repo_copy, browser, tmp_path):
    port, comments_port = free_port(), free_port()
    while comments_port == port:
        comments_port = free_port()
    log = (tmp_path / "livereload.log").open("w")
    loop = subprocess.Popen([sys.executable, "-m", "invoke", "livereload", "--port", str(port),
                             "--comments-port", str(comments_port)], cwd=repo_copy, stdout=log,
                            stderr=subprocess.STDOUT)
    context = browser.new_context()
    try:
        wait_until_listening(port, loop, seconds=60)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"http://127.0.0.1:{port}/essays/unresolved-desire-to-connect/")
        page.wait_for_function("() => window.LiveReload")  # livereload.js loaded; give it a moment to connect
        time.sleep(1)
        essay = repo_copy / ESSAY
        original = essay.read_text(encoding="utf-8")

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
    finally:
        context.close()
        stop(loop)
        log.close()
    said = (tmp_path / "livereload.log").read_text()
    assert said.count("Rebuilt after") >= 4, said[-2000:]
    assert "Build failed after" in said and " s)" in said, said[-2000:]
    assert "Traceback" not in said, said[-3000:]
