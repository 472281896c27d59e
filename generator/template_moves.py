"""User-edited files that the new template version deletes or renames: carried, never dropped.

copier silently drops such a file: it deletes the old path, and for a rename it writes only the
template's new file. Before an update, renders of the two versions show, through git's rename
detection, which managed files go away; each one the user edited is remembered. After the update
the user's changes move into the new name with a 3-way merge (`git merge-file`: base = the old
template file, ours = the user's file, theirs = the new template file); a deleted file is put back
and reported as a conflict, "deleted in the template, modified here".
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.project import ANSWERS_FILE, MERGE_LABELS

DELETED = "deleted in the template, modified here"


@dataclass
class Move:
    old: str
    new: str | None  # None: the template deletes the file
    base: bytes  # the old template's file
    user: bytes  # the user's file at the update's start
    theirs: bytes | None  # the new template's file
    new_existed: bool = False  # the project already had a file at the new path before the update


@dataclass
class Carried:
    merged: list[str]  # user edits moved into the renamed file
    kept: dict[str, str]  # path -> why the user's file stayed where it was (conflicts to decide)


def template_moves(old_render: Path, new_render: Path) -> dict[str, str | None]:
    """Files of the old render that the new one deletes (None) or renames (their new path)."""
    old_root, new_root = str(old_render.resolve()), str(new_render.resolve())
    diff = subprocess.run(
        ["git", "diff", "--no-index", "--find-renames", "--name-status", "-z", old_root, new_root],
        capture_output=True,
        text=True,
    )
    if diff.returncode not in (0, 1):
        raise RuntimeError(f"git diff between template versions failed: {diff.stderr.strip()}")
    fields = diff.stdout.split("\0")
    moves: dict[str, str | None] = {}
    index = 0
    while index < len(fields) - 1:
        status = fields[index]
        if status.startswith("R"):
            moves[relative(fields[index + 1], old_root)] = relative(fields[index + 2], new_root)
            index += 3
        else:
            if status == "D":
                moves[relative(fields[index + 1], old_root)] = None
            index += 2
    return {old: new for old, new in moves.items() if Path(old).name != ANSWERS_FILE}


def relative(diff_path: str, root: str) -> str:
    """A path git printed under `root`, relative to it (git may drop the leading slash)."""
    return Path("/" + diff_path.lstrip("/")).relative_to("/" + root.lstrip("/")).as_posix()


def edited_moves(project: Path, old_render: Path, new_render: Path) -> list[Move]:
    """The template's deletes and renames of files the user changed since the old version."""
    found = []
    for old, new in template_moves(old_render, new_render).items():
        mine = project / old
        if not mine.is_file():
            continue
        user, base = mine.read_bytes(), (old_render / old).read_bytes()
        if user == base:
            continue
        theirs = (new_render / new).read_bytes() if new else None
        new_existed = bool(new) and (project / str(new)).exists()
        found.append(Move(old, new, base, user, theirs, new_existed))
    return found


def carry_edits(project: Path, moves: list[Move]) -> Carried:
    """After copier's update: merge renamed files, restore deleted ones."""
    carried = Carried(merged=[], kept={})
    for move in moves:
        old = project / move.old
        if old.exists():
            if old.read_bytes() != move.user:  # copier left a file there that is not the user's any more
                old.write_bytes(move.user)
                carried.kept[move.old] = "replaced in the template, modified here"
            continue
        if move.new is None or not (project / move.new).exists():
            restore(old, move.user)
            carried.kept[move.old] = DELETED
            continue
        if move.new_existed:  # renamed onto a file of the user's own: the user decides
            restore(old, move.user)
            carried.kept[move.old] = f"renamed to {move.new} in the template, where you have a file: merge by hand"
            continue
        new = project / move.new
        if new.read_bytes() != move.theirs:
            continue  # not the template's file as rendered: a migration has already carried the edits
        merged = merge(move)
        if merged is None:  # not text: keep the user's file where it was, for a person to move
            restore(old, move.user)
            carried.kept[move.old] = f"renamed to {move.new} in the template, modified here: move it by hand"
        else:
            new.write_bytes(merged)
            carried.merged.append(move.new)
    return carried


def restore(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def merge(move: Move) -> bytes | None:
    """The user's changes to the old file applied to the new one; conflict blocks where both changed."""
    assert move.theirs is not None
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-merge-") as scratch:
        files = []
        for name, content in (("mine", move.user), ("base", move.base), ("theirs", move.theirs)):
            path = Path(scratch) / name
            path.write_bytes(content)
            files.append(str(path))
        result = subprocess.run(["git", "merge-file", "-p", *MERGE_LABELS, *files], capture_output=True)
    return None if result.returncode < 0 or result.returncode >= 128 else result.stdout
