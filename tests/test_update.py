"""update, check, diff and versions on real git histories of the real template (tags v0.1.0, v0.2.0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_template, git, tree_state
from typer.testing import CliRunner

from generator.check import check_project
from generator.cli import app
from generator.diff import diff_project
from generator.errors import DirtyTreeError, ProjectError, UpdateError, VersionError
from generator.new import create_project
from generator.project import commit_all
from generator.update import update_project

runner = CliRunner()
V2_README_LINE = "Template v0.2.0 adds this line."
CUDA_TAG, V2_CUDA_TAG = "cuda:13.1.1-runtime", "cuda:13.2.0-runtime"  # v0.2.0 moves the base image


def release_v2(template: Path) -> None:
    """A realistic template change: a README line, a new config option, a new file, a new base image
    in the Dockerfile, a changelog entry."""
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text().replace("## Set up", f"{V2_README_LINE}\n\n## Set up", 1))
    tiny = template / "template" / "configs" / "model" / "tiny.yaml"
    tiny.write_text(tiny.read_text() + "bias_init: zeros # new in v0.2.0\n")
    (template / "template" / "CONTRIBUTING.md").write_text("# Contributing\n\nRun `make test` before a pull request.\n")
    dockerfile = template / "template" / "{% if include_docker %}Dockerfile{% endif %}.jinja"
    assert CUDA_TAG in dockerfile.read_text()
    dockerfile.write_text(dockerfile.read_text().replace(CUDA_TAG, V2_CUDA_TAG, 1))
    errors = template / "template" / "src" / "{{package_name}}" / "errors.py"
    errors.write_text(errors.read_text() + '\n\nclass ServingError(UserError):\n    """New in v0.2.0."""\n')
    changelog = template / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## v0.1.0", "## v0.2.0\n\n- A README line.\n\n## v0.1.0", 1))
    commit_all(template, "v0.2.0")
    git(template, "tag", "v0.2.0")


@pytest.fixture
def template(tmp_path: Path) -> Path:
    repo = copy_template(tmp_path / "template", tag="v0.1.0")
    release_v2(repo)
    return repo


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    return create_project(tmp_path / "project", template=str(template), vcs_ref="v0.1.0", defaults=True, quiet=True)


def test_untouched_project_updates_to_exactly_a_fresh_render(project, template, tmp_path):
    result = update_project(project)
    assert (result.status, result.from_version, result.to_version) == ("updated", "v0.1.0", "v0.2.0")
    assert result.conflicts == []
    fresh = create_project(tmp_path / "fresh", template=str(template), vcs_ref="v0.2.0", defaults=True, quiet=True)
    for path in fresh.rglob("*"):
        name = path.relative_to(fresh)
        if path.is_file() and ".git" not in name.parts:
            assert (project / name).read_bytes() == path.read_bytes(), name
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v0.2.0"
    commit_all(project, "update to v0.2.0")
    assert update_project(project).status == "current"


def test_user_edits_merge_and_overlaps_become_conflicts(project):
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + "\nmine:\n\techo my own target\n")
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("## Set up", "Our team's own introduction.\n\n## Set up", 1))
    (project / "LICENSE").unlink()
    commit_all(project, "our edits")

    result = runner.invoke(app, ["update", str(project)])
    assert result.exit_code == 1, result.output
    assert "README.md" in result.output and "Conflicts to resolve" in result.output
    assert "echo my own target" in makefile.read_text()
    text = readme.read_text()
    assert "<<<<<<<" in text and "Our team's own introduction." in text and V2_README_LINE in text
    assert not (project / "LICENSE").exists(), "a file the user deleted stays deleted"
    assert (project / "CONTRIBUTING.md").is_file() and "bias_init" in (project / "configs/model/tiny.yaml").read_text()
    assert V2_CUDA_TAG in (project / "Dockerfile").read_text()
    assert check_project(project).conflicts == ["README.md"]


def test_dirty_tree_is_refused_and_left_alone(project):
    (project / "Makefile").write_text("uncommitted\n")
    before = tree_state(project)
    with pytest.raises(DirtyTreeError, match="commit or stash them first"):
        update_project(project)
    assert runner.invoke(app, ["update", str(project)]).exit_code == 2
    assert tree_state(project) == before


def test_downgrades_unknown_versions_and_broken_projects_are_refused(project, tmp_path):
    update_project(project)
    commit_all(project, "update to v0.2.0")
    with pytest.raises(VersionError, match="downgrades are refused"):
        update_project(project, to="v0.1.0")
    with pytest.raises(VersionError, match="does not exist"):
        update_project(project, to="v9.9.9")
    answers = project / ".copier-answers.yml"
    source = yaml.safe_load(answers.read_text())["_src_path"]
    answers.write_text(answers.read_text().replace(source, "../template"))
    commit_all(project, "relative source")
    with pytest.raises(ProjectError, match="relative template path '../template'"):
        update_project(project)
    with pytest.raises(ProjectError, match="has no .copier-answers.yml"):
        update_project(tmp_path)


def test_a_failing_migration_restores_the_repository_exactly(project, template):
    copier_yml = template / "copier.yml"
    broken = '  - version: v0.3.0\n    command: ["{{ _copier_python }}", "-c", "raise SystemExit(3)"]\n'
    copier_yml.write_text(copier_yml.read_text().replace("_migrations:\n", "_migrations:\n" + broken, 1))
    commit_all(template, "v0.3.0 with a broken migration")
    git(template, "tag", "v0.3.0")
    (project / "notes.txt").write_text("user file\n")
    commit_all(project, "a user file")
    before = tree_state(project)
    with pytest.raises(UpdateError, match="restored to its state before"):
        update_project(project)
    assert tree_state(project) == before


def test_dry_run_shows_the_diff_and_changes_nothing(project):
    before = tree_state(project)
    result = runner.invoke(app, ["update", str(project), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"+{V2_README_LINE}" in result.output and "CONTRIBUTING.md" in result.output
    assert tree_state(project) == before


def test_check_reports_behind_drift_owned_files_and_conflicts(project):
    report = json.loads(runner.invoke(app, ["check", str(project), "--json"]).output)
    assert (report["behind"], report["latest"], report["drifted"], report["ok"]) == (True, "v0.2.0", [], False)
    update_project(project)
    commit_all(project, "update")
    assert runner.invoke(app, ["check", str(project)]).exit_code == 0

    (project / "Makefile").write_text((project / "Makefile").read_text() + "\n# local tweak\n")
    commit_all(project, "drift")
    result = runner.invoke(app, ["check", str(project)])
    assert result.exit_code == 1 and "drifted: Makefile" in result.output
    assert "+# local tweak" in diff_project(project)

    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.llm-scaffold]\nowned = ["Makefile"]\n')
    commit_all(project, "own the Makefile")
    owned = runner.invoke(app, ["check", str(project)])
    assert owned.exit_code == 0, owned.output  # declaring owned files is not drift of pyproject.toml itself
    assert diff_project(project) == ""


def test_versions_lists_tags_with_changelog_lines(template):
    result = runner.invoke(app, ["versions", "--template", str(template), "--json"])
    listed = json.loads(result.output)
    assert [entry["version"] for entry in listed] == ["v0.1.0", "v0.2.0"]
    assert listed[1]["changes"] == "- A README line."
    assert "Template questions with validators" in listed[0]["changes"]


def test_versions_inside_a_project_lists_its_own_template(project, tmp_path, monkeypatch):
    other = copy_template(tmp_path / "other-template", tag="v0.0.9")
    monkeypatch.setenv("LLM_SCAFFOLD_TEMPLATE", str(other))
    monkeypatch.chdir(project)
    listed = json.loads(runner.invoke(app, ["versions", "--json"]).output)
    assert [entry["version"] for entry in listed] == ["v0.1.0", "v0.2.0"]
    monkeypatch.chdir(project / "configs" / "model")  # from a subfolder too
    listed = json.loads(runner.invoke(app, ["versions", "--json"]).output)
    assert [entry["version"] for entry in listed] == ["v0.1.0", "v0.2.0"]
    monkeypatch.chdir(tmp_path)
    assert [entry["version"] for entry in json.loads(runner.invoke(app, ["versions", "--json"]).output)] == ["v0.0.9"]


def test_answers_that_shape_names_survive_the_update(template, tmp_path):
    """A custom package name stays recorded, so template changes reach the renamed package folder."""
    answers = {"project_name": "Acme Bot", "package_name": "acme_core"}
    project = create_project(tmp_path / "acme", template=str(template), vcs_ref="v0.1.0", data=answers, defaults=True)
    assert update_project(project).conflicts == []
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"] == "acme_core"
    assert "class ServingError" in (project / "src" / "acme_core" / "errors.py").read_text()
    assert not (project / "src" / "my_llm").exists()


def insert_line(path: Path, after_prefix: str, line: str) -> None:
    """Insert `line` after the first line starting with `after_prefix` (the file must have one)."""
    lines = path.read_text().splitlines(keepends=True)
    index = next(i for i, text in enumerate(lines) if text.startswith(after_prefix))
    path.write_text("".join([*lines[: index + 1], line + "\n", *lines[index + 1 :]]))


def test_a_dependency_the_user_added_survives_in_pyproject_and_lock(project, template):
    """The trap of a template that regenerates its lock: here the lock is an ordinary rendered file,
    so the user's pin and the template's new pin both arrive by the 3-way merge."""
    insert_line(project / "pyproject.toml", '  "numpy>=', '  "einops>=0.8",')
    insert_line(project / "requirements.lock", "dill==", "einops==0.8.1")
    commit_all(project, "we use einops")
    pyproject_template = template / "template" / "pyproject.toml.jinja"
    insert_line(pyproject_template, '  "safetensors>=', '  "sentencepiece>=0.2",')
    insert_line(template / "template" / "requirements.lock.jinja", "safetensors==", "sentencepiece==0.2.1")
    commit_all(template, "v0.3.0: a new dependency")
    git(template, "tag", "v0.3.0")

    result = update_project(project)
    assert (result.status, result.to_version, result.conflicts) == ("updated", "v0.3.0", [])
    pyproject, lock = (project / "pyproject.toml").read_text(), (project / "requirements.lock").read_text()
    assert '"einops>=0.8"' in pyproject and '"sentencepiece>=0.2"' in pyproject
    assert "\neinops==0.8.1\n" in lock and "\nsentencepiece==0.2.1\n" in lock
    checked = subprocess.run(
        [sys.executable, "-m", "my_llm.devtools.check_lock"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_renovate_command_line_updates_a_generated_project(project):
    """Renovate's copier manager runs `copier update --skip-answered --defaults --trust`."""
    command = [sys.executable, "-m", "copier", "update", "--skip-answered", "--defaults", "--trust"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v0.2.0"
    assert V2_README_LINE in (project / "README.md").read_text()
