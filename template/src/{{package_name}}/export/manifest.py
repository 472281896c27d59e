"""manifest.json of an artifact: where it came from, its metrics, and the sha256 and size of every file."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import yaml

from ..errors import ArtifactError
from ..utils.hashing import sha256_file

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
PACKAGE = __package__.split(".")[0]


def file_entries(folder: Path) -> dict[str, dict]:
    """sha256 and bytes of every file in the artifact folder except the manifest itself."""
    return {
        path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and path.name != MANIFEST
    }


def provenance(project_root: Path) -> dict:
    """The project's git commit (and whether the tree had local changes) and its template version."""
    root = Path(project_root)
    commit = git(root, "rev-parse", "HEAD")
    status = git(root, "status", "--porcelain") if commit else None
    answers_file = root / ".copier-answers.yml"
    answers = yaml.safe_load(answers_file.read_text(encoding="utf-8")) if answers_file.is_file() else None
    return {
        "git_commit": commit,
        "git_dirty": bool(status) if commit else None,
        "template_version": str(answers["_commit"]) if isinstance(answers, dict) and "_commit" in answers else None,
    }


def git(root: Path, *args: str) -> str | None:
    """stdout of a git command in root, or None without git or outside a repository."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def write_manifest(folder: Path, fields: dict) -> dict:
    """Hash the folder's files and write manifest.json with `fields` (version, source, metrics...)."""
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        **fields,
        "files": file_entries(folder),
    }
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{folder} has no {MANIFEST}: it is not an exported artifact; run the export stage")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path} is not valid JSON ({err}): re-export this version") from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ArtifactError(f"{path} lists no files: re-export this version")
    return manifest


def verify_files(folder: Path, manifest: dict) -> None:
    """Refuse a folder whose files are missing, truncated or changed since the manifest was written."""
    folder = Path(folder)
    fix = f"re-export it, or roll back: python -m {PACKAGE}.artifacts rollback"
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"artifact {folder} is missing {name}: {fix}")
        size = path.stat().st_size
        if size != expected["bytes"]:
            state = "truncated" if size < expected["bytes"] else "larger than exported"
            raise ArtifactError(f"{path} is {state} ({size} of {expected['bytes']} bytes): {fix}")
        if sha256_file(path) != expected["sha256"]:
            raise ArtifactError(f"{path} was modified after export (sha256 differs from {MANIFEST}): {fix}")
