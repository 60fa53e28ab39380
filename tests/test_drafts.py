"""Drafts are for the writer: previewed while writing, never published."""

from support import invoke

DRAFT = "Title: Not Yet\nSlug: not-yet\nDate: 2026-01-02\nStatus: draft\n\nA secret draft sentence.\n"


def test_drafts_preview_in_development_but_never_ship(repo_copy):
    (repo_copy / "content" / "not-yet.md").write_text(DRAFT)

    invoke(repo_copy, "build")
    output = repo_copy / "output"
    assert "A secret draft sentence." in (output / "drafts/not-yet/index.html").read_text()
    assert "not-yet" not in (output / "index.html").read_text()

    invoke(repo_copy, "preview", "--build-only")
    assert not (output / "drafts").exists()
    for path in output.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".xml", ".txt"}:
            text = path.read_text(encoding="utf-8")
            assert "secret draft" not in text and "not-yet" not in text, path
