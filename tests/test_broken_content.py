"""A broken essay fails `invoke build` loudly, names the file and the problem,
and leaves the last good output/ exactly as it was."""


import pytest

from support import invoke, tree_digest

BROKEN = {
    "bad-date.md": ("Title: Bad date\nDate: 2026-13-45 99:99\n\nBody.\n", "is not a valid date"),
    "no-title.md": ("Date: 2026-01-01\n\nA body without a title.\n", "could not find information about 'title'"),
    "odd-status.md": ("Title: Odd\nDate: 2026-01-01\nStatus: pubished\n\nBody.\n", "Unknown status 'pubished'"),
    "copy.md": (
        "Title: Copy\nSlug: unresolved-desire-to-connect\nDate: 2026-01-01\n\nBody.\n",
        "duplicate slug",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_essay_fails_and_keeps_output(repo_copy, name):
    invoke(repo_copy, "build")
    before = tree_digest(repo_copy / "output")

    text, problem = BROKEN[name]
    (repo_copy / "content" / name).write_text(text)
    result = invoke(repo_copy, "build", check=False)

    assert result.returncode != 0
    assert f"content/{name}" in result.stdout, result.stdout
    assert problem in result.stdout, result.stdout
    assert "was left as it was" in result.stdout
    assert tree_digest(repo_copy / "output") == before
    assert not (repo_copy / "output.new").exists()


def test_fixed_essay_builds_again(repo_copy):
    bad = repo_copy / "content" / "bad-date.md"
    bad.write_text(BROKEN["bad-date.md"][0])
    assert invoke(repo_copy, "build", check=False).returncode != 0
    bad.write_text("Title: Good date\nDate: 2026-01-03\n\nBody.\n")
    invoke(repo_copy, "build")
    assert (repo_copy / "output/essays/good-date/index.html").is_file()


def test_a_stopped_build_keeps_output(dev_site, tmp_path):
    """The writing loop stops a whole-site build a newer save made stale: the
    build says it was stopped (not broken), and output/ is the last good one."""
    import shutil

    from kizuna import CONTENT, DEV_SETTINGS
    from kizuna.build import BuildStopped, build

    output = shutil.copytree(dev_site, tmp_path / "output")
    before = tree_digest(output)
    with pytest.raises(BuildStopped, match="stopped"):
        build(DEV_SETTINGS, output, CONTENT, quiet=True, started=lambda pelican: pelican.terminate())
    assert tree_digest(output) == before
    assert not (tmp_path / "output.new").exists()
