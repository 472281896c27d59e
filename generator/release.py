"""`llm-scaffold release`: tag a new template version, for template maintainers.

A release is a PEP 440 tag `vX.Y.Z` on a clean tree, above every existing version, with its
own section (`## vX.Y.Z`) in CHANGELOG.md: what `versions` shows and `update` moves projects to.
"""

from __future__ import annotations

from pathlib import Path

from generator import versions
from generator.errors import DirtyTreeError, TemplateSourceError, VersionError
from generator.project import git, uncommitted_changes


def release(version: str, repo: str | Path = ".") -> str:
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
    git(repo, "tag", "--annotate", version, "--message", f"llm-scaffold template {version}")
    return version
