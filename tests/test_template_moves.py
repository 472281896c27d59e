"""Files the user edited that the new template version renames or deletes are never dropped, and only
files the update changed count as conflicts."""

from __future__ import annotations

import yaml
from conftest import ANSWERS_TEMPLATE, git, small_template
from typer.testing import CliRunner

from generator.check import check_project
from generator.cli import app
from generator.new import create_project
from generator.project import commit_all
from generator.update import update_project

runner = CliRunner()
GUIDE = [f"guide line {i} for {{{{ name }}}}" for i in range(10)]
QUOTE = "How a conflict looks:\n\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> feature\n"


def text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def template_with_moves(root):
    config = yaml.safe_dump({"name": {"type": "str", "default": "demo"}})
    v2_guide = ["Guide, v2 edition"] + GUIDE[1:]
    return small_template(
        root,
        {
            "v1": {
                "copier.yml": config,
                "guide.md.jinja": text(GUIDE),
                "gone.txt": "the template drops this in v2\n",
                "keep.txt": "kept\n",
                **ANSWERS_TEMPLATE,
            },
            "v2": {"guide.md.jinja": None, "docs/guide.md.jinja": text(v2_guide), "gone.txt": None},
        },
    )


def make_project(tmp_path, user_line_index: int):
    template = template_with_moves(tmp_path / "template")
    project = create_project(tmp_path / "project", template=str(template), vcs_ref="v1", defaults=True, quiet=True)
    git(project, "init", "--quiet")
    guide = (project / "guide.md").read_text().splitlines()
    guide[user_line_index] = "our own guide line"
    (project / "guide.md").write_text(text(guide))
    (project / "gone.txt").write_text("the template drops this in v2\nbut we wrote here\n")
    (project / "quote.md").write_text(QUOTE)  # the user's own document, quoting conflict markers
    commit_all(project, "generated and edited")
    return project


def test_rename_carries_edits_delete_keeps_the_file_quotes_are_not_conflicts(tmp_path):
    project = make_project(tmp_path, user_line_index=8)
    result = runner.invoke(app, ["update", str(project)])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "gone.txt (deleted in the template, modified here)" in output
    assert "quote.md" not in output

    moved = (project / "docs" / "guide.md").read_text()
    assert "our own guide line" in moved and moved.startswith("Guide, v2 edition\n") and "<<<<<<<" not in moved
    assert not (project / "guide.md").exists()
    assert (project / "gone.txt").read_text() == "the template drops this in v2\nbut we wrote here\n"
    assert (project / "quote.md").read_text() == QUOTE

    commit_all(project, "update, keeping gone.txt")
    report = check_project(project)
    assert report.conflicts == [] and not report.behind


def test_overlapping_edit_of_a_renamed_file_is_a_conflict_in_the_new_file(tmp_path):
    project = make_project(tmp_path, user_line_index=0)
    result = update_project(project)
    moved = (project / "docs" / "guide.md").read_text()
    assert "our own guide line" in moved and "Guide, v2 edition" in moved and "<<<<<<<" in moved
    assert result.status == "conflicts"
    assert result.conflicts == ["docs/guide.md", "gone.txt"]
    assert result.kept == {"gone.txt": "deleted in the template, modified here"}


def test_unedited_files_follow_the_template_silently(tmp_path):
    template = template_with_moves(tmp_path / "template")
    project = create_project(tmp_path / "project", template=str(template), vcs_ref="v1", defaults=True, quiet=True)
    git(project, "init", "--quiet")
    commit_all(project, "generated")
    result = update_project(project)
    assert result.status == "updated" and result.conflicts == []
    assert not (project / "gone.txt").exists() and not (project / "guide.md").exists()
    assert (project / "docs" / "guide.md").read_text().startswith("Guide, v2 edition\n")


def test_a_rename_onto_a_file_of_the_users_own_keeps_both(tmp_path):
    template = template_with_moves(tmp_path / "template")
    project = create_project(tmp_path / "project", template=str(template), vcs_ref="v1", defaults=True, quiet=True)
    git(project, "init", "--quiet")
    (project / "guide.md").write_text((project / "guide.md").read_text() + "our own line\n")
    (project / "docs").mkdir()
    (project / "docs" / "guide.md").write_text("a guide of our own\n")
    commit_all(project, "edited, and our own docs/guide.md")
    result = update_project(project)
    assert "our own line" in (project / "guide.md").read_text()
    assert "guide.md" in result.conflicts and "renamed to docs/guide.md" in result.kept["guide.md"]
    assert "a guide of our own" in (project / "docs" / "guide.md").read_text()


def test_a_project_in_a_monorepo_subfolder_reports_its_conflicts(tmp_path):
    template = template_with_moves(tmp_path / "template")
    monorepo = tmp_path / "mono"
    monorepo.mkdir()
    git(monorepo, "init", "--quiet")
    (monorepo / "other.txt").write_text("another team's file\n")
    project = create_project(monorepo / "proj", template=str(template), vcs_ref="v1", defaults=True, quiet=True)
    guide = (project / "guide.md").read_text().splitlines()
    (project / "guide.md").write_text(text(["our first line", *guide[1:]]))
    commit_all(monorepo, "monorepo with a generated project")
    result = update_project(project)
    assert result.status == "conflicts" and result.conflicts == ["docs/guide.md"]
    assert "docs/guide.md" in result.changed and (monorepo / "other.txt").read_text() == "another team's file\n"
