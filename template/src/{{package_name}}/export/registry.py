"""The artifact registry: versions in `artifacts/<version>/`, and which one is `current`.

`artifacts/registry.json` holds the current version, the stack of earlier current versions
(what `rollback` returns to) and the history of every promote and rollback. It is rewritten
atomically (temporary file + rename) under a file lock, so readers always see a whole file and two
processes never lose each other's change. An export claims its version under the same lock, so
two exports at once get two versions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeGuard

from filelock import FileLock, Timeout

from ..errors import ArtifactError
from .manifest import MANIFEST, PACKAGE, read_json, read_manifest, verify_files

STATE = "registry.json"
STAGING = ".staging-"  # + version: the folder an export writes into; + ".lock": its claim
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STATE_FIX = "restore it from a backup, or delete it and promote a version"


class Registry:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def versions(self) -> list[str]:
        """Exported versions, oldest first (v2 before v10)."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if VERSION_NAME.fullmatch(p.name) and (p / MANIFEST).is_file()]
        return sorted(found, key=lambda name: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)])

    def current(self) -> str | None:
        return self._state()["current"]

    def history(self) -> list[dict]:
        return self._state()["history"]

    def next_version(self) -> str:
        """v1, v2, ...: one more than the highest v<N> here, published or claimed by a running export."""
        names = [*self.versions(), *(claim.name[len(STAGING) :] for claim in self._claims())]
        numbers = [int(name[1:]) for name in names if re.fullmatch(r"v\d+", name)]
        return f"v{max(numbers, default=0) + 1}"

    def resolve(self, artifact: str | Path | None) -> tuple[Path, str]:
        """(folder, version) of a version name, an artifact folder, or None for the current version."""
        if artifact is None:
            current = self.current()
            if current is None:
                raise ArtifactError(
                    f"no current artifact in {self.root}: export one (python -m {PACKAGE}.export ckpt_path=...) "
                    f"or promote a version (python -m {PACKAGE}.artifacts promote <version>)"
                )
            artifact = current
        name = str(artifact)
        if VERSION_NAME.fullmatch(name) and (self.root / name / MANIFEST).is_file():
            return self.root / name, name
        folder = Path(name).expanduser()
        if (folder / MANIFEST).is_file():
            return folder, str(read_manifest(folder).get("version", folder.name))
        known = ", ".join(self.versions()) or "none"
        raise ArtifactError(
            f"no artifact '{name}': not a version in {self.root} (versions: {known}) nor a folder with {MANIFEST}"
        )

    @contextmanager
    def publishing(self, version: str | None = None) -> Iterator[tuple[str, Path]]:
        """Claim `version` (None: the next free v<N>); yield it and an empty staging folder.

        The folder becomes `<root>/<version>` when the block succeeds and is removed when it fails;
        an existing or claimed version is refused. A claim is a lock held by this process, so the
        leftovers of an export that was killed are cleared by the next one.
        """
        with self._lock():
            self._clear_stale_claims()
            version = self.next_version() if version is None else version
            self.check_new_version(version)
            staging = self.root / f"{STAGING}{version}"
            staging.mkdir()
            claim = self._hold_claim(staging)
        try:
            yield version, staging
            with self._lock():
                staging.rename(self.root / version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            _release(claim)

    def check_new_version(self, version: str) -> None:
        if not VERSION_NAME.fullmatch(version) or version == STATE:
            raise ArtifactError(f"version={version!r} is not a valid name: use letters, digits, '.', '_', '-'")
        if (self.root / version).exists():
            raise ArtifactError(f"artifact {version} already exists in {self.root}: choose another version= or omit it")
        if (self.root / f"{STAGING}{version}").exists():
            raise ArtifactError(f"artifact {version} is being exported by another process: choose another version=")

    def promote(self, version: str) -> None:
        """Make a verified version current; the one it replaces is where `rollback` returns."""
        folder, version = self.resolve(version)
        if folder.resolve().parent != self.root.resolve():
            raise ArtifactError(f"{folder} is not in {self.root}: copy it there (or unpack its .tar.gz) first")
        verify_files(folder, read_manifest(folder))
        with self._lock():
            state = self._state()
            if state["current"] == version:
                return
            if state["current"] is not None:
                state["stack"].append(state["current"])
            self._write(state, "promote", version)

    def rollback(self) -> str:
        """Make the previously current version current again and return its name."""
        with self._lock():
            state = self._state()
            if not state["stack"]:
                raise ArtifactError(f"no earlier current version to roll back to in {self.root}: promote one instead")
            previous = state["stack"].pop()
            folder = self.root / previous
            if not (folder / MANIFEST).is_file():
                raise ArtifactError(f"cannot roll back to {previous}: {folder} is gone; promote another version")
            verify_files(folder, read_manifest(folder))
            self._write(state, "rollback", previous)
        return previous

    def _state(self) -> dict:
        path = self.root / STATE
        if not path.is_file():
            return {"current": None, "stack": [], "history": []}
        state = read_json(path, fix=STATE_FIX)
        if not is_state(state):
            raise ArtifactError(f"{path} is not a registry (current, stack and history of versions): {STATE_FIX}")
        return state

    def _write(self, state: dict, action: str, version: str) -> None:
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        state["history"].append({"action": action, "version": version, "from": state["current"], "at": now})
        state["current"] = version
        tmp = self.root / f".{STATE}.tmp-{uuid.uuid4().hex[:8]}"
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / STATE)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(self.root / ".registry.lock"):
            yield

    def _claims(self) -> list[Path]:
        """The staging folders of exports, running or dead."""
        return sorted(path for path in self.root.glob(f"{STAGING}*") if path.is_dir())

    def _hold_claim(self, staging: Path) -> FileLock:
        """Lock `<staging>.lock` until `_release`: while it is held, the claim is alive (Timeout if it is)."""
        claim = FileLock(staging.with_name(staging.name + ".lock"), timeout=0)
        claim.acquire()
        return claim

    def _clear_stale_claims(self) -> None:
        """Remove the staging folders of exports that died (their lock is free); call under the registry lock."""
        for staging in self._claims():
            try:
                claim = self._hold_claim(staging)
            except Timeout:
                continue  # a running export
            shutil.rmtree(staging, ignore_errors=True)
            _release(claim)


def _release(claim: FileLock) -> None:
    Path(claim.lock_file).unlink(missing_ok=True)
    claim.release()


def is_state(state: object) -> TypeGuard[dict]:
    """Whether parsed registry.json content has the shape `_write` gives it (versions are plain names)."""
    if not isinstance(state, dict):
        return False
    current, stack, history = state.get("current"), state.get("stack"), state.get("history")
    return (
        (current is None or is_version(current))
        and isinstance(stack, list)
        and all(map(is_version, stack))
        and isinstance(history, list)
        and all(map(is_event, history))
    )


def is_event(event: object) -> bool:
    return (
        isinstance(event, dict)
        and all(isinstance(event.get(key), str) for key in ("action", "version", "at"))
        and (event.get("from") is None or isinstance(event["from"], str))
    )


def is_version(name: object) -> bool:
    return isinstance(name, str) and VERSION_NAME.fullmatch(name) is not None
