"""Template versions: PEP 440 git tags `vX.Y.Z`, their CHANGELOG sections, and where an update goes.

A project made from a release follows releases. One made from an untagged commit (a template with
no tags, or `--to` a branch or commit) follows the template's default branch, unless a release
newer than its commit exists. `--to` takes any tag, branch or commit that descends from the project's.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator import template_source
from generator.errors import TemplateSourceError, VersionError
from generator.template_history import TemplateHistory, open_history

SECTION = re.compile(r"^## (v?\d[^\s]*)", re.MULTILINE)


def parse(tag: str) -> Version | None:
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def version_key(tag: str) -> Version:
    """The version a tag names, for sorting and comparing tags already known to be versions."""
    return Version(tag)


def list_versions(source: str) -> list[str]:
    """The template's version tags, oldest first (works for local paths and git URLs)."""
    result = subprocess.run(["git", "ls-remote", "--tags", "--refs", source], capture_output=True, text=True)
    if result.returncode != 0:
        raise TemplateSourceError(
            f"cannot read the versions of template '{source}' ({result.stderr.strip()}): "
            "check that it is a git repository or URL you can reach"
        )
    tags = [line.rsplit("refs/tags/", 1)[1] for line in result.stdout.splitlines() if "refs/tags/" in line]
    return sorted((tag for tag in tags if parse(tag) is not None), key=version_key)


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


@dataclass(frozen=True)
class Target:
    """Where an update goes: `ref` is a version tag, or the commit named as copier records it in `_commit`."""

    ref: str
    commit: str


def choose(source: str, requested: str | None, current: str | None = None) -> str:
    """The version to move a project to (or adopt it at), as `_commit` will record it; see resolve_target."""
    return resolve_target(source, requested, current).ref


def resolve_target(source: str, requested: str | None = None, current: str | None = None) -> Target:
    """Where a project recording `_commit` `current` moves to: `requested` (a tag, branch or commit), else
    the default target (see default_target). `current` itself when both name one commit.

    Refuses a ref the template does not have, a recorded `current` it does not have, a downgrade, and a
    commit that does not descend from `current` (another line of the template's history).
    """
    with open_history(source) as history:
        tags = version_tags(history)
        current_commit = recorded_commit(history, current) if current else None
        if requested:
            target = requested_target(history, tags, requested)
        else:
            target = default_target(history, tags, current, current_commit)
        if current and target.commit == current_commit:
            return Target(current, target.commit)
        if current and current_commit:
            ensure_forward(history, tags, current, current_commit, target)
        return target


def intermediate_targets(source: str, current: str, target: Target) -> list[Target]:
    """The template versions from `current` (excluded) to `target` (included), oldest first: the steps
    of `update --stepwise`. Between two releases: every release in between by version number; from or
    to a commit: every release on the history between the two, then the target."""
    with open_history(source) as history:
        tags = version_tags(history)
        if current in tags and target.ref in tags:
            low, high = version_key(current), version_key(target.ref)
            return [Target(tag, commit) for tag, commit in tags.items() if low < version_key(tag) <= high]
        current_commit = recorded_commit(history, current)
        steps, seen = [], {current_commit, target.commit}
        for tag, commit in tags.items():
            if (
                commit not in seen
                and history.contains(current_commit, commit)
                and history.contains(commit, target.commit)
            ):
                steps.append(Target(tag, commit))
                seen.add(commit)
        return [*steps, target]


def version_tags(history: TemplateHistory) -> dict[str, str]:
    """The template's version tags and their commits, oldest version first."""
    tags = {tag: commit for tag, commit in history.tag_commits().items() if parse(tag) is not None}
    return dict(sorted(tags.items(), key=lambda item: version_key(item[0])))


def recorded_commit(history: TemplateHistory, current: str) -> str:
    commit = history.commit(current)
    if commit is None:
        raise VersionError(
            f"the project records _commit {current}, which is not a version or commit of '{history.source}' "
            "(a project generated from uncommitted template changes records a commit only copier's copy had): "
            "set _commit in .copier-answers.yml to the version or commit it was made from"
        )
    return commit


def requested_target(history: TemplateHistory, tags: dict[str, str], requested: str) -> Target:
    commit = history.commit(requested)
    if commit is None:
        known = f"one of {', '.join(tags)}, " if tags else ""
        raise VersionError(
            f"version {requested} does not exist in '{history.source}': choose {known}a branch or a commit of it"
        )
    return Target(requested if requested in tags else history.describe(commit), commit)


def default_target(
    history: TemplateHistory, tags: dict[str, str], current: str | None, current_commit: str | None
) -> Target:
    """The latest release when the project was made from a release, or that release is newer than the
    project's commit; otherwise the head of the template's default branch (always so without tags)."""
    latest = next(reversed(tags), None)
    if latest is not None:
        release_is_next = current_commit is None or current in tags or history.contains(current_commit, tags[latest])
        if release_is_next:
            return Target(latest, tags[latest])
    head = history.head()
    if current_commit is not None and not history.contains(current_commit, head):
        raise VersionError(
            f"the project's template commit {current} is not on the default branch ({history.head_name()}) of "
            f"'{history.source}': pass --to with the tag, branch or commit to update to"
        )
    return Target(history.describe(head), head)


def ensure_forward(
    history: TemplateHistory, tags: dict[str, str], current: str, current_commit: str, target: Target
) -> None:
    """Refuse a downgrade; between two releases by version number (as copier compares them), else by history."""
    if current in tags and target.ref in tags:
        older = version_key(target.ref) < version_key(current)
    else:
        older = history.contains(target.commit, current_commit)
    if older:
        raise VersionError(
            f"{target.ref} is older than the project's {current}: downgrades are refused; "
            "to undo an update, revert its commit with git"
        )
    if not (current in tags and target.ref in tags) and not history.contains(current_commit, target.commit):
        raise VersionError(
            f"{target.ref} does not descend from the project's {current} (it is on another line of the template's "
            "history, which copier cannot merge from): choose a tag, branch or commit that contains it"
        )
