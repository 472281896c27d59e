"""Property: whatever the user edits and the template changes, an update loses no user line.

Each scenario is a real tiny template (git, tags v1 and v2), a real project made from v1, real
user edits committed, and a real `update_project`. In v2 the template edits the file, renames it
(with edits) or deletes it. A user-written line must survive: merged or inside a conflict block
in the file or its new name, or in the kept file when the template deletes it; the result reports
conflicts exactly when markers remain or an edited file was kept. The slow test runs 200 scenarios
(CI runs it); the quick one 30.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from copier import run_copy
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from generator.update import update_project

LINES = 8
IDENTITY = ["-c", "user.name=prop", "-c", "user.email=prop@localhost"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *IDENTITY, *args], cwd=repo, check=True, capture_output=True)


def edited(lines: list[str], changes: dict[int, str], appended: list[str]) -> str:
    return "\n".join([changes.get(i, line) for i, line in enumerate(lines)] + appended) + "\n"


MOVED = "docs/notes.txt"


def scenario(root: Path, fate: str, template_changes: dict, template_tail: list, user_changes: dict, user_tail: list):
    template = root / "template"
    template.mkdir()
    (template / "copier.yml").write_text("name:\n  type: str\n  default: demo\n")
    base = [f"line {i} of {{{{ name }}}}" for i in range(LINES)]
    (template / "notes.txt.jinja").write_text(edited(base, {}, []))
    (template / "{{_copier_conf.answers_file}}.jinja").write_text("{{ _copier_answers|to_nice_yaml -}}\n")
    git(template, "init", "--quiet")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "v1")
    git(template, "tag", "v1")
    if fate == "edit":
        (template / "notes.txt.jinja").write_text(edited(base, template_changes, template_tail))
    elif fate == "rename":
        (template / "docs").mkdir()
        git(template, "mv", "notes.txt.jinja", f"{MOVED}.jinja")
        (template / f"{MOVED}.jinja").write_text(edited(base, template_changes, template_tail))
    else:
        git(template, "rm", "--quiet", "notes.txt.jinja")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "--allow-empty", "-m", "v2")
    git(template, "tag", "v2")

    project = root / "project"
    run_copy(str(template), project, vcs_ref="v1", defaults=True, quiet=True)
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "generated")
    rendered = [f"line {i} of demo" for i in range(LINES)]
    (project / "notes.txt").write_text(edited(rendered, user_changes, user_tail))
    git(project, "commit", "--quiet", "--allow-empty", "-am", "user edits")
    return project


changes = st.dictionaries(st.integers(0, LINES - 1), st.sampled_from(["A", "B", "C"]), max_size=4)
tails = st.lists(st.sampled_from(["x", "y"]), max_size=2)
# A rename keeps at least half of the file (git's rename detection); edits draw from `changes` too.
fates = st.sampled_from(["edit", "edit", "rename", "delete"])


def check_no_user_line_is_lost(fate, template_changes, template_tail, user_changes, user_tail) -> None:
    user_changes = {i: f"user {i} {v}" for i, v in user_changes.items()}
    user_tail = [f"user tail {i} {v}" for i, v in enumerate(user_tail)]
    template_changes = {i: f"template {i} {v}" for i, v in template_changes.items()}
    template_tail = [f"template tail {i} {v}" for i, v in enumerate(template_tail)]
    if fate == "rename":  # stay similar enough for git to see a rename, not a delete and an add
        template_changes = dict(list(template_changes.items())[:2])
        template_tail = template_tail[:1]
    user_lines = [*user_changes.values(), *user_tail]
    with tempfile.TemporaryDirectory() as scratch:
        project = scenario(Path(scratch), fate, template_changes, template_tail, user_changes, user_tail)
        user_text = (project / "notes.txt").read_text()
        result = update_project(project)
        assert result.to_version == "v2"
        if fate == "delete":
            assert result.conflicts == (["notes.txt"] if user_lines else [])
            kept = project / "notes.txt"
            assert kept.read_text() == user_text if user_lines else not kept.exists()
            return
        text = (project / (MOVED if fate == "rename" else "notes.txt")).read_text()
        for line in user_lines:
            assert line in text, f"user line {line!r} lost:\n{text}"
        has_markers = "<<<<<<<" in text
        assert bool(result.conflicts) == has_markers
        if fate == "rename":
            assert not (project / "notes.txt").exists()


# Deterministic scenarios (the same in every run) and no shrinking: a failure prints its example
# at once instead of spending minutes on real git repositories to minimise it.
FAST = {
    "deadline": None,
    "derandomize": True,
    "phases": [Phase.generate],
    "suppress_health_check": [HealthCheck.too_slow],
}


@settings(max_examples=30, **FAST)
@given(fates, changes, tails, changes, tails)
def test_no_user_line_is_lost_quick(fate, template_changes, template_tail, user_changes, user_tail):
    check_no_user_line_is_lost(fate, template_changes, template_tail, user_changes, user_tail)


@pytest.mark.slow
@settings(max_examples=200, **FAST)
@given(fates, changes, tails, changes, tails)
def test_no_user_line_is_lost_200_scenarios(fate, template_changes, template_tail, user_changes, user_tail):
    check_no_user_line_is_lost(fate, template_changes, template_tail, user_changes, user_tail)
