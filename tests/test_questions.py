"""Template questions: derived defaults, and every bad answer refused before anything is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from copier import run_copy
from typer.testing import CliRunner

from generator.cli import app
from generator.errors import InvalidAnswerError
from generator.new import create_project


@pytest.mark.parametrize(
    ("project_name", "package_name"),
    [
        ("Ünïcode Chat-LLM 2", "unicode_chat_llm_2"),
        ("My LLM", "my_llm"),
        ("2nd Brain", "llm_2nd_brain"),
        ("  Crème Brûlée -- GPT  ", "creme_brulee_gpt"),
        ("Straße Ærø Œuvre", "strasse_aero_oeuvre"),
        ("日本語", "llm_project"),
        ("A very long project name that goes on and on forever", "a_very_long_project_name_that_goes_on_an"),
    ],
)
def test_package_name_is_derived_as_a_valid_identifier(template_repo, tmp_path, project_name, package_name):
    worker = run_copy(
        str(template_repo),
        tmp_path / "out",
        data={"project_name": project_name},
        defaults=True,
        pretend=True,
        skip_tasks=True,
        quiet=True,
        unsafe=True,
    )
    derived = worker.answers.combined["package_name"]
    assert derived == package_name
    assert derived.isidentifier() and derived.isascii()


BAD_ANSWERS = [
    ("package_name", "torch", "would shadow the dependency or reserved module"),
    ("package_name", "lightning", "would shadow the dependency or reserved module"),
    ("package_name", "hydra", "would shadow the dependency or reserved module"),
    ("package_name", "datasets", "would shadow the dependency or reserved module"),
    ("package_name", "test", "would shadow the dependency or reserved module"),
    ("package_name", "json", "would shadow the standard-library module"),
    ("package_name", "class", "is a Python keyword"),
    ("package_name", "1model", "is not a valid package name"),
    ("package_name", "my-llm", "is not a valid package name"),
    ("package_name", "ünï", "is not a valid package name"),
    ("package_name", "", "The package name is empty"),
    ("package_name", "x" * 41, "is longer than 40 characters"),
    ("author_email", "not-an-email", "is not a valid e-mail address"),
    ("author_email", "team@localhost", "is not a valid e-mail address"),
    ("project_name", "   ", "The project name is empty"),
    ("python_version", "3.9", "3.9"),
    ("license", "GPL", "GPL"),
    ("ci", "travis", "travis"),
    ("logger", "neptune", "neptune"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_ANSWERS)
def test_library_refuses_bad_answers_and_writes_nothing(template_repo, tmp_path, key, value, message):
    dest = tmp_path / "project"
    with pytest.raises(InvalidAnswerError, match=message) as raised:
        create_project(dest, template=str(template_repo), data={key: value}, defaults=True, quiet=True)
    assert key in str(raised.value)
    assert list(tmp_path.iterdir()) == [], "nothing may be written, not even a staging folder"


@pytest.mark.parametrize(("key", "value", "message"), BAD_ANSWERS[::3])
def test_cli_refuses_bad_answers_with_exit_code_2(template_repo, tmp_path, key, value, message):
    dest = tmp_path / "project"
    result = CliRunner().invoke(
        app, ["new", str(dest), "--template", str(template_repo), "--defaults", "-d", f"{key}={value}"]
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not dest.exists()


def test_fixes_are_suggested(template_repo, tmp_path):
    with pytest.raises(InvalidAnswerError, match='choose another name, e.g. "torch_llm"'):
        create_project(tmp_path / "p", template=str(template_repo), data={"package_name": "torch"}, defaults=True)
    with pytest.raises(InvalidAnswerError, match="use the form name@example.com"):
        create_project(tmp_path / "p", template=str(template_repo), data={"author_email": "x"}, defaults=True)


@pytest.mark.parametrize(("key", "value"), [("package_name", "torch"), ("author_email", "nope"), ("project_name", "")])
def test_plain_copier_refuses_bad_answers_too(template_repo, tmp_path, key, value):
    dest = tmp_path / "project"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "-d",
            f"{key}={value}",
            str(template_repo),
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert f"Validation error for question '{key}'" in result.stderr
    assert not dest.exists()


def test_unknown_and_malformed_answers_are_refused(template_repo, tmp_path: Path):
    runner = CliRunner()
    unknown = runner.invoke(
        app, ["new", str(tmp_path / "a"), "--template", str(template_repo), "--defaults", "-d", "colour=red"]
    )
    assert unknown.exit_code == 2 and "unknown question(s) colour" in unknown.output
    assert "is ready" not in unknown.output and "Copying from template" not in unknown.output  # refused first
    malformed = runner.invoke(app, ["new", str(tmp_path / "b"), "--template", str(template_repo), "-d", "project_name"])
    assert malformed.exit_code == 2 and "is not key=value" in malformed.output
    assert list(tmp_path.iterdir()) == []
