"""Content checks speak the writer's language: every trap below once built
silently (or failed with Pelican's words), and now fails `invoke build` with
one line per problem naming the file, the line and what to write instead,
leaving output/ as it was. Drafts leave no trace in a production build."""

import subprocess
import sys

import pytest

from support import invoke, tree_digest


def essay(*fields, body="Body."):
    return "\n".join(fields) + "\n\n" + body + "\n"


def failed_build(copy, files: dict[str, str]) -> str:
    """Build once, add files to content/, build again: that build must fail and
    keep the first one's output/. Returns what the writer saw."""
    invoke(copy, "build")
    before = tree_digest(copy / "output")
    for name, text in files.items():
        path = copy / "content" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    result = invoke(copy, "build", check=False)
    assert result.returncode != 0, result.stdout
    assert "Build failed; output/ was left as it was." in result.stdout
    assert "Traceback" not in result.stdout
    assert tree_digest(copy / "output") == before
    return result.stdout


def production_build(copy) -> subprocess.CompletedProcess:
    """A build with publishconf.py (kizuna.PROD_SETTINGS) in the copy, without
    baking comments (no Isso here)."""
    code = ("import sys\nfrom kizuna import PROD_SETTINGS\nfrom kizuna.build import BuildError, build\n"
            "try:\n    build(PROD_SETTINGS, quiet=True, extra_settings={'ISSO_BAKE_URL': ''})\n"
            "except BuildError as error:\n    sys.exit(str(error))\n")
    return subprocess.run([sys.executable, "-c", code], cwd=copy, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)


@pytest.mark.parametrize("typo, line, known", [
    ("Stauts: draft", 3, "Status"),
    ("Tag: memory", 3, "Tags"),
    ("Sumary: A short summary.", 3, "Summary"),
    ("Tilte: Typo", 1, "Title"),
])
def test_an_unknown_field_is_named_with_its_line_and_the_nearest_field(repo_copy, typo, line, known):
    fields = ["Title: Typo", "Date: 2026-01-02", typo] if line == 3 else [typo, "Date: 2026-01-02"]
    shown = failed_build(repo_copy, {"typo.md": essay(*fields)})
    name = typo.split(":")[0]
    assert f"content/typo.md, line {line}: unknown field `{name}` — did you mean `{known}`?\n" in shown, shown
    assert "could not find information" not in shown  # the suggestion says it all


def test_an_unknown_field_with_no_near_one_lists_the_fields(repo_copy):
    shown = failed_build(repo_copy, {"mood.md": essay("Title: Mood", "Date: 2026-01-02", "Mood: calm")})
    assert "content/mood.md, line 3: unknown field `Mood`; the fields an essay may have are Title, " in shown
    for field in ("Subtitle", "Tags", "Summary", "Status", "Comments", "Thread"):
        assert field in shown.split("unknown field `Mood`")[1].splitlines()[0]


@pytest.mark.parametrize("status, problem", [
    ("publised", "Unknown status 'publised' — did you mean `published`?"),
    ("darft", "Unknown status 'darft' — did you mean `draft`?"),
    ("", "Status is empty;"),  # an empty Status used to mean published
])
def test_a_status_that_is_not_clearly_one_fails_every_build(repo_copy, status, problem):
    text = essay("Title: Odd", "Date: 2026-01-02", f"Status: {status}".rstrip(), body="An odd-status sentence.")
    shown = failed_build(repo_copy, {"odd.md": text})
    assert f"content/odd.md, line 3: {problem}" in shown, shown
    assert "published, draft, hidden or skip" in shown

    production = production_build(repo_copy)
    assert production.returncode != 0, production.stdout
    assert f"content/odd.md, line 3: {problem}" in production.stdout
    assert "odd-status sentence" not in "".join(p.read_text(errors="replace") for p in
                                                (repo_copy / "output").rglob("*.html"))


