"""Template versions: PEP 440 git tags `vX.Y.Z`, and their CHANGELOG sections."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator import template_source
from generator.errors import TemplateSourceError

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
