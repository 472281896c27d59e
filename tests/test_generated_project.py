"""The generated project for real: installed into this environment, prepare -> train -> evaluate
run as a user runs them, then its own test suite."""

from __future__ import annotations

import json
import os
import re
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


def only_summary(project: Path, stage: str) -> dict:
    """The summary.json of the one run of `stage` in the project."""
    (summary,) = (project / "logs" / stage / "runs").glob("*/summary.json")
    return json.loads(summary.read_text())


def test_default_project_runs_its_demo_and_passes_its_own_tests(template_repo, tmp_path):
    """`python -m <package>.demo` (what `make demo` runs): prepare -> train -> evaluate -> export ->
    serve one completion -> analyze, then the project's whole suite with its coverage gate."""
    project = create_project(tmp_path / "project", template=str(template_repo), defaults=True, quiet=True)
    install(project)

    demo = run(sys.executable, "-m", "my_llm.demo", cwd=project)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    curves = Path(demo.stdout.strip().splitlines()[-1])
    assert curves.name == "curves.png" and curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    prepared = only_summary(project, "prepare")
    assert Path(prepared["out_dir"]) == project / "data" / "processed"
    assert 256 < prepared["vocab_size"] <= 2048 and prepared["dtype"] == "uint16"  # BPE stops when merges run out
    assert prepared["train_tokens"] > 200_000 and prepared["val_tokens"] > 5_000 and prepared["test_tokens"] > 5_000
    assert prepared["documents"]["unique"] < prepared["documents"]["input"]  # the corpus repeats some documents
    meta = json.loads((project / "data" / "processed" / "meta.json").read_text())
    train = np.memmap(project / "data" / "processed" / "train.bin", dtype=meta["dtype"], mode="r")
    assert train.size == prepared["train_tokens"] and int(train.max()) < prepared["vocab_size"]

    training = only_summary(project, "train")
    assert training["global_step"] == 300 and training["val_loss_last"] < 0.5 * training["val_loss_first"], training
    assert training["alerts"] == []
    assert only_summary(project, "evaluate")["test_loss"] < 0.5 * training["val_loss_first"]
    exported = only_summary(project, "export")
    assert exported["int8_bytes"] <= 0.3 * exported["fp32_bytes"]
    assert exported["int8_perplexity"] <= 1.01 * exported["fp32_perplexity"]
    assert Path(exported["artifact_dir"]) == project / "artifacts" / "v1"
    assert "POST http://127.0.0.1:" in demo.stdout and only_summary(project, "serve")["requests"] == 1
    analyzed = only_summary(project, "analyze")
    assert str(curves) in analyzed["figures"] and Path(analyzed["report"]).is_file()
    assert git(project, "status", "--porcelain") == "", "data, logs and artifacts must be git-ignored"

    # The whole generated suite in one process (~470 tests: real servers, fuzzing, training): a hang guard with
    # room for a loaded 2-core machine, where it took over 900 s when another suite ran beside it.
    tests = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov", cwd=project, timeout=1800)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
    gate = re.search(r"Required test coverage of 80(?:\.0)?% reached\. Total coverage: ([\d.]+)%", tests.stdout)
    assert gate and float(gate[1]) >= 80, tests.stdout[-3000:]


def test_minimal_project_trains_and_passes_its_own_fast_tests(template_repo, tmp_path):
    """Other answers: Python 3.10, no serving, no Docker, no CI, a Unicode name; its suite without
    the slow end-to-end tests (the default project runs those)."""
    answers = {
        "project_name": "Ünïcode Chat-LLM 2",
        "python_version": "3.10",
        "ci": "none",
        "license": "Apache-2.0",
        "include_serving": False,
        "include_docker": False,
    }
    project = create_project(tmp_path / "project", template=str(template_repo), data=answers, defaults=True, quiet=True)
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    assert package == "unicode_chat_llm_2" and not (project / "src" / package / "serving").exists()
    install(project)

    prepared = run(sys.executable, "-m", f"{package}.prepare", cwd=project)
    assert prepared.returncode == 0, prepared.stderr
    assert Path(prepared.stdout.strip().splitlines()[-1]).is_relative_to(project / "logs" / "prepare")
    short = ["experiment=smoke", "trainer.max_steps=40", "trainer.val_check_interval=20"]
    trained = run(sys.executable, "-m", f"{package}.train", *short, cwd=project)
    assert trained.returncode == 0, trained.stderr[-3000:]
    training = json.loads(Path(trained.stdout.strip().splitlines()[-1]).read_text())
    assert training["global_step"] == 40 and training["val_loss_last"] < 0.5 * training["val_loss_first"]

    # `make demo-finetune`: a stand-in Llama, chat data, LoRA, evaluate, INT8 + Hugging Face export (no server here)
    demo = run(sys.executable, "-m", f"{package}.finetune_demo", cwd=project)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    hf_dir = Path(demo.stdout.strip().splitlines()[-1])
    assert hf_dir == project / "artifacts" / "v1" / "hf"
    assert json.loads((hf_dir / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    runs = sorted((project / "logs" / "train" / "runs").glob("*/summary.json"))  # the smoke run, then the LoRA one
    lora = json.loads(runs[-1].read_text())
    assert lora["global_step"] == 100 and lora["val_loss_last"] < lora["val_loss_first"], lora
    assert only_summary(project, "evaluate")["test_loss"] < lora["val_loss_first"]  # assistant tokens only
    assert git(project, "status", "--porcelain") == "", "models, data, logs and artifacts must be git-ignored"

    tests = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", cwd=project)
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
