"""Every CLI command against broken projects: exit 2 (fleet: 1, with an error row) and one line that
names the problem, never a traceback; one broken repository never stops a fleet."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, git, small_template

from generator.project import commit_all

CONFLICTED_PYPROJECT = (
    '[project]\nname = "demo"\n<<<<<<< before updating\nversion = "1"\n=======\nversion = "2"\n>>>>>>> after updating\n'  # noqa: E501
)
BREAKAGES = {
    "yaml": lambda p: (p / ".copier-answers.yml").write_text("_commit: [v1\n_src_path: {\n"),
    "list": lambda p: (p / ".copier-answers.yml").write_text("- v1\n- v2\n"),
    "utf8": lambda p: (p / ".copier-answers.yml").write_bytes(b"_commit: v1\n\xff\xfe\x00name: \xe9t\xe9\n"),
    "no-commit": lambda p: edit_answers(p, _commit="v9.9.9-missing"),
    "commit-above-latest": lambda p: edit_answers(p, _commit="v9.9.9"),
    "relative-source": lambda p: edit_answers(p, _src_path="../template"),
    "no-answers": lambda p: (p / ".copier-answers.yml").unlink(),
    "pyproject-markers": lambda p: (p / "pyproject.toml").write_text(CONFLICTED_PYPROJECT),
}
COMMANDS = [
    ["check"],
    ["check", "--json"],
    ["diff"],
    ["update", "--dry-run"],
    ["update"],
    ["update", "--abort"],
]
# An update does not read pyproject.toml (copier merges it like any file): markers there do not stop it.
READS_PYPROJECT = {"check", "diff"}


def edit_answers(project: Path, **changes) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    (project / ".copier-answers.yml").write_text(yaml.safe_dump({**answers, **changes}))


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("broken")
    config = yaml.safe_dump({"name": {"type": "str", "default": "demo"}})
    template = small_template(
        root / "template",
        {
            "v1": {"copier.yml": config, "notes.txt.jinja": "{{ name }}\n", **ANSWERS_TEMPLATE},
            "v2": {"notes.txt.jinja": "{{ name }} v2\n"},
        },
    )
    good = root / "good"
    assert cli("new", str(good), "--template", str(template), "--vcs-ref", "v1", "--defaults").returncode == 0
    git(good, "init", "--quiet")
    commit_all(good, "generated")
    found = {"good": good}
    for name, breaks in BREAKAGES.items():
        project = root / name
        shutil.copytree(good, project)
        breaks(project)
        commit_all(project, f"broken: {name}")
    not_git = root / "not-git"
    shutil.copytree(good, not_git, ignore=shutil.ignore_patterns(".git"))
    found.update({name: root / name for name in BREAKAGES}, **{"not-git": not_git, "missing": root / "missing"})
    return found


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_on_every_broken_project_exits_2_with_one_line(projects, command):
    for name, project in projects.items():
        if name == "good" or name == "pyproject-markers" and command[0] not in READS_PYPROJECT:
            continue
        result = cli(*command, str(project))
        output = result.stdout + result.stderr
        assert result.returncode == 2, (name, output)
        assert "Traceback" not in output and output.startswith("error:"), (name, output)
        assert len(output.strip().splitlines()) <= 4, (name, output)  # one message, wrapped at most


def test_a_recorded_version_the_template_lacks_is_named_as_such(projects):
    result = cli("update", str(projects["commit-above-latest"]))
    assert result.returncode == 2 and "_commit v9.9.9, which is not a version" in " ".join(result.stderr.split())


def test_versions_inside_a_broken_project_is_one_line_too(projects):
    for name in ("yaml", "list", "utf8"):
        result = cli("versions", cwd=projects[name])
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert ".copier-answers.yml" in result.stderr


def test_messages_name_the_problem(projects):
    expected = {
        "yaml": "is not valid YAML at line",
        "list": "holds a list, not key: value answers",
        "utf8": "is not UTF-8 text",
        "no-commit": "v9.9.9-missing",
        "commit-above-latest": "v9.9.9",
        "relative-source": "relative template path",
        "no-answers": "has no .copier-answers.yml",
        "pyproject-markers": "pyproject.toml is not valid TOML",
        "not-git": "is not a git repository",
        "missing": "is not a folder",
    }
    for name, phrase in expected.items():
        result = cli("check", str(projects[name]))
        assert phrase in " ".join(result.stderr.split()), (name, result.stderr)


@pytest.mark.parametrize("kind", ["status", "update"])
def test_fleet_reports_each_broken_repository_and_goes_on(projects, kind):
    names = list(projects)
    result = cli("fleet", kind, *(str(projects[name]) for name in names), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    rows = dict(zip(names, json.loads(result.stdout), strict=True))
    assert rows["good"]["result"] == ("behind" if kind == "status" else "updated"), rows["good"]
    for name in names[1:]:
        if name == "pyproject-markers" and kind == "update":
            assert rows[name]["result"] == "updated"
            continue
        assert rows[name]["result"] == "error" and rows[name]["message"], (name, rows[name])


def test_new_into_an_unwritable_destination_is_one_line(tmp_path, projects):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    template = str(projects["good"].parent / "template")
    for dest in (blocker / "project", Path("/proc/llm-scaffold-project")):
        result = cli("new", str(dest), "--template", template, "--defaults")
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.startswith("error:"), result.stderr
