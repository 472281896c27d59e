"""`llm-scaffold new` and the CLI surface: sources, destinations, refs, failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, copy_template, git
from typer.testing import CliRunner

from generator import template_source
from generator.cli import app
from generator.errors import GenerationError, TemplateSourceError
from generator.new import create_project

runner = CliRunner()


def answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def test_help_lists_the_commands_that_exist():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "new" in result.output and "Generate a new project" in result.output
    assert runner.invoke(app, ["--version"]).output.startswith("llm-scaffold 0.1.0")
    new_help = " ".join(runner.invoke(app, ["new", "--help"]).output.split())
    for option in ("--template", "--vcs-ref", "--data", "--defaults"):
        assert option in new_help


def test_relative_template_path_is_recorded_as_absolute(template_repo, tmp_path, monkeypatch):
    monkeypatch.chdir(template_repo.parent)
    result = runner.invoke(app, ["new", str(tmp_path / "p"), "--template", template_repo.name, "--defaults", "-q"])
    assert result.exit_code == 0, result.output
    assert answers(tmp_path / "p")["_src_path"] == str(template_repo)


def test_template_from_environment_and_from_this_checkout(template_repo, tmp_path, monkeypatch):
    monkeypatch.setenv(template_source.ENV_VAR, str(template_repo))
    assert template_source.resolve() == str(template_repo)
    monkeypatch.delenv(template_source.ENV_VAR)
    assert template_source.resolve() == str(REPO_ROOT)
    assert (
        template_source.resolve("https://github.com/acme/llm-template.git")
        == "https://github.com/acme/llm-template.git"
    )
    monkeypatch.setattr(template_source, "CHECKOUT", tmp_path)
    with pytest.raises(TemplateSourceError, match="pass --template"):
        template_source.resolve()
    with pytest.raises(TemplateSourceError, match="is not a Copier template"):
        template_source.resolve(str(tmp_path))
    with pytest.raises(TemplateSourceError, match="does not exist"):
        template_source.resolve(str(tmp_path / "missing"))


def test_non_empty_destination_is_refused_and_left_alone(template_repo, tmp_path):
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["new", str(dest), "--template", str(template_repo), "--defaults"])
    assert result.exit_code == 2
    assert "already exists and is not empty" in " ".join(result.output.split())
    assert [p.name for p in dest.iterdir()] == ["notes.txt"] and (dest / "notes.txt").read_text() == "mine"


def test_empty_destination_is_filled(template_repo, tmp_path):
    dest = tmp_path / "empty"
    dest.mkdir()
    create_project(dest, template=str(template_repo), defaults=True, quiet=True)
    assert (dest / "pyproject.toml").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_new_into_the_current_empty_folder_keeps_that_folder(template_repo, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    inode = here.stat().st_ino
    monkeypatch.chdir(here)
    result = runner.invoke(app, ["new", ".", "--template", str(template_repo), "--defaults", "-q"])
    assert result.exit_code == 0, result.output
    assert here.stat().st_ino == inode and (here / "pyproject.toml").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"]


def test_vcs_ref_selects_the_template_version(tmp_path):
    template = copy_template(tmp_path / "template", tag="v0.1.0")
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nAdded in v0.2.0.\n")
    git(template, "commit", "--quiet", "-am", "v0.2.0 change")
    git(template, "tag", "v0.2.0")
    old = create_project(tmp_path / "old", template=str(template), vcs_ref="v0.1.0", defaults=True, quiet=True)
    new = create_project(tmp_path / "new", template=str(template), defaults=True, quiet=True)
    assert answers(old)["_commit"] == "v0.1.0" and "Added in v0.2.0" not in (old / "README.md").read_text()
    assert answers(new)["_commit"] == "v0.2.0" and "Added in v0.2.0" in (new / "README.md").read_text()


def test_failing_task_leaves_nothing_behind(tmp_path):
    template = copy_template(tmp_path / "template")
    (template / "hooks" / "post_generate.py").write_text("import sys\nsys.exit('hook broke')\n")
    git(template, "commit", "--quiet", "-am", "broken hook")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(GenerationError, match="Nothing was written"):
        create_project(tmp_path / "project", template=str(template), vcs_ref="HEAD", defaults=True, quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_console_script_runs(template_repo, tmp_path):
    script = Path(sys.executable).with_name("llm-scaffold")
    env = {**os.environ, template_source.ENV_VAR: str(template_repo)}
    result = subprocess.run(
        [str(script), "new", str(tmp_path / "p"), "--defaults", "-q", "-d", "project_name=Chat Bot"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "Created" in result.stderr and answers(tmp_path / "p")["package_name"] == "chat_bot"
