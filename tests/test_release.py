"""release: tags only a clean, higher, documented version."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import copy_template, git
from typer.testing import CliRunner

from generator import versions
from generator.cli import app
from generator.errors import DirtyTreeError, VersionError
from generator.release import release

runner = CliRunner()


@pytest.fixture
def template(tmp_path: Path) -> Path:
    return copy_template(tmp_path / "template", tag="v0.1.0")


def add_changelog_section(template: Path, version: str) -> None:
    changelog = template / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## v0.1.0", f"## {version}\n\n- Something new.\n\n## v0.1.0", 1)
    )
    git(template, "commit", "--quiet", "-am", f"changelog for {version}")


def test_release_tags_a_documented_higher_version(template):
    add_changelog_section(template, "v0.2.0")
    result = runner.invoke(app, ["release", "v0.2.0", "--repo", str(template)])
    assert result.exit_code == 0, result.output
    assert versions.list_versions(str(template)) == ["v0.1.0", "v0.2.0"]
    assert git(template, "rev-list", "-n", "1", "v0.2.0") == git(template, "rev-parse", "HEAD")


def test_release_refuses_what_it_must(template):
    before = git(template, "tag", "--list")
    with pytest.raises(VersionError, match="not above the last release v0.1.0"):
        release("v0.1.0", template)
    with pytest.raises(VersionError, match="not a version tag"):
        release("1.0", template)
    with pytest.raises(VersionError, match="no '## v0.9.0' section"):
        release("v0.9.0", template)
    add_changelog_section(template, "v0.9.0")
    (template / "copier.yml").write_text((template / "copier.yml").read_text() + "\n# wip\n")
    with pytest.raises(DirtyTreeError, match="commit them before releasing"):
        release("v0.9.0", template)
    assert runner.invoke(app, ["release", "v0.9.0", "--repo", str(template)]).exit_code == 2
    assert git(template, "tag", "--list") == before


def test_release_refuses_a_commit_that_does_not_render_with_the_defaults(template):
    add_changelog_section(template, "v0.2.0")
    broken = template / "template" / "README.md.jinja"
    broken.write_text(broken.read_text() + "\n{% if %}\n")  # a Jinja syntax error: copier cannot render it
    git(template, "commit", "--quiet", "-am", "a broken README")
    result = runner.invoke(app, ["release", "v0.2.0", "--repo", str(template)])
    assert result.exit_code == 2
    assert "does not render with the default answers" in result.output and "nothing was tagged" in result.output
    assert "Traceback" not in result.output
    assert versions.list_versions(str(template)) == ["v0.1.0"]
