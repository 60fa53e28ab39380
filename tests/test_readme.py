"""The README stays true to the code: every command `invoke --list` shows
and every folder of the repository are in it (its settings tables are made
from the settings table: tests/test_settings.py)."""

import re
import subprocess
import sys

from kizuna import ROOT

def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_task_is_in_the_readme():
    listing = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=ROOT, text=True, check=True,
                             stdout=subprocess.PIPE).stdout
    # A task's line starts with two spaces and its name; a long description wraps onto deeper-indented lines.
    tasks = [line.split()[0] for line in listing.splitlines() if re.match(r"  \S", line)]
    assert {"build", "comments.approve", "deploy.render"} <= set(tasks), listing  # the listing was read
    missing = [name for name in tasks if not re.search(rf"\binvoke {re.escape(name)}(?![\w.-])", readme())]
    assert not missing, f"tasks the README does not show as `invoke NAME`: {missing}"


def test_the_layout_names_every_folder():
    section = readme().split("## What is inside", 1)[1]
    block = section.split("```", 2)[1]
    named = set(re.findall(r"^(\S+)/\s", block, re.M))
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, text=True, check=True, stdout=subprocess.PIPE).stdout
    folders = {path.split("/")[0] for path in tracked.splitlines() if "/" in path and not path.startswith(".")}
    assert "kizuna" in folders and "kizuna" in named  # both were read
    assert not folders - named, f"folders the README's layout does not name: {sorted(folders - named)}"
