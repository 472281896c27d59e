"""Template versions: PEP 440 git tags `vX.Y.Z`, and their CHANGELOG sections."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator import template_source
from generator.errors import TemplateSourceError, VersionError

SECTION = re.compile(r"^## (v?\d[^\s]*)", re.MULTILINE)


def parse(tag: str) -> Version | None:
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def list_versions(source: str) -> list[str]:
    """The template's version tags, oldest first (works for local paths and git URLs)."""
    result = subprocess.run(["git", "ls-remote", "--tags", "--refs", source], capture_output=True, text=True)
    if result.returncode != 0:
        raise TemplateSourceError(
            f"cannot read the versions of template '{source}' ({result.stderr.strip()}): "
            "check that it is a git repository or URL you can reach"
        )
    tags = [line.rsplit("refs/tags/", 1)[1] for line in result.stdout.splitlines() if "refs/tags/" in line]
    return sorted((tag for tag in tags if parse(tag) is not None), key=parse)


def latest_version(source: str) -> str | None:
    versions = list_versions(source)
    return versions[-1] if versions else None


def changelog(source: str) -> dict[str, str]:
    """CHANGELOG.md sections by version (local templates; empty for URLs)."""
    if template_source.is_url(source) or not (Path(source) / "CHANGELOG.md").is_file():
        return {}
    text = (Path(source) / "CHANGELOG.md").read_text(encoding="utf-8")
    matches = list(SECTION.finditer(text))
    sections = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        body = text[match.end() : following.start() if following else len(text)]
        sections[match.group(1)] = body.split("\n", 1)[1].strip() if "\n" in body else ""
    return sections


def choose(source: str, requested: str | None, current: str | None = None) -> str:
    """The version to move a project to (or adopt it at): `requested`, else the latest tag.

    Refuses a version the template does not have, a recorded `current` version it does not have,
    and a downgrade below `current`.
    """
    available = list_versions(source)
    target = requested or (available[-1] if available else None)
    if target is None:
        raise VersionError(f"template '{source}' has no version tags (vX.Y.Z): tag a release first")
    if target not in available:
        raise VersionError(f"version {target} does not exist in '{source}': choose one of {', '.join(available)}")
    recorded = parse(current) if current else None
    if recorded is not None and current not in available:
        raise VersionError(
            f"the project records _commit {current}, which is not a version of '{source}' "
            f"({', '.join(available)}): set _commit in .copier-answers.yml to the version it was made from"
        )
    if recorded is not None and parse(target) < recorded:
        raise VersionError(
            f"{target} is older than the project's {current}: downgrades are refused; "
            "to undo an update, revert its commit with git"
        )
    return target