def test_a_misspelt_status_field_never_publishes_a_draft(repo_copy):
    draft = essay("Title: Not Ready", "Date: 2026-01-02", "Stauts: draft", body="A sentence not ready to ship.")
    (repo_copy / "content" / "not-ready.md").write_text(draft)
    result = production_build(repo_copy)
    assert result.returncode != 0, result.stdout
    assert "content/not-ready.md, line 3: unknown field `Stauts` — did you mean `Status`?" in result.stdout
    assert not (repo_copy / "output").exists()  # nothing built, nothing to publish


def test_drafts_leave_no_tag_page_sitemap_entry_or_feed_entry_in_production(repo_copy):
    draft = essay("Title: Secret Plans", "Slug: secret-plans", "Date: 2026-01-02", "Status: draft",
                  "Tags: zebracorn, superficial connections", "Category: Zebracorn Notes", body="A draft sentence.")
    (repo_copy / "content" / "secret-plans.md").write_text(draft)

    result = production_build(repo_copy)
    assert result.returncode == 0, result.stdout
    output = repo_copy / "output"
    assert not (output / "tags" / "zebracorn").exists()
    assert (output / "tags" / "superficial-connections" / "index.html").is_file()  # a published essay's tag stays
    for name in ("sitemap.xml", "tags/index.html", "feeds/all.atom.xml", "feeds/all.rss.xml"):
        assert "zebracorn" not in (output / name).read_text(encoding="utf-8").lower(), name
    leaks = [path for path in output.rglob("*") if path.is_file() and path.suffix in {".html", ".xml", ".txt", ".json"}
             and ("zebracorn" in path.read_text(encoding="utf-8").lower() or "secret-plans" in path.read_text())]
    assert not leaks

    invoke(repo_copy, "build")  # while writing, the draft and its tag's page are there to follow
    assert (output / "drafts" / "secret-plans" / "index.html").is_file()
    assert (output / "tags" / "zebracorn" / "index.html").is_file()


def test_a_footnote_reference_without_a_definition_is_an_error(repo_copy):
    body = ("A kept promise.[^1] A broken one.[^missing]\n\n"
            "A pattern in code is no footnote: `[^a-z]`.\n\n"
            "[^1]: The kept one.")
    shown = failed_build(repo_copy, {"notes.md": essay("Title: Notes", "Date: 2026-01-02", body=body)})
    assert "content/notes.md, line 4: footnote [^missing] has no definition" in shown, shown
    assert "[^1]" not in shown and "[^a-z]" not in shown


@pytest.mark.parametrize("tags, problem", [
    ('"Tokyo, 1998"', 'Tags: quotes do not group words, so `"Tokyo, 1998"` makes `"Tokyo` and `1998"`'),
    ("memory, , friendship", "Tags: an empty item between commas in `memory, , friendship`"),
])
def test_quoted_or_empty_tags_are_errors(repo_copy, tags, problem):
    shown = failed_build(repo_copy, {"tokyo.md": essay("Title: Tokyo", "Date: 2026-01-02", f"Tags: {tags}")})
    assert f"content/tokyo.md, line 3: {problem}" in shown, shown


def test_a_date_that_could_be_read_two_ways_is_an_error(repo_copy):
    shown = failed_build(repo_copy, {
        "slashed.md": essay("Title: Slashed", "Date: 11/12/2026", "Modified: 2026-12-24"),
        "month-first.md": essay("Title: Month First", "Date: 2026-11-12", "Modified: 12/24/2026"),
    })
    assert "content/slashed.md, line 2: Date '11/12/2026' could be 2026-12-11 or 2026-11-12" in shown, shown
    assert "content/month-first.md, line 3: Modified '12/24/2026' is not written year-month-day: write 2026-12-24" \
        in shown, shown


