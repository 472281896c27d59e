"""Drift of pyproject.toml: the tool's own `[tool.llm-scaffold]` table never counts, however it is spelt."""

from __future__ import annotations

import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, git, small_template

from generator.check import check_project
from generator.new import create_project
from generator.project import commit_all

PYPROJECT = '[project]\nname = "{{ name }}"\n\n[tool.ruff]\nline-length = 100\n'
SPELLINGS = {
    "table": '\n[tool.llm-scaffold]\nowned = ["notes.txt"]\n',
    "commented": '\n# files we own on purpose\n[tool.llm-scaffold]\nowned = [\n  "notes.txt",  # ours\n]\n',
    "quoted": "\n[tool.'llm-scaffold']\nowned = ['notes.txt']\n",
    "dotted": None,  # `llm-scaffold.owned` inside the existing [tool.ruff]'s parent table
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_declaring_owned_files_is_not_drift(tmp_path, spelling):
    config = yaml.safe_dump({"name": {"type": "str", "default": "demo"}})
    template = small_template(
        tmp_path / "template",
        {"v1": {"copier.yml": config, "pyproject.toml.jinja": PYPROJECT, "notes.txt": "n\n", **ANSWERS_TEMPLATE}},
    )
    project = create_project(tmp_path / "project", template=str(template), defaults=True, quiet=True)
    git(project, "init", "--quiet")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    if SPELLINGS[spelling] is None:
        text = text.replace("[tool.ruff]", '[tool]\nllm-scaffold.owned = ["notes.txt"]\n\n[tool.ruff]')
    else:
        text += SPELLINGS[spelling]
    pyproject.write_text(text)
    (project / "notes.txt").write_text("our notes\n")
    commit_all(project, "own notes.txt")
    report = check_project(project)
    assert report.drifted == [] and report.ok, report

    pyproject.write_text(text.replace("line-length = 100", "line-length = 88"))
    commit_all(project, "a real change")
    assert check_project(project).drifted == ["pyproject.toml"]
