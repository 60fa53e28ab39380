"""The README stays true to the code: every setting Kizuna reads from the
environment, or fills into Isso's configuration and the deploy files, is
documented in it."""

import re

from kizuna import ROOT

SOURCES = [*ROOT.glob("*.py"), *(ROOT / "kizuna").rglob("*.py"), *(ROOT / "plugins").rglob("*.py"),
           ROOT / "comments" / "isso.cfg", *(ROOT / "deploy").glob("*.j2")]


def test_every_setting_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    used = {name for path in SOURCES for name in re.findall(r"\bKIZUNA_[A-Z0-9_]+\b", path.read_text(encoding="utf-8"))}
    assert len(used) > 20, used  # the scan finds them
    missing = sorted(name for name in used if f"`{name}`" not in readme and not name.endswith("_"))
    assert not missing, f"settings the README does not document: {missing}"
