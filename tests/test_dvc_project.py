"""data_versioning=dvc: the project gets dvc.yaml, its README section and tests/test_dvc.py, which is run
here for real (dvc repro, a parameter change, push/pull to a local remote); the default project has none
of them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from generator.new import create_project

SECTION = "### Data and pipeline versioning with DVC"


def test_dvc_is_off_by_default_and_the_readme_says_how_to_turn_it_on(render):
    project = render("plain")
    assert not (project / "dvc.yaml").exists() and not (project / "tests" / "test_dvc.py").exists()
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert SECTION not in readme and "-d data_versioning=dvc" in readme
    assert '"dvc>=' not in (project / "pyproject.toml").read_text(encoding="utf-8")


def test_dvc_renders_a_pipeline_of_the_four_stages(render):
    project = render("versioned", project_name="Versioned LLM", data_versioning="dvc")
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    assert list(pipeline["stages"]) == ["prepare", "train", "evaluate", "export"]
    assert all("python -m versioned_llm." in stage["cmd"] for stage in pipeline["stages"].values())
    assert SECTION in (project / "README.md").read_text(encoding="utf-8")
    assert '"dvc>=' in (project / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_generated_dvc_tests_pass(template_repo, tmp_path):
    answers = {"project_name": "Versioned LLM", "data_versioning": "dvc", "ci": "none"}
    project = create_project(tmp_path / "project", template=str(template_repo), data=answers, defaults=True, quiet=True)
    env = {key: value for key, value in os.environ.items() if key != "PROJECT_ROOT"}
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(project)]
    result = subprocess.run(install, cwd=project, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    tests = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dvc.py"]
    result = subprocess.run(tests, cwd=project, capture_output=True, text=True, env=env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 passed" in result.stdout, result.stdout[-3000:]
