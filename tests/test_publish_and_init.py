"""Publishing refuses to ship a site whose links point at the wrong address,
sends only what changed, and can be looked at first (`invoke preview`);
`invoke init` makes the site the writer's own (site.env) without editing
Python. Every test runs `invoke` as a writer would, in a copy of the
repository, with real rsync to a local folder and real servers."""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from kizuna import settings
from support import free_port, invoke, require_tool, writer_env

SEED = "essays/unresolved-desire-to-connect/index.html"
EXAMPLE = settings.BY_NAME["KIZUNA_SITEURL"].production



def told(result, *words):
    """Failed as a writer's mistake should: exit code 1, words, no traceback."""
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stdout, result.stdout
    for word in words:
        assert word in result.stdout, result.stdout


def publishing_env(folder, isso, **values) -> dict:
    """Publishing to a local folder, baking comments from a real Isso."""
    return writer_env(KIZUNA_DEPLOY_TARGET=str(folder), KIZUNA_ISSO_BAKE_URL=isso.url + "/", **values)


ITEM = re.compile(r"^(?:[<>ch.][fdLDS]\S{9}|\*deleting) +(.+?)/?$")


def listed(result) -> set[str]:
    """The paths rsync's --itemize-changes lines name in an invoke run's output."""
    return {match[1] for line in result.stdout.splitlines() if (match := ITEM.match(line))}


# --- A. Publishing ---------------------------------------------------------------

def test_publish_refuses_the_example_address_before_building(repo_copy, tmp_path, isso):
    """Observed: without KIZUNA_SITEURL every page, stylesheet included, linked to the example domain."""
    require_tool("rsync")
    server = tmp_path / "www"
    server.mkdir()
    result = invoke(repo_copy, "publish", check=False, env=publishing_env(server, isso))
    told(result, EXAMPLE, "KIZUNA_SITEURL", "invoke init")
    assert not (repo_copy / "output").exists(), "refused before building"
    assert not list(server.iterdir()), "nothing was shipped"


def test_publish_refuses_http_unless_allowed(repo_copy, tmp_path, isso):
    require_tool("rsync")
    server = tmp_path / "www"
    server.mkdir()
    env = publishing_env(server, isso, KIZUNA_SITEURL="http://192.168.1.20")
    told(invoke(repo_copy, "publish", check=False, env=env), "http://192.168.1.20", "https://", "--allow-http")
    assert not (repo_copy / "output").exists() and not list(server.iterdir())

    invoke(repo_copy, "publish", "--allow-http", env=env)  # a local network: the writer said so
    assert 'href="http://192.168.1.20/theme/css/' in (server / SEED).read_text()


def test_a_dry_run_after_publishing_lists_only_what_changed(repo_copy, tmp_path, isso):
    """rsync compares content: every production build writes every file anew,
    so comparing times listed (and re-sent) the whole site every time."""
    require_tool("rsync")
    server = tmp_path / "www"
    server.mkdir()
    essay = repo_copy / "content" / "on-waiting.md"
    essay.write_text("Title: On Waiting\nDate: 2026-11-28 14:00\nCategory: Essays\nTags: patience\n"
                     "Summary: What waiting teaches.\n\nWe wait for letters, and for people.\n", encoding="utf-8")
    env = publishing_env(server, isso, KIZUNA_SITEURL="https://writer.example")
    invoke(repo_copy, "publish", env=env)
    shipped = {str(p.relative_to(server)) for p in server.rglob("*") if p.is_file()}

    unchanged = listed(invoke(repo_copy, "publish", "--dry-run", env=env))
    # Nothing, the sitemap neither: its lists are dated by their newest essay (plugins/sitemap_dates).
    assert unchanged == set(), unchanged

    essay.write_text(essay.read_text(encoding="utf-8").replace("and for people.", "and for people to return."),
                     encoding="utf-8")
    changed = listed(invoke(repo_copy, "publish", "--dry-run", env=env))
    assert "essays/on-waiting/index.html" in changed, changed
    assert SEED not in changed and "about/index.html" not in changed, changed
    assert not [path for path in changed if path.startswith("theme/")], changed
    assert len(changed) < len(shipped) / 3, (len(changed), len(shipped))
    assert "we wait for letters, and for people." in (server / "essays/on-waiting/index.html").read_text().lower()


