"""manifest.json of an artifact: where it came from, its metrics, and the sha256 and size of every file."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path, PurePosixPath

import yaml

from ..errors import ArtifactError
from ..utils.hashing import sha256_file
from ..utils.paths import PACKAGE

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def file_entries(folder: Path) -> dict[str, dict]:
    """sha256 and bytes of every file in the artifact folder (subfolders too: hf/) except the manifest itself."""
    folder = Path(folder)
    return {
        path.relative_to(folder).as_posix(): {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path != folder / MANIFEST
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
    """The manifest of an artifact folder, refused with an ArtifactError unless it is well formed."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{folder} has no {MANIFEST}: it is not an exported artifact; run the export stage")
    manifest = read_json(path, fix="re-export this version")
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path} is not a JSON object: re-export this version")
    problem = manifest_problem(manifest)
    if problem:
        raise ArtifactError(f"{path} {problem}: re-export this version")
    return manifest


def read_json(path: Path, fix: str) -> object:
    """Parse a JSON file; unreadable, undecodable, malformed or absurdly nested content is an ArtifactError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ArtifactError(f"{path} is not valid JSON ({type(err).__name__}: {err}): {fix}") from err


def manifest_problem(manifest: dict) -> str | None:
    """What is wrong with a parsed manifest (None when nothing): the fields later steps rely on."""
    if not isinstance(manifest.get("files"), dict):
        return "lists no files"
    for key in ("version", "created"):
        if not isinstance(manifest.get(key, ""), str):
            return f"has a {key} that is not a string"
    for key in ("source", "metrics", "model"):
        if not isinstance(manifest.get(key, {}), dict):
            return f"has a {key} that is not an object"
    for name, entry in manifest["files"].items():
        problem = entry_name_problem(name)
        if problem:
            return f"lists {name!r}, which {problem}"
        if not (isinstance(entry, dict) and is_sha256(entry.get("sha256")) and is_size(entry.get("bytes"))):
            return f"lists {name!r} without a sha256 and a size in bytes"
    return None


def entry_name_problem(name: str) -> str | None:
    """Why `name` cannot be a file of an artifact: entries are plain relative paths inside its folder."""
    pure = PurePosixPath(name)
    if pure.is_absolute():
        return "is an absolute path"
    if ".." in pure.parts:
        return "leaves the artifact folder through '..'"
    if "\x00" in name or not pure.parts or pure.as_posix() != name:
        return "is not a plain relative path (like model.safetensors)"
    return None


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_files(folder: Path, manifest: dict, unlisted: bool = False) -> None:
    """Refuse a folder whose listed files are not exactly what was exported.

    Refused: a listed file that is missing, truncated or changed since the manifest was written, an
    entry that leads out of the folder (`..`, an absolute path, a symbolic link); with `unlisted`
    (`artifacts verify`), also a file the manifest does not list. Loading never reads unlisted
    files, so a stray `.DS_Store` does not stop serving.
    """
    folder = Path(folder)
    fix = f"re-export it, or roll back: python -m {PACKAGE}.artifacts rollback"
    for name, expected in manifest["files"].items():
        path = inside(folder, name, fix)
        if not path.is_file():
            raise ArtifactError(f"artifact {folder} is missing {name}: {fix}")
        size = path.stat().st_size
        if size != expected["bytes"]:
            state = "truncated" if size < expected["bytes"] else "larger than exported"
            raise ArtifactError(f"{path} is {state} ({size} of {expected['bytes']} bytes): {fix}")
        if sha256_file(path) != expected["sha256"]:
            raise ArtifactError(f"{path} was modified after export (sha256 differs from {MANIFEST}): {fix}")
    extra = unlisted_files(folder, manifest) if unlisted else []
    if extra:
        names = ", ".join(repr(name) for name in extra[:5]) + (" ..." if len(extra) > 5 else "")
        raise ArtifactError(
            f"artifact {folder} holds {len(extra)} file(s) that {MANIFEST} does not list ({names}): "
            "remove them, or re-export"
        )


def inside(folder: Path, name: str, fix: str) -> Path:
    """folder/name, refused when the manifest entry or a symbolic link on its way leads out of the folder."""
    problem = entry_name_problem(name)
    if problem:
        raise ArtifactError(f"{folder}/{MANIFEST} lists {name!r}, which {problem}: {fix}")
    path = folder / name
    try:
        target = path.resolve()
        escapes = not target.is_relative_to(folder.resolve())
    except (OSError, RuntimeError) as err:  # a symbolic link loop
        raise ArtifactError(f"{path} cannot be resolved ({err}): {fix}") from err
    if escapes:
        raise ArtifactError(f"{path} is a symbolic link out of the artifact folder (to {target}): {fix}")
    return path


def unlisted_files(folder: Path, manifest: dict) -> list[str]:
    """Files (and links) in the folder, at any depth, that the manifest does not list."""
    listed = set(manifest["files"]) | {MANIFEST}
    found = []
    for parent, dirs, files in os.walk(folder):
        base = Path(parent).relative_to(folder)
        links = [name for name in dirs if (Path(parent) / name).is_symlink()]  # os.walk does not enter them
        found += [(base / name).as_posix() for name in [*files, *links]]
    return sorted(name for name in found if name not in listed)
