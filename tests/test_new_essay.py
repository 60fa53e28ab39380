"""`invoke new "Title"` starts a complete draft that builds, and never
overwrites an essay."""

import re
import subprocess
import sys

from support import invoke


def test_new_essay_has_full_metadata_and_builds(repo_copy):
    result = invoke(repo_copy, "new", "Letters I Never Sent", "--tags", "letters, grief")
    path = repo_copy / "content" / "letters-i-never-sent.md"
    assert "content/letters-i-never-sent.md" in result.stdout
    text = path.read_text()
    for field in ("Title: Letters I Never Sent", "Slug: letters-i-never-sent", "Status: draft",
                  "Tags: letters, grief", "Summary: ", "Category: Essays"):
        assert field in text
    assert re.search(r"^Date: \d{4}-\d\d-\d\d \d\d:\d\d$", text, re.M)

    invoke(repo_copy, "build")
    draft = (repo_copy / "output/drafts/letters-i-never-sent/index.html").read_text()
    assert "Letters I Never Sent" in draft


def test_new_refuses_to_overwrite(repo_copy):
    path = repo_copy / "content" / "unresolved-desire-to-connect.md"
    before = path.read_bytes()
    result = invoke(repo_copy, "new", "Unresolved Desire to Connect", check=False)
    assert result.returncode != 0
    assert "already exists" in result.stdout
    assert path.read_bytes() == before


def test_tasks_work_when_called_from_python(repo_copy):
    # Pelican's quickstart tasks.py reads program.core and breaks here.
    code = (
        "import invoke, tasks\n"
        "tasks.new(invoke.Context(), 'From Python')\n"
        "tasks.build(invoke.Context())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo_copy, check=True, timeout=120)
    assert (repo_copy / "output/drafts/from-python/index.html").is_file()


def test_every_task_has_one_line_help(repo_copy):
    listing = invoke(repo_copy, "--list").stdout
    for name in ("build", "rebuild", "regenerate", "serve", "reserve", "preview", "livereload",
                 "new", "publish", "clean", "test", "bench"):
        line = next((l for l in listing.splitlines() if l.strip().startswith(name + " ")), None)
        assert line and len(line.split(None, 1)) == 2, f"{name} has no help line"