def _wait_for_page(process, url, seconds=60.0) -> str:
    """The page's HTML once the server answers 200; fails at once if the task stopped."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"invoke stopped with {process.returncode}:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def _port_is_open(port) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_preview_serves_the_production_build_at_its_own_address(repo_copy):
    """Observed: preview built production pages linked to the public domain, so they could not be looked at."""
    invoke(repo_copy, "new", "Not Yet")  # a draft: production leaves it out
    port = free_port()
    here = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "invoke", "preview", "--port", str(port)], cwd=repo_copy,
                               env=writer_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        html = _wait_for_page(process, f"{here}/{SEED.removesuffix('index.html')}")
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)[1]
        assert stylesheet.startswith(f"{here}/theme/css/"), stylesheet
        assert EXAMPLE.removeprefix("https://") not in html
        with urllib.request.urlopen(stylesheet, timeout=5) as response:
            assert response.status == 200 and b"body" in response.read()
        assert (repo_copy / "output" / "index.html.gz").is_file()  # production's compressed copies
        assert not (repo_copy / "output" / "drafts").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    assert not _port_is_open(port), "the site server outlived invoke preview"


def test_preview_build_only_builds_for_the_public_address(repo_copy):
    invoke(repo_copy, "preview", "--build-only", env=writer_env(KIZUNA_SITEURL="https://writer.example"))
    assert 'href="https://writer.example/theme/css/' in (repo_copy / "output" / SEED).read_text()


# --- B. invoke init ------------------------------------------------------------------

def site_env(copy) -> dict[str, str]:
    return settings.read_site_file(copy / "site.env")


def test_init_makes_the_site_the_writers_and_new_essays_are_signed_by_them(repo_copy, tmp_path, isso):
    """Observed: every new essay was signed by the sample author, K.A.L.T,
    and making the site one's own meant editing Python."""
    require_tool("rsync")
    seed = (repo_copy / "content" / "unresolved-desire-to-connect.md").read_bytes()
    result = invoke(repo_copy, "init", "--name", "Letters at Dusk", "--author", "Mina Sato",
                    "--url", "https://mina.example.net/", "--language", "ja", stdin=subprocess.DEVNULL,
                    env=writer_env())
    assert "site.env" in result.stdout
    assert site_env(repo_copy) == {"KIZUNA_SITENAME": "Letters at Dusk", "KIZUNA_AUTHOR": "Mina Sato",
                                   "KIZUNA_SITEURL": "https://mina.example.net", "KIZUNA_LANG": "ja"}

    invoke(repo_copy, "new", "First Light", env=writer_env())
    text = (repo_copy / "content" / "first-light.md").read_text()
    assert "\nAuthor: Mina Sato\n" in text and "\n– Mina Sato\n{: .signoff }\n" in text

    invoke(repo_copy, "build", env=writer_env())
    draft = (repo_copy / "output/drafts/first-light/index.html").read_text()
    assert "Mina Sato" in draft and "K.A.L.T" not in draft
    assert '<html lang="ja"' in draft and "Letters at Dusk" in draft
    # The owner's first essay is theirs, as it was.
    assert (repo_copy / "content" / "unresolved-desire-to-connect.md").read_bytes() == seed
    assert "– K.A.L.T" in (repo_copy / "output" / SEED).read_text()

    server = tmp_path / "www"
    server.mkdir()
    invoke(repo_copy, "publish", env=publishing_env(server, isso))  # the address comes from site.env
    assert 'href="https://mina.example.net/theme/css/' in (server / "index.html").read_text()


def test_init_asks_on_a_terminal_showing_what_is_there(repo_copy):
    master, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "invoke", "init"], cwd=repo_copy, env=writer_env(),
                               stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    seen = ""

    def until(text, seconds=60.0):
        nonlocal seen
        deadline = time.monotonic() + seconds
        while text not in seen:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no {text!r} on the terminal; it shows:\n{seen}")
            try:
                seen += os.read(master, 4096).decode(errors="replace")
            except OSError:  # the terminal closed: the task ended
                raise AssertionError(f"no {text!r} on the terminal; it showed:\n{seen}") from None

    def answer(prompt, reply):
        until(prompt)
        os.write(master, reply.encode() + b"\n")

    try:
        answer("The site's name [Kizuna]: ", "Letters at Dusk")
        answer("Your name, as essays are signed [K.A.L.T]: ", "")  # keep it
        answer("from https:// on: ", "mina.example.net")  # no scheme: said, and asked again
        until("is not a site address")
        answer("from https:// on: ", "https://mina.example.net")
        answer("(en, ja, pt-BR…) [en]: ", "")
        until("Wrote site.env")
        assert process.wait(timeout=30) == 0, seen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert site_env(repo_copy) == {"KIZUNA_SITENAME": "Letters at Dusk", "KIZUNA_AUTHOR": "K.A.L.T",
                                   "KIZUNA_SITEURL": "https://mina.example.net", "KIZUNA_LANG": "en"}


