"""Trust: a template's own code (tasks, migrations) runs only for a template the user trusts.

The template below writes a file outside the project from its copy task and from its v2
migration, as a hostile template would. Trusted are: `--trust`, a `trust:` entry in copier's own
settings file, and the configured team template; anything else is refused before rendering.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, COPIER_SETTINGS, git, small_template

from generator.project import commit_all


def hostile_template(root: Path, victim: Path) -> Path:
    writes = f"import pathlib; pathlib.Path({str(victim)!r}).write_text('ran')"
    config = {
        "name": {"type": "str", "default": "demo"},
        "_tasks": [["{{ _copier_python }}", "-c", writes]],
        "_migrations": [{"version": "v2", "command": ["{{ _copier_python }}", "-c", writes]}],
    }
    return small_template(
        root,
        {
            "v1": {"copier.yml": yaml.safe_dump(config), "notes.txt.jinja": "{{ name }}\n", **ANSWERS_TEMPLATE},
            "v2": {"notes.txt.jinja": "{{ name }} v2\n"},
        },
    )


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.fixture
def untrusting(tmp_path: Path) -> dict:
    """The environment of a user whose copier settings trust nothing, with no team template set."""
    settings = tmp_path / "settings.yml"
    settings.write_text("trust: []\n")
    env = {key: value for key, value in os.environ.items() if key != "LLM_SCAFFOLD_TEMPLATE"}
    return {**env, COPIER_SETTINGS: str(settings)}


def test_untrusted_template_is_refused_before_rendering_and_runs_nothing(tmp_path, untrusting):
    victim = tmp_path / "outside" / "pwned"
    victim.parent.mkdir()
    template = hostile_template(tmp_path / "template", victim)
    dest = tmp_path / "project"

    refused = cli("new", str(dest), "--template", str(template), "--defaults", env=untrusting)
    assert refused.returncode == 2, refused.stderr
    message = " ".join(refused.stderr.split())
    assert "not trusted" in message and "--trust" in message and "trust:" in message
    assert "Traceback" not in refused.stderr
    assert not victim.exists() and not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "settings.yml", "template"]

    adopted = tmp_path / "adopted"
    adopted.mkdir()
    git(adopted, "init", "--quiet")
    refused_adopt = cli("adopt", str(adopted), "--template", str(template), env=untrusting)
    assert refused_adopt.returncode == 0 or "not trusted" in refused_adopt.stderr  # no code runs in adopt
    assert not victim.exists()

    trusted = cli("new", str(dest), "--template", str(template), "--defaults", "--trust", env=untrusting)
    assert trusted.returncode == 0, trusted.stderr
    assert victim.read_text() == "ran"


def test_copier_trust_list_and_team_template_are_trusted(tmp_path, untrusting):
    victim = tmp_path / "pwned"
    template = hostile_template(tmp_path / "template", victim)
    settings = Path(untrusting[COPIER_SETTINGS])

    settings.write_text(yaml.safe_dump({"trust": [f"{tmp_path}/"]}))
    listed = cli("new", str(tmp_path / "a"), "--template", str(template), "--defaults", env=untrusting)
    assert listed.returncode == 0, listed.stderr
    assert victim.read_text() == "ran"

    victim.unlink()
    settings.write_text("trust: []\n")
    team = {**untrusting, "LLM_SCAFFOLD_TEMPLATE": str(template)}
    configured = cli("new", str(tmp_path / "b"), "--defaults", env=team)
    assert configured.returncode == 0, configured.stderr
    assert victim.read_text() == "ran"


def test_update_of_an_untrusted_template_runs_no_migration_and_changes_nothing(tmp_path, untrusting):
    victim = tmp_path / "pwned"
    template = hostile_template(tmp_path / "template", victim)
    project = tmp_path / "project"
    created = cli("new", str(project), "--template", str(template), "--vcs-ref", "v1", "--defaults", "--trust")
    assert created.returncode == 0, created.stderr
    victim.unlink()
    git(project, "init", "--quiet")
    commit_all(project, "generated")
    head = git(project, "rev-parse", "HEAD")

    refused = cli("update", str(project), env=untrusting)
    assert refused.returncode == 2, refused.stderr
    assert "not trusted" in refused.stderr and "Traceback" not in refused.stderr
    assert not victim.exists()
    assert git(project, "rev-parse", "HEAD") == head and git(project, "status", "--porcelain") == ""

    fleet = cli("fleet", "update", str(project), env=untrusting)
    assert fleet.returncode == 1 and not victim.exists()
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD").strip() != "llm-scaffold/update-v2"

    updated = cli("update", str(project), "--trust", env=untrusting)
    assert updated.returncode == 0, updated.stderr
    assert victim.read_text() == "ran" and (project / "notes.txt").read_text() == "demo v2\n"


@pytest.mark.parametrize(
    ("content", "phrase"),
    [("trust: [unclosed\n", "is invalid"), ("trust: 5\n", "is invalid"), (None, "does not exist")],
)
def test_a_broken_copier_settings_file_is_one_line(tmp_path, untrusting, content, phrase):
    settings = Path(untrusting[COPIER_SETTINGS])
    if content is None:
        settings.unlink()
    else:
        settings.write_text(content)
    template = hostile_template(tmp_path / "template", tmp_path / "pwned")
    result = cli("new", str(tmp_path / "p"), "--template", str(template), "--defaults", "--trust", env=untrusting)
    assert result.returncode == 2 and phrase in result.stderr and str(settings) in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "pwned").exists()