def test_a_file_no_reader_takes_is_an_error(repo_copy):
    shown = failed_build(repo_copy, {
        "saved-as-text.txt": essay("Title: Saved as Text", "Date: 2026-01-02"),
        "pages/contact.html": "<html><head><title>Contact</title></head><body>Hi</body></html>\n",
    })
    assert "content/saved-as-text.txt: Kizuna does not read .txt files" in shown, shown
    assert "rename it to saved-as-text.md" in shown
    assert "content/pages/contact.html: Kizuna does not read .html files" in shown


def test_what_is_fine_still_builds(repo_copy):
    """The checks do not cry wolf: ISO dates in every form, fields left empty
    as `invoke new` leaves them, every known field, footnote-like code,
    images and extra files, .markdown files, editors' backups."""
    content = repo_copy / "content"
    forms = ["2026-11-12", "2026-11-12 09:00", "2026-11-12 09:00:30", "2026-11-12T09:00+09:00", "2026-11-12 09:00Z"]
    for number, date in enumerate(forms):
        (content / f"form-{number}.md").write_text(essay(f"Title: Form {number}", f"Date: {date}"))
    (content / "every-field.md").write_text(essay(
        "Title: Every Field", "Subtitle:", "Slug: every-field", "Date: 2026-11-12 09:00", "Modified: 2026-11-13",
        "Status: Published", "Category: Essays", "Tags:", "Summary: All of them.", "Author: K.A.L.T", "Lang: en",
        "Comments: off", "Thread: /essays/every-field/", "Related_posts: form-0",
        body="Code, not a footnote: `[^abc]`.\n\n    indented [^code]\n\nA note.[^n]\n\n[^n]: Here."))
    (content / "semicolons.md").write_text(essay("Title: Semicolons", "Date: 2026-11-12", "Tags: Tokyo, 1998; memory"))
    (content / "long-form.markdown").write_text(essay("Title: Long Form", "Date: 2026-11-12"))
    (content / "later.md~").write_text("an editor's backup")
    (content / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (content / "images").mkdir(exist_ok=True)
    (content / "images" / "street.png").write_bytes(b"\x89PNG")
    (content / "extra" / "notes.txt").write_text("published as it is")

    invoke(repo_copy, "build")
    essays = repo_copy / "output" / "essays"
    for slug in [f"form-{n}" for n in range(len(forms))] + ["every-field", "semicolons", "long-form"]:
        assert (essays / slug / "index.html").is_file(), slug
    assert (repo_copy / "output" / "tags" / "tokyo-1998" / "index.html").is_file()


def test_every_problem_of_a_build_is_reported_at_once_and_again_from_the_cache(repo_copy):
    files = {
        "a-typo.md": essay("Title: A Typo", "Date: 2026-01-02", "Stauts: draft"),
        "b-bad-date.md": essay("Title: Bad Date", "Date: 2026-13-45 99:99"),  # Pelican stopped at this one
        "c-no-title.md": essay("Date: 2026-01-02"),  # ...or at this one
        "d-tags.md": essay("Title: Tags", "Date: 2026-01-02", "Tags: a, , b", body="Note.[^gone]"),
        "e-essay.txt": "Title: E\n",
    }
    expected = [
        "content/a-typo.md, line 3: unknown field `Stauts` — did you mean `Status`?",
        "content/b-bad-date.md, line 2: Date '2026-13-45 99:99' is not a valid date",
        "content/c-no-title.md: could not find information about 'title'",
        "content/d-tags.md, line 3: Tags: an empty item between commas",
        "content/d-tags.md, line 5: footnote [^gone] has no definition",
        "content/e-essay.txt: Kizuna does not read .txt files",
    ]
    shown = failed_build(repo_copy, files)
    again = invoke(repo_copy, "build", check=False)  # files now in Pelican's content cache
    assert again.returncode != 0
    for output in (shown, again.stdout):
        problem_lines = [line for line in output.splitlines() if line.startswith("content/")]
        assert len(problem_lines) == len(expected), output
        for line, start in zip(problem_lines, expected):
            assert line.startswith(start), output