def test_init_without_a_terminal_keeps_what_is_there(repo_copy):
    result = invoke(repo_copy, "init", "--author", "Mina Sato", stdin=subprocess.DEVNULL, env=writer_env())
    assert "No site address yet" in result.stdout
    assert site_env(repo_copy) == {"KIZUNA_SITENAME": "Kizuna", "KIZUNA_AUTHOR": "Mina Sato", "KIZUNA_LANG": "en"}
    invoke(repo_copy, "init", "--name", "Letters at Dusk", stdin=subprocess.DEVNULL, env=writer_env())
    assert site_env(repo_copy) == {"KIZUNA_SITENAME": "Letters at Dusk", "KIZUNA_AUTHOR": "Mina Sato",
                                   "KIZUNA_LANG": "en"}


@pytest.mark.parametrize("option, value, words", [
    ("--url", "essays.example.org", ["not a site address", "https://"]),
    ("--url", "https://kizuna.example.org", ["example address"]),
    ("--url", "ftp://essays.example.org", ["not a site address"]),
    ("--language", "English please", ["not a language tag", "pt-BR"]),
    ("--author", "  ", ["--author", "one line"]),
])
def test_init_refuses_what_is_not_an_address_a_language_or_a_name(repo_copy, option, value, words):
    told(invoke(repo_copy, "init", option, value, check=False, stdin=subprocess.DEVNULL, env=writer_env()), *words)
    assert not (repo_copy / "site.env").exists()


def test_deploy_render_takes_the_address_and_author_from_site_env(repo_copy, tmp_path):
    """The comment server's environment wins over site.env: isso.env.example must carry the writer's name."""
    invoke(repo_copy, "init", "--author", "Mina Sato", "--url", "https://mina.example.net",
           stdin=subprocess.DEVNULL, env=writer_env())
    invoke(repo_copy, "deploy.render", "--out", str(tmp_path / "rendered"), env=writer_env())
    example = (tmp_path / "rendered" / "isso.env.example").read_text()
    assert re.search(r'^KIZUNA_AUTHOR="?Mina Sato"?$', example, re.M), example
    assert "KIZUNA_ISSO_HOST=https://mina.example.net" in example


# --- Where a value comes from ------------------------------------------------------

def test_the_environment_wins_over_site_env_which_wins_over_the_table(tmp_path):
    site_file = tmp_path / "site.env"
    site_file.write_text('# mine\nKIZUNA_AUTHOR="Mina Sato"\nKIZUNA_SITEURL=https://mina.example.net\n')
    assert settings.site_value("KIZUNA_AUTHOR", environ={}, site_file=site_file) == "Mina Sato"
    assert settings.site_value("KIZUNA_AUTHOR", environ={"KIZUNA_AUTHOR": "Env"}, site_file=site_file) == "Env"
    assert settings.site_value("KIZUNA_SITENAME", environ={}, site_file=site_file) == "Kizuna"
    assert settings.site_value("KIZUNA_LANG", environ={}, site_file=site_file) == "en"
    # Defaults made from other settings see site.env's values too.
    assert settings.site_value("KIZUNA_ISSO_URL", True, {}, site_file) == "https://mina.example.net/isso/"


@pytest.mark.parametrize("line", ["KIZUNA_ISSO_SALT=abc", "KIZUNA_SMTP_PASSWORD=hunter2", "KIZUNA_NO_SUCH=1",
                                  "just words"])
def test_site_env_takes_only_the_sites_own_settings(tmp_path, line):
    site_file = tmp_path / "site.env"
    site_file.write_text(f"KIZUNA_AUTHOR=Mina\n{line}\n")
    with pytest.raises(settings.SiteFileError, match="line 2"):
        settings.read_site_file(site_file)
