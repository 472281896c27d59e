"""`llm-scaffold release`: tag a new template version, for template maintainers.

A release is a PEP 440 tag `vX.Y.Z` on a clean tree, above every existing version, with its
own section (`## vX.Y.Z`) in CHANGELOG.md, whose commit renders with the default answers: what
`versions` shows and `update` moves projects to.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from copier import run_copy

from generator import versions
from generator.errors import DirtyTreeError, ReleaseError, TemplateSourceError, VersionError
from generator.project import git, uncommitted_changes


def release(version: str, repo: str | Path = ".", progress: Callable[[str], None] = lambda _: None) -> str:
    """Create the annotated tag `version` at HEAD of the template repository `repo`; return it."""
    repo = Path(repo).expanduser().resolve()
    if not (repo / "copier.yml").is_file() or not (repo / ".git").exists():
        raise TemplateSourceError(f"{repo} is not a template git repository (copier.yml + .git): run this in one")
    if not version.startswith("v") or versions.parse(version) is None:
        raise VersionError(f"'{version}' is not a version tag: use the form vX.Y.Z, e.g. v1.2.0")
    dirty = uncommitted_changes(repo)
    if dirty:
        raise DirtyTreeError(f"{repo} has uncommitted changes ({', '.join(dirty[:5])}): commit them before releasing")
    existing = versions.list_versions(str(repo))
    if existing and versions.parse(version) <= versions.parse(existing[-1]):
        raise VersionError(f"{version} is not above the last release {existing[-1]}: choose a higher version")
    if version not in versions.changelog(str(repo)):
        raise VersionError(f"CHANGELOG.md has no '## {version}' section: describe the release there and commit first")
    progress(f"Rendering {repo} at HEAD with the default answers before tagging {version} ...")
    check_renders(repo)
    git(repo, "tag", "--annotate", version, "--message", f"llm-scaffold template {version}")
    return version


def check_renders(repo: Path) -> None:
    """Generate a project from HEAD with every default answer, tasks included, in a throw-away folder.

    The maintainer releases their own repository, so its tasks run (unsafe=True): a release whose
    first project fails to generate must not reach the teams that update to it.
    """
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-release-") as scratch:
        try:
            run_copy(str(repo), Path(scratch) / "project", vcs_ref="HEAD", defaults=True, quiet=True, unsafe=True)
        except Exception as err:  # copier's own errors, a failing task, a template bug: all stop the release
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ReleaseError(
                f"HEAD of {repo} does not render with the default answers ({type(err).__name__}: {reason}); "
                "nothing was tagged: fix the template, commit, and release again"
            ) from err
