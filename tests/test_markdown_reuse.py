"""One Markdown instance reads every essay (plugins/markdown_reuse): nothing
from one essay may leak into the next."""

from bs4 import BeautifulSoup

from support import invoke

ESSAY = """Title: {title}
Date: 2026-01-0{day}
Summary: About {title}.

## Beginning

Text with a note.[^1]

[^1]: The note of {title}.
"""


def test_each_essay_starts_fresh(repo_copy):
    for day, title in enumerate(["First Light", "Second Wind", "Third Time"], 1):
        slug = title.lower().replace(" ", "-")
        (repo_copy / "content" / f"{slug}.md").write_text(ESSAY.format(title=title, day=day))
    invoke(repo_copy, "build")
    for title in ["First Light", "Second Wind", "Third Time"]:
        slug = title.lower().replace(" ", "-")
        page = BeautifulSoup((repo_copy / f"output/essays/{slug}/index.html").read_text(), "html.parser")
        assert page.find("h2", id="beginning"), "heading ids must not carry over between essays"
        notes = page.select(".footnote li")
        assert [n["id"] for n in notes] == ["fn:1"]
        assert [ref["id"] for ref in page.select("sup[id]")] == ["fnref:1"]
        assert f"The note of {title}." in notes[0].get_text()
        assert page.find("meta", attrs={"name": "description"})["content"] == f"About {title}."
