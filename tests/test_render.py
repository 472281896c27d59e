"""Rendering with the defaults and with non-default answers: files, answers, lint, no template noise."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, TEMPLATE_VERSION, git

COMBINATIONS = {
    "defaults": {},
    "github-apache-py312": {
        "project_name": "Ünïcode Chat-LLM 2",
        "ci": "github",
        "include_docker": False,
        "include_serving": False,
        "license": "Apache-2.0",
        "logger": "tensorboard",
        "python_version": "3.12",
    },
    "none-proprietary-py310": {
        "project_name": "Acme Search",
        "package_name": "acme_search_assistant_for_internal_docs1",  # the longest allowed: 40
        "ci": "none",
        "license": "Proprietary",
        "logger": "wandb",
        "python_version": "3.10",
        "author_name": 'Team "Q"',
    },
    "both-bsd-mlflow": {
        "project_name": "Code Model",
        "ci": "both",
        "license": "BSD-3-Clause",
        "logger": "mlflow",
        "include_docker": True,
        "include_serving": False,
        "description": 'Completes code; quotes "and" backslashes \\ survive.',
    },
}
LICENSE_MARKERS = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "Proprietary": "All rights reserved.",
}


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], capture_output=True, text=True)


def copied_verbatim(package: str) -> set[str]:
    """Project paths whose Jinja-like text is content: the template's plain (non-.jinja) files, which copier
    copies without rendering, and templates that print Jinja on purpose inside {% raw %} (chat templates)."""
    template = REPO_ROOT / "template"
    paths = set()
    for path in template.rglob("*"):
        if path.is_file() and (path.suffix != ".jinja" or "{% raw %}" in path.read_text(encoding="utf-8")):
            name = re.sub(r"\{%.*?%\}", "", path.relative_to(template).as_posix()).removesuffix(".jinja")
            paths.add(name.replace("{{package_name}}", package))
    return paths


def mypy(project: Path, cache: Path) -> subprocess.CompletedProcess:
    """The generated project's own `mypy src` (its [tool.mypy]); the cache is shared by one worker's renders."""
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "src"]
    return subprocess.run(command, cwd=project, capture_output=True, text=True)


@pytest.mark.parametrize("combo", list(COMBINATIONS))
def test_render_combination(render, combo, tmp_path_factory):
    answers = COMBINATIONS[combo]
    project = render(combo, **answers)
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    package = recorded["package_name"]

    for key, value in answers.items():
        assert recorded[key] == value
    assert Path(recorded["_src_path"]).is_absolute()
    assert recorded["_commit"] == TEMPLATE_VERSION

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == package.replace("_", "-")
    assert pyproject["project"]["requires-python"] == f">={recorded['python_version']}"
    assert pyproject["project"]["description"] == recorded["description"]
    assert pyproject["project"]["authors"][0]["name"] == recorded["author_name"]
    assert {"serve", "dev"} <= set(pyproject["project"]["optional-dependencies"])
    assert LICENSE_MARKERS[recorded["license"]] in (project / "LICENSE").read_text()
    assert recorded["author_name"] in (project / "LICENSE").read_text()

    init = (project / "src" / package / "__init__.py").read_text()
    assert ast.get_docstring(ast.parse(init)) == f"{recorded['project_name']}: {recorded['description']}"
    for module in ("prepare.py", "train.py", "evaluate.py", "bench/__main__.py", "data/pipeline.py", "models/gpt.py"):
        assert (project / "src" / package / module).is_file()
    configs = ["prepare", "train", "evaluate", "data/corpus", "paths/default", "hydra/default", "experiment/smoke"]
    configs += [f"trainer/{name}" for name in ("cpu", "gpu", "ddp", "ddp_cpu", "fsdp", "multinode")]
    configs += [f"model/{name}" for name in ("tiny", "small", "gpt2_124m")]
    for config in configs:
        assert (project / "configs" / f"{config}.yaml").is_file()
    assert f"logger: {recorded['logger']}" in (project / "configs" / "train.yaml").read_text()
    assert f"python -m {package}.prepare" in (project / "README.md").read_text()
    assert f"-m {package}.prepare" in (project / "Makefile").read_text()

    def unrendered(text: str) -> bool:  # GitHub Actions' own `${{ expression }}` is not Jinja
        text = text.replace("${{", "")
        return "{{" in text or "{%" in text

    verbatim = copied_verbatim(package)  # plain files: their Jinja-like text (a chat template, say) is content
    leftovers = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file()
        and ".git" not in path.parts
        and (
            path.suffix == ".jinja"
            or (path.relative_to(project).as_posix() not in verbatim and unrendered(path.read_text()))
        )
    ]
    assert leftovers == []

    assert ruff("check", "--no-cache", str(project)).returncode == 0, ruff("check", str(project)).stdout
    assert ruff("format", "--no-cache", "--check", str(project)).returncode == 0
    checked = mypy(project, tmp_path_factory.getbasetemp() / "mypy-cache")
    assert checked.returncode == 0, checked.stdout


def test_generated_project_is_its_own_git_repository(render):
    project = render("standalone")
    assert git(project, "log", "--format=%s").strip() == "Initial commit from llm-scaffold"
    assert git(project, "status", "--porcelain") == ""
    tracked = git(project, "ls-files").split()
    assert "src/my_llm/data/pipeline.py" in tracked and "configs/data/corpus.yaml" in tracked


def test_project_inside_an_existing_repository_is_not_reinitialised(render, tmp_path):
    git(tmp_path, "init", "--quiet")
    project = render("nested")
    assert not (project / ".git").exists()
