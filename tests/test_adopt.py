"""adopt: a project from a real cookiecutter run is linked, then updated with its own files kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import copy_template, git
from cookiecutter.main import cookiecutter
from test_update import release_v2
from typer.testing import CliRunner

from generator.adopt import adopt_project
from generator.cli import app
from generator.errors import InvalidAnswerError, ProjectError
from generator.project import commit_all
from generator.update import update_project

runner = CliRunner()
CONTEXT = {"project_name": "Acme Bot", "package_name": "acme_bot", "author_email": "ml@acme.example"}


@pytest.fixture
def cruft_project(tmp_path: Path) -> Path:
    """A small cookiecutter template, rendered for real, with the .cruft.json that cruft writes."""
    template = tmp_path / "cc-template"
    package = template / "{{cookiecutter.package_name}}"
    (package / "src" / "{{cookiecutter.package_name}}").mkdir(parents=True)
    (template / "cookiecutter.json").write_text(json.dumps(CONTEXT))
    (package / "NOTES.md").write_text("# {{cookiecutter.project_name}}\n\nOur own notes.\n")
    (package / "src" / "{{cookiecutter.package_name}}" / "__init__.py").write_text('"""Acme."""\n')
    project = Path(cookiecutter(str(template), no_input=True, output_dir=str(tmp_path)))
    cruft = {"template": str(template), "commit": None, "context": {"cookiecutter": {**CONTEXT, "_template": "x"}}}
    (project / ".cruft.json").write_text(json.dumps(cruft))
    git(project, "init", "--quiet")
    commit_all(project, "from cookiecutter")
    return project


@pytest.fixture
def template(tmp_path: Path) -> Path:
    repo = copy_template(tmp_path / "template", tag="v0.1.0")
    release_v2(repo)
    return repo


def test_cruft_project_is_adopted_then_updated_keeping_its_files(cruft_project, template):
    notes = (cruft_project / "NOTES.md").read_text()
    result = runner.invoke(
        app, ["adopt", str(cruft_project), "--from-cruft", "--template", str(template), "--version", "v0.1.0"]
    )
    assert result.exit_code == 0, result.output
    answers = yaml.safe_load((cruft_project / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["_src_path"]) == ("v0.1.0", str(template))
    assert (answers["project_name"], answers["package_name"], answers["author_email"]) == (
        "Acme Bot",
        "acme_bot",
        "ml@acme.example",
    )
    assert git(cruft_project, "status", "--porcelain").strip() == "?? .copier-answers.yml", "adopt writes nothing else"
    commit_all(cruft_project, "link to llm-scaffold")

    updated = update_project(cruft_project)
    assert (updated.from_version, updated.to_version) == ("v0.1.0", "v0.2.0")
    assert (cruft_project / "NOTES.md").read_text() == notes
    assert (cruft_project / "CONTRIBUTING.md").is_file(), "a file new in v0.2.0 arrives"
    assert (cruft_project / "src" / "acme_bot" / "__init__.py").read_text() == '"""Acme."""\n'


def test_adopt_refuses_linked_projects_bad_answers_and_missing_context(cruft_project, template, tmp_path):
    with pytest.raises(InvalidAnswerError, match="would shadow"):
        adopt_project(cruft_project, template=str(template), data={"package_name": "torch"})
    with pytest.raises(ProjectError, match="has no .cruft.json"):
        (cruft_project / ".cruft.json").unlink()
        adopt_project(cruft_project, template=str(template), from_cruft=True)
    adopt_project(cruft_project, template=str(template))
    with pytest.raises(ProjectError, match="already linked"):
        adopt_project(cruft_project, template=str(template))
    with pytest.raises(ProjectError, match="not a git repository"):
        adopt_project(tmp_path / "cc-template", template=str(template))
