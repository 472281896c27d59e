"""The generated project for real: installed into this environment, prepare -> train -> evaluate
run as a user runs them, then its own test suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import git

from generator.new import create_project

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PROJECT_ROOT"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def install(project: Path) -> None:
    result = run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(project), cwd=project)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "answers",
    [{}, {"project_name": "Ünïcode Chat-LLM 2", "python_version": "3.10", "ci": "none", "license": "Apache-2.0"}],
    ids=["defaults", "unicode-py310"],
)
def test_generated_project_runs_its_pipeline_and_passes_its_own_tests(template_repo, tmp_path, answers):
    project = create_project(tmp_path / "project", template=str(template_repo), data=answers, defaults=True, quiet=True)
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    install(project)

    prepared = run(sys.executable, "-m", f"{package}.prepare", cwd=project)
    assert prepared.returncode == 0, prepared.stderr
    summary_path = Path(prepared.stdout.strip().splitlines()[-1])
    assert summary_path.is_relative_to(project / "logs" / "prepare")
    summary = json.loads(summary_path.read_text())
    assert Path(summary["out_dir"]) == project / "data" / "processed"
    assert 256 < summary["vocab_size"] <= 2048 and summary["dtype"] == "uint16"  # BPE stops when merges run out
    assert summary["train_tokens"] > 200_000 and summary["val_tokens"] > 5_000 and summary["test_tokens"] > 5_000
    assert summary["documents"]["unique"] < summary["documents"]["input"]  # the corpus repeats some documents
    meta = json.loads((project / "data" / "processed" / "meta.json").read_text())
    train = np.memmap(project / "data" / "processed" / "train.bin", dtype=meta["dtype"], mode="r")
    assert train.size == summary["train_tokens"] and int(train.max()) < summary["vocab_size"]
    assert git(project, "status", "--porcelain") == "", "data and logs must be git-ignored"

    # The demo's training: the full smoke experiment for the defaults, a short one otherwise.
    short = [] if not answers else ["trainer.max_steps=40", "trainer.val_check_interval=20"]
    trained = run(sys.executable, "-m", f"{package}.train", "experiment=smoke", *short, cwd=project)
    assert trained.returncode == 0, trained.stderr[-3000:]
    training = json.loads(Path(trained.stdout.strip().splitlines()[-1]).read_text())
    assert training["val_loss_last"] < 0.5 * training["val_loss_first"], training
    assert training["global_step"] == (40 if short else 300)
    evaluated = run(sys.executable, "-m", f"{package}.evaluate", f"ckpt_path={training['checkpoint']}", cwd=project)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    evaluation = json.loads(Path(evaluated.stdout.strip().splitlines()[-1]).read_text())
    assert evaluation["test_loss"] < 0.5 * training["val_loss_first"]

    tests = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout


def test_plain_copier_cli_generates_the_project(template_repo, tmp_path):
    dest = tmp_path / "plain"
    result = run(
        sys.executable, "-m", "copier", "copy", "--trust", "--defaults", str(template_repo), str(dest), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    recorded = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert recorded["package_name"] == "my_llm" and recorded["_src_path"] == str(template_repo)
    assert (dest / "src" / "my_llm" / "prepare.py").is_file()
    assert git(dest, "log", "--format=%s").strip() == "Initial commit from llm-scaffold"
