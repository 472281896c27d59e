"""`artifacts/<version>.tar.gz`: one file to copy an artifact to another machine.

The archive is reproducible: the same folder gives the same bytes (sorted entries, no owners,
fixed times), so its sha256 identifies the content. Unpack it into another `artifacts/` folder
(`tar xzf v1.tar.gz -C artifacts/`) and promote the version there.
"""

from __future__ import annotations

import gzip
import os
import tarfile
import uuid
from pathlib import Path


def write_package(folder: Path, version: str, dest: Path) -> Path:
    """Archive the files of `folder` as `<version>/<file>` into dest, atomically."""
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for path in sorted(Path(folder).iterdir()):
                tar.add(path, arcname=f"{version}/{path.name}", filter=_normalise)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644  # a folder (hf/) must stay enterable
    return info
