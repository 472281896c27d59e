"""The template's real migration (v0.2.0: configs/data/default.yaml -> configs/data/corpus.yaml) on real
git histories: v0.1.0 is this checkout with the rename undone, v0.2.0 is this checkout."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, copy_template, git

from generator.new import create_project
from generator.project import commit_all
from generator.update import update_project

OLD = Path("configs/data/default.yaml")
NEW = Path("configs/data/corpus.yaml")
MIGRATION_SAYS = "llm-scaffold migration v0.2.0"


def v0_1_0_data_config() -> str:
    """configs/data/default.yaml exactly as v0.1.0 shipped it: the migration's own merge base."""
    path = REPO_ROOT / "hooks" / "migrations" / "v0_2_0_rename_data_config.py"
    sys.path.insert(0, str(path.parent))  # the migration imports its sibling next_steps
    try:
        spec = importlib.util.spec_from_file_location("v0_2_0_rename_data_config", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module.V0_1_0_CONTENT


def as_v0_1_0(repo: Path) -> None:
    """Undo the v0.2.0 rename: the data config as v0.1.0 had it under its old name, chosen by name, no
    migration (later versions changed corpus.yaml, so this checkout's file is not v0.1.0's)."""
    data = repo / "template" / "configs" / "data"
    (data / "corpus.yaml").unlink()
    (data / "default.yaml").write_text(v0_1_0_data_config(), encoding="utf-8")
    prepare = repo / "template" / "configs" / "prepare.yaml.jinja"
    prepare.write_text(prepare.read_text().replace("- data: corpus\n", "- data: default\n"))
    copier_yml = repo / "copier.yml"
    text = copier_yml.read_text()
    start, end = text.index("# One script per version"), text.index('_rename_data_config.py"]\n')
    copier_yml.write_text(text[:start] + text[end + len('_rename_data_config.py"]\n') :])


def release(repo: Path, tag: str, corpus_edit: tuple[str, str] | None = None) -> None:
    """Tag the template as this checkout has it, with an optional template edit of the data config."""
    (repo / "template" / "configs" / "data" / "default.yaml").unlink(missing_ok=True)
    for name in ("copier.yml", "template/configs/prepare.yaml.jinja", "template/configs/data/corpus.yaml"):
        shutil.copy2(REPO_ROOT / name, repo / name)
    if corpus_edit:
        corpus = repo / "template" / NEW
        text = corpus.read_text()
        assert corpus_edit[0] in text
        corpus.write_text(text.replace(*corpus_edit))
    commit_all(repo, tag)
    git(repo, "tag", tag)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    repo = copy_template(tmp_path / "template", tag=None)
    as_v0_1_0(repo)
    commit_all(repo, "v0.1.0")
    git(repo, "tag", "v0.1.0")
    return repo


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    project = create_project(tmp_path / "project", template=str(template), vcs_ref="v0.1.0", defaults=True, quiet=True)
    assert (project / OLD).is_file() and not (project / NEW).exists()
    return project


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_untouched_project_is_renamed_and_equals_a_fresh_render(template, project, tmp_path, capfd):
    release(template, "v0.2.0")
    result = update_project(project)
    assert (result.status, result.conflicts) == ("updated", [])
    assert f"{OLD} -> {NEW} (no local edits)" in capfd.readouterr().out
    fresh = create_project(tmp_path / "fresh", template=str(template), vcs_ref="v0.2.0", defaults=True, quiet=True)
    files = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert files == {p.relative_to(project) for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}
    for name in files:
        assert (project / name).read_bytes() == (fresh / name).read_bytes(), name


def test_user_edits_move_to_the_new_name_merge_with_template_edits_and_the_migration_runs_once(
    template, project, capfd
):
    edit(project / OLD, "vocab_size: 2048", "vocab_size: 4096 # our tokenizer")
    (project / OLD).write_text((project / OLD).read_text() + "# our team's note\n")
    mine = project / "configs" / "experiment" / "mine.yaml"
    mine.write_text("# @package _global_\ndefaults:\n  - override /data: default # ours\n")
    commit_all(project, "our data settings")
    release(template, "v0.2.0", corpus_edit=("min_chars: 32", "min_chars: 48"))

    result = update_project(project)
    assert (result.status, result.conflicts) == ("updated", [])
    assert "your edits moved along (merged cleanly)" in capfd.readouterr().out
    assert not (project / OLD).exists() and not (project / f"{OLD}.rej").exists()
    moved = (project / NEW).read_text()
    config = yaml.safe_load(moved)
    assert config["tokenizer"]["vocab_size"] == 4096 and config["cleaning"]["min_chars"] == 48
    assert moved.endswith("# our team's note\n") and "vocab_size: 4096 # our tokenizer" in moved
    assert mine.read_text() == "# @package _global_\ndefaults:\n  - override /data: corpus # ours\n"
    assert "- data: corpus" in (project / "configs" / "prepare.yaml").read_text()

    commit_all(project, "update to v0.2.0")
    readme = template / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nNew in v0.3.0.\n")
    commit_all(template, "v0.3.0")
    git(template, "tag", "v0.3.0")
    assert update_project(project).status == "updated"
    assert MIGRATION_SAYS not in capfd.readouterr().out, "the v0.2.0 migration must not run again"
    assert (project / NEW).read_text() == moved


def test_an_edit_the_template_also_made_becomes_a_conflict_in_the_new_file(template, project):
    edit(project / OLD, "min_chars: 32", "min_chars: 16")
    commit_all(project, "shorter documents")
    release(template, "v0.2.0", corpus_edit=("min_chars: 32", "min_chars: 48"))

    result = update_project(project)
    assert (result.status, result.conflicts) == ("conflicts", [NEW.as_posix()])
    text = (project / NEW).read_text()
    assert "<<<<<<< before updating" in text and "min_chars: 16" in text and "min_chars: 48" in text
    assert not (project / OLD).exists()


def test_a_deleted_data_config_stays_deleted(template, project):
    git(project, "rm", "--quiet", OLD.as_posix())
    commit_all(project, "we configure data elsewhere")
    release(template, "v0.2.0")
    assert update_project(project).status == "updated"
    assert not (project / OLD).exists() and not (project / NEW).exists()


def test_plain_copier_update_with_rej_conflicts_runs_the_migration(template, project):
    """The command line Renovate's copier manager runs, here with copier's .rej mode."""
    edit(project / OLD, "seed: 1337", "seed: 7")
    commit_all(project, "our seed")
    release(template, "v0.2.0")
    result = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--skip-answered", "--defaults", "--trust", "--conflict", "rej"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "your edits moved along (merged cleanly)" in result.stdout
    assert yaml.safe_load((project / NEW).read_text())["split"]["seed"] == 7
    assert not (project / OLD).exists() and not list(project.rglob("*.rej"))
