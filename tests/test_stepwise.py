"""`update --stepwise` and the next steps migrations report, on a small real template history.

The history reproduces why one version at a time matters: v2 moves the section the user edited to
the top of the file and v3 edits that section's heading. Taken one version at a time, git's 3-way
merge sees v2 move the *other* section and keeps the user's line; the jump from v1 straight to v3
sees the edited section deleted and a changed one added at the top, and conflicts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, REPO_ROOT, git, small_template, tree_state
from typer.testing import CliRunner

from generator import update_state
from generator.cli import app
from generator.errors import UpdateError
from generator.new import create_project
from generator.project import commit_all
from generator.stepwise import update_stepwise

runner = CliRunner()
TRAINING = "# Training\nmax_epochs: 10\nlr: 0.001\n"
LOGGING = "# Logging\nlogger: csv\nlog_every: 50\n"
DATA = "# Data\nbatch_size: 8\n"
V3_HEADING = "# Logging: csv, tensorboard, wandb or mlflow\n"
SETTINGS_V1 = f"{TRAINING}\n{LOGGING}\n{DATA}"
SETTINGS_V2 = f"{LOGGING}\n{TRAINING}\n{DATA}"
SETTINGS_V3 = SETTINGS_V2.replace("# Logging\n", V3_HEADING)
SETTINGS_V4 = SETTINGS_V3.replace("log_every: 50", "log_every: 100")
NEXT_STEP = "log_every now counts optimizer steps: divide yours by the gradient accumulation"
MIGRATION = f"from next_steps import report\n\nreport({NEXT_STEP!r})\n"


def copier_yml(migrations: list[dict] | None = None) -> str:
    config: dict = {"_subdirectory": "template", "name": {"type": "str", "default": "demo"}}
    if migrations:
        config["_migrations"] = migrations
    return yaml.safe_dump(config)


def migration(version: str, script: str) -> dict:
    return {"version": version, "command": ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/" + script]}


def in_template(files: dict[str, str]) -> dict[str, str]:
    return {f"template/{name}": content for name, content in files.items()}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    helper = (REPO_ROOT / "hooks" / "migrations" / "next_steps.py").read_text()
    return small_template(
        tmp_path_factory.mktemp("stepwise") / "template",
        {
            "v1": {
                "copier.yml": copier_yml(),
                "hooks/next_steps.py": helper,
                **in_template({"settings.yaml": SETTINGS_V1, **ANSWERS_TEMPLATE}),
            },
            "v2": in_template({"settings.yaml": SETTINGS_V2}),
            "v3": {
                "copier.yml": copier_yml([migration("v3", "hooks/migrate_v3.py")]),
                "hooks/migrate_v3.py": MIGRATION,
                **in_template({"settings.yaml": SETTINGS_V3}),
            },
            "v4": in_template({"settings.yaml": SETTINGS_V4}),
        },
    )


def user_project(template: Path, dest: Path) -> Path:
    """A project made at v1 whose team set log_every (the line next to which v2 moves things)."""
    project = create_project(dest, template=str(template), vcs_ref="v1", defaults=True, quiet=True)
    git(project, "init", "--quiet")
    settings = project / "settings.yaml"
    settings.write_text(settings.read_text().replace("log_every: 50", "log_every: 10"))
    commit_all(project, "generated, with our logging interval")
    return project


def update_json(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["update", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def subjects(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").splitlines()


def test_a_jump_over_two_versions_conflicts_where_one_version_at_a_time_merges(template, tmp_path):
    jumped, stepped = user_project(template, tmp_path / "jumped"), user_project(template, tmp_path / "stepped")

    code, jump = update_json(str(jumped), "--to", "v3")
    assert (code, jump["status"], jump["conflicts"]) == (1, "conflicts", ["settings.yaml"])
    assert "<<<<<<< before updating" in (jumped / "settings.yaml").read_text()
    assert jump["next_steps"] == [NEXT_STEP] and jump["steps"][0]["next_steps"] == [NEXT_STEP]

    code, stepwise = update_json(str(stepped), "--to", "v3", "--stepwise")
    assert (code, stepwise["status"], stepwise["conflicts"]) == (0, "updated", [])
    steps = [(step["from_version"], step["to_version"], step["status"]) for step in stepwise["steps"]]
    assert steps == [("v1", "v2", "updated"), ("v2", "v3", "updated")]
    assert [step["next_steps"] for step in stepwise["steps"]] == [[], [NEXT_STEP]]
    assert stepwise["next_steps"] == [NEXT_STEP] and stepwise["changed"] == [".copier-answers.yml", "settings.yaml"]
    assert subjects(stepped)[:2] == ["Update template to v3", "Update template to v2"]
    assert [step["commit"] for step in stepwise["steps"]] == git(stepped, "rev-list", "-2", "--reverse", "HEAD").split()
    assert git(stepped, "status", "--porcelain") == ""
    assert (stepped / "settings.yaml").read_text() == SETTINGS_V3.replace("log_every: 50", "log_every: 10")


def test_stepwise_stops_at_the_first_version_that_conflicts(template, tmp_path):
    project = user_project(template, tmp_path / "project")
    before = tree_state(project)
    dry = runner.invoke(app, ["update", str(project), "--stepwise", "--dry-run"])
    assert dry.exit_code == 1 and f"+{V3_HEADING}" in dry.output and tree_state(project) == before, dry.output

    result = runner.invoke(app, ["update", str(project), "--stepwise"])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "v1 -> v2: committed" in output and "v2 -> v3: committed" in output and "v3 -> v4: conflicts" in output
    assert f"Next steps the template asks of you: - {NEXT_STEP}" in output
    assert "Conflicts to resolve: settings.yaml" in output
    assert subjects(project)[0] == "Update template to v3"
    assert {line[3:] for line in git(project, "status", "--porcelain").splitlines()} == {
        ".copier-answers.yml",
        "settings.yaml",
    }
    text = (project / "settings.yaml").read_text()
    assert "log_every: 10\n=======\nlog_every: 100" in text and text.startswith(V3_HEADING)
    assert update_state.read_record(project) is None


def test_a_failing_version_midway_restores_the_start_committed_steps_included(tmp_path):
    template = small_template(
        tmp_path / "template",
        {
            "v1": {"copier.yml": copier_yml(), **in_template({"notes.txt": "one\n", **ANSWERS_TEMPLATE})},
            "v2": in_template({"notes.txt": "two\n"}),
            "v3": {"copier.yml": copier_yml([migration("v3", "fails.py")]), "fails.py": "raise SystemExit(3)\n"},
        },
    )
    project = create_project(tmp_path / "project", template=str(template), vcs_ref="v1", defaults=True, quiet=True)
    git(project, "init", "--quiet")
    commit_all(project, "generated")
    before = tree_state(project)
    with pytest.raises(UpdateError, match="to v3 failed .*before the update, at v1: the versions committed before v3"):
        update_stepwise(project)
    assert tree_state(project) == before and update_state.read_record(project) is None
    assert update_stepwise(project, to="v2").steps[0].commit == git(project, "rev-parse", "HEAD").strip()


def test_the_v0_2_0_migration_reports_overrides_it_leaves_to_a_person(tmp_path):
    """The template's real migration, run as copier runs it (in the project), on a repository that
    passes `data=default` on a command line."""
    project = tmp_path / "project"
    (project / "configs" / "data").mkdir(parents=True)
    (project / "configs" / "data" / "default.yaml").write_text("source: default\n")
    (project / "scripts").mkdir()
    (project / "scripts" / "prepare.sh").write_text("#!/bin/sh\npython -m my_llm.prepare data=default\n")
    (project / "Makefile").write_text("data:\n\t$(PY) -m my_llm.prepare +data.source=default\n")
    git(project, "init", "--quiet")
    commit_all(project, "a project at v0.1.0")
    script = REPO_ROOT / "hooks" / "migrations" / "v0_2_0_rename_data_config.py"
    ran = subprocess.run([sys.executable, str(script)], cwd=project, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    step = "scripts/prepare.sh:2 passes data=default, renamed in v0.2.0: change it to data=corpus"
    assert f"NEXT STEP: {step}" in ran.stdout.splitlines()
    steps_file = project / ".git" / "llm-scaffold" / "next-steps"
    assert steps_file.read_text() == step + "\n"  # read (and removed) by `llm-scaffold update`


def test_a_killed_stepwise_run_is_undone_by_abort_to_the_last_version_it_committed(tmp_path):
    kill_parent = "import os, signal\n\nos.kill(os.getppid(), signal.SIGKILL)\n"
    template = small_template(
        tmp_path / "template",
        {
            "v1": {"copier.yml": copier_yml(), **in_template({"notes.txt": "one\n", **ANSWERS_TEMPLATE})},
            "v2": in_template({"notes.txt": "two\n"}),
            "v3": {
                "copier.yml": copier_yml([migration("v3", "kill.py")]),
                "kill.py": kill_parent,
                **in_template({"notes.txt": "three\n"}),
            },
        },
    )
    project = create_project(tmp_path / "project", template=str(template), vcs_ref="v1", defaults=True, quiet=True)
    git(project, "init", "--quiet")
    commit_all(project, "generated")
    cli = [sys.executable, "-m", "generator", "update", str(project)]
    killed = subprocess.run([*cli, "--stepwise"], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    assert (project / "notes.txt").read_text() == "three\n"  # the half-applied v3
    aborted = subprocess.run([*cli, "--abort"], capture_output=True, text=True, timeout=300)
    assert aborted.returncode == 0, aborted.stderr
    assert subjects(project)[0] == "Update template to v2" and git(project, "status", "--porcelain") == ""
    assert (project / "notes.txt").read_text() == "two\n"
