"""The generated project's engineering files, checked by real linters for every `ci` x `include_docker`:
hadolint (Dockerfile), check-jsonschema and actionlint (GitHub workflow), npm-groovy-lint (Jenkinsfile);
the lock covers every variant's pyproject.toml; pre-commit and the coverage gate run for real."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, TEMPLATE_FILES, copy_template

from generator.new import create_project

BIN = Path(sys.executable).parent
NODE_MODULES = REPO_ROOT / "build" / "node-tools" / "node_modules"  # `make test` installs them (repo Makefile)
GROOVY_LINT = NODE_MODULES / ".bin" / "npm-groovy-lint"
# actionlint's wasm build, called through its JS API: prints the errors of the given files as JSON.
ACTIONLINT_JS = """
const fs = require("node:fs");
require("actionlint").createLinter().then((lint) => {
  const files = process.argv.slice(1);
  console.log(JSON.stringify(files.flatMap((path) => lint(fs.readFileSync(path, "utf8"), path))));
});
"""
COMBINATIONS = [(ci, docker) for ci in ("jenkins", "github", "both", "none") for docker in (True, False)]


def run(*args: str | Path, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def need(tool: Path) -> None:
    if not tool.exists():
        pytest.fail(f"{tool} is missing: `make test` installs it (npm install into build/node-tools)")


@functools.cache
def groovy_lint(jenkinsfile_text: str) -> subprocess.CompletedProcess:
    """npm-groovy-lint (CodeNarc on Java) at warning level, once per distinct Jenkinsfile (about 30 s each)."""
    need(GROOVY_LINT)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "Jenkinsfile").write_text(jenkinsfile_text)
        return run(GROOVY_LINT, "--failon", "warning", "--noserver", "--output", "txt", "Jenkinsfile", cwd=Path(folder))


def actionlint(project: Path, workflow: Path) -> list[dict]:
    """actionlint's findings, less the two this wasm build (actionlint 2.0.6 on npm) gets wrong: it predates
    the `vars` context, and it cannot read .github/actionlint.yaml, which declares the self-hosted labels."""
    need(NODE_MODULES / "actionlint")
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    result = run("node", "-e", ACTIONLINT_JS, workflow.relative_to(project), cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    labels = yaml.safe_load((project / ".github" / "actionlint.yaml").read_text())["self-hosted-runner"]["labels"]
    declared = [f'label "{label}" is unknown' for label in labels]
    return [
        finding
        for finding in json.loads(result.stdout)
        if 'undefined variable "vars"' not in finding["message"]
        and not any(text in finding["message"] for text in declared)
    ]


@pytest.mark.parametrize(("ci", "include_docker"), COMBINATIONS, ids=[f"{ci}-docker{d:d}" for ci, d in COMBINATIONS])
def test_rendered_files_follow_the_answers_and_pass_their_linters(render, ci, include_docker):
    project = render(ci=ci, include_docker=include_docker)
    jenkins, github = ci in ("jenkins", "both"), ci in ("github", "both")
    assert (project / "Jenkinsfile").exists() is jenkins
    assert (project / ".github").exists() is github
    assert (project / "Dockerfile").exists() is include_docker
    assert (project / ".dockerignore").exists() is include_docker
    assert ("docker-build:" in (project / "Makefile").read_text()) is include_docker
    assert (project / ".pre-commit-config.yaml").exists() and (project / "requirements.lock").exists()

    if include_docker:
        dockerfile = (project / "Dockerfile").read_text()
        hadolint = run(BIN / "hadolint", "--failure-threshold", "info", "Dockerfile", cwd=project)
        assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
        for line in ("AS builder", "AS runtime", "AS train", "AS serve", "USER 10001", "HEALTHCHECK", "EXPOSE 8000"):
            assert line in dockerfile, line
        assert "FROM ${CUDA_IMAGE}" in dockerfile and "ARG CUDA_IMAGE=nvidia/cuda:" in dockerfile
        ignored = (project / ".dockerignore").read_text().split()
        assert {".git", ".venv", "data/", "logs/", "outputs/", "artifacts/"} <= set(ignored)
    if github:
        workflow = project / ".github" / "workflows" / "ci.yml"
        schema = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow)
        assert schema.returncode == 0, schema.stdout + schema.stderr
        assert actionlint(project, workflow) == []
        jobs = yaml.safe_load(workflow.read_text())["jobs"]
        assert list(jobs) == ["lint", "test", "gpu-integration", "gpu-skipped", "benchmarks", "package"]
        assert jobs["gpu-integration"]["runs-on"] == ["self-hosted", "linux", "gpu"]
    if jenkins:
        jenkinsfile = (project / "Jenkinsfile").read_text()
        lint = groovy_lint(jenkinsfile)
        assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
        for stage in ("Lint", "Test", "GPU integration", "Benchmarks", "Package"):
            assert f"stage('{stage}')" in jenkinsfile, stage
        for text in ("fingerprint: true", "junit ", "GPU integration skipped", "timeout(time:"):
            assert text in jenkinsfile, text


def test_serving_off_leaves_the_serve_image_out(render):
    project = render(include_serving=False)
    dockerfile = (project / "Dockerfile").read_text()
    assert "AS train" in dockerfile and "AS serve" not in dockerfile and "HEALTHCHECK" not in dockerfile
    hadolint = run(BIN / "hadolint", "--failure-threshold", "info", "Dockerfile", cwd=project)
    assert hadolint.returncode == 0, hadolint.stdout
    assert "--extra serve" not in (project / "Makefile").read_text()


@pytest.mark.parametrize("logger", ["csv", "tensorboard", "wandb", "mlflow"])
def test_each_variants_lock_pins_every_dependency_of_its_pyproject(render, logger):
    project = render(logger=logger, python_version="3.10", include_serving=logger != "wandb")
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    result = run(sys.executable, "-m", f"{package}.devtools.check_lock", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    lock = (project / "requirements.lock").read_text().splitlines()
    assert "torch==2.13.0" in lock and "{%" not in "".join(lock)
    pins = [line for line in lock if line and not line.startswith("#")]
    assert pins == sorted(pins, key=lambda line: line.split("==")[0].lower().replace("_", "-"))
    assert any(line.startswith(f"{logger}==") for line in lock) is (logger != "csv")


@pytest.mark.slow
def test_pre_commit_runs_every_hook_offline_from_github(tmp_path):
    """A fresh project, its own git repo; pre-commit installs every hook from the package index and local git."""
    files = [*TEMPLATE_FILES, ".pre-commit-hooks.yaml", "pyproject.toml", "README.md", "generator"]
    template = copy_template(tmp_path / "template", files=files)  # a template repo with its hook
    project = create_project(tmp_path / "project", template=str(template), defaults=True, quiet=True)
    config = (project / ".pre-commit-config.yaml").read_text()
    assert "github.com" not in config and f"repo: {json.dumps(str(template))}" in config and 'rev: "v0.1.0"' in config

    # Any attempt to reach GitHub fails: git rewrites its URLs to an address that does not resolve.
    github_blocked = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "url.https://github.invalid/.insteadOf"}
    github_blocked["GIT_CONFIG_VALUE_0"] = "https://github.com/"
    env = {**os.environ, **github_blocked, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    result = run(sys.executable, "-m", "pre_commit", "run", "--all-files", cwd=project, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for hook in ("ruff check", "ruff format", "check yaml", "fix end of files", "llm-scaffold check"):
        assert any(line.startswith(hook) and line.endswith("Passed") for line in result.stdout.splitlines()), hook


@pytest.mark.slow
def test_coverage_gate_fails_below_80_percent(render):
    """`make test` on a project whose suite is cut down to one small test file: coverage ~20%, exit non-zero."""
    project = render(project_name="Coverage Gate")
    for test in (project / "tests").glob("test_*.py"):
        if test.name != "test_cleaning.py":
            test.unlink()
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    env.pop("PROJECT_ROOT", None)
    result = run(shutil.which("make"), "test", f"PY={sys.executable}", cwd=project, env=env)
    assert result.returncode != 0
    gate = re.search(r"FAIL Required test coverage of 80(\.0)?% not reached\. Total coverage: ([\d.]+)%", result.stdout)
    assert gate and float(gate[2]) < 30, result.stdout[-3000:]
    assert " passed" in result.stdout and " failed" not in result.stdout  # the tests pass; only the gate fails
    assert (project / "reports" / "junit.xml").is_file() and (project / "coverage.xml").is_file()
