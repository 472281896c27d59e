"""The artifact registry: versions in `artifacts/<version>/`, and which one is `current`.

`artifacts/registry.json` holds the current version, the stack of earlier current versions
(what `rollback` returns to) and the history of every promote and rollback. It is rewritten
atomically (temporary file + rename) under a file lock, so readers always see a whole file and two
processes never lose each other's change.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ..errors import ArtifactError
from .manifest import MANIFEST, PACKAGE, read_manifest, verify_files

STATE = "registry.json"
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Registry:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def versions(self) -> list[str]:
        """Exported versions, oldest first (v2 before v10)."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
        return sorted(found, key=lambda name: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)])

    def current(self) -> str | None:
        return self._state()["current"]

    def history(self) -> list[dict]:
        return self._state()["history"]

    def next_version(self) -> str:
        """v1, v2, ...: one more than the highest v<N> here."""
        numbers = [int(name[1:]) for name in self.versions() if re.fullmatch(r"v\d+", name)]
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
    def publishing(self, version: str) -> Iterator[Path]:
        """A staging folder that becomes `<root>/<version>` when the block succeeds; never replaces a version."""
        self.check_new_version(version)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{version}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            yield staging
            with self._lock():
                self.check_new_version(version)
                staging.rename(self.root / version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def check_new_version(self, version: str) -> None:
        if not VERSION_NAME.fullmatch(version) or version == STATE:
            raise ArtifactError(f"version={version!r} is not a valid name: use letters, digits, '.', '_', '-'")
        if (self.root / version).exists():
            raise ArtifactError(f"artifact {version} already exists in {self.root}: choose another version= or omit it")

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
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ArtifactError(f"{path} is not valid JSON ({err}): restore it or delete it and promote") from err

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
        with (self.root / ".registry.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
