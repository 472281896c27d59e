"""Migration to v0.2.0: `configs/data/default.yaml` became `configs/data/corpus.yaml`.

Copier runs this in the project after an update that crosses v0.2.0 (`_stage == "after"`). By then
copier has written the template's new `corpus.yaml` and removed `default.yaml`, and with it any
edits the user had made there. This script brings those edits back into `corpus.yaml` with a
3-way merge (base: the file as v0.1.0 shipped it, ours: the user's committed file, theirs: the new
template file), leaving conflict markers where both changed the same lines, and points the user's
own configs that chose `data: default` at `data: corpus`. A `data=default` override anywhere else
(a script, the Makefile, a CI file) it reports as a next step rather than rewriting shell code. It
reads the user's file from HEAD (updates start from a clean tree), so it needs no network and is
safe to run more than once.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from next_steps import report

OLD = Path("configs/data/default.yaml")
NEW = Path("configs/data/corpus.yaml")

# `configs/data/default.yaml` exactly as v0.1.0 rendered it (it has no Jinja): the merge base.
V0_1_0_CONTENT = """\
# What `prepare` reads and how it turns text into packed token files.
# `default` is the built-in corpus; otherwise a .txt/.jsonl/.parquet file or folder, or a
# Hugging Face hub dataset name (needs network).
source: default
text_field: text # column holding the text in .jsonl/.parquet/hub data
sample_by: paragraph # how .txt files split into documents: line | paragraph | document
hub_split: train
out_dir: ${paths.processed_dir}

cleaning:
  min_chars: 32 # shorter documents are dropped after cleaning
  max_chars: 100000 # longer documents are dropped after cleaning

split: # by a hash of the normalised text, so duplicates never cross splits
  val_fraction: 0.05
  test_fraction: 0.05
  seed: 1337

tokenizer:
  path: null # an existing tokenizer.json to use instead of training one
  vocab_size: 2048
  min_frequency: 2

dtype: auto # token file dtype: auto (uint16 when the vocab fits) | uint16 | uint32
block_size: 256 # context length: every split must hold more tokens than this
num_proc: 2 # worker processes for cleaning and tokenizing
batch_size: 1000 # documents per batch
"""

# A command-line override choosing the old option, e.g. `python -m pkg.prepare data=default`.
OLD_OVERRIDE = r"(^|[^[:alnum:]_./])data=default([^[:alnum:]_]|$)"
# A defaults-list entry choosing the old option: `- data: default` or `- override /data: default`.
OLD_CHOICE = re.compile(r"^(\s*-\s*(?:override\s+)?/?data\s*:\s*)default(\s*(?:#.*)?)$", re.MULTILINE)


def say(message: str) -> None:
    print(f"llm-scaffold migration v0.2.0: {message}")


def committed(path: Path) -> str | None:
    """The file as HEAD has it, or None when HEAD has no such file."""
    result = subprocess.run(["git", "show", f"HEAD:./{path.as_posix()}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def merge3(ours: str, base: str, theirs: str) -> tuple[str, bool]:
    """git merge-file on three texts: (merged text, whether conflicts remain)."""
    with tempfile.TemporaryDirectory() as work:
        files = [Path(work, name) for name in ("ours", "base", "theirs")]
        for file, text in zip(files, (ours, base, theirs), strict=True):
            file.write_text(text, encoding="utf-8")
        labels = ["-L", "before updating", "-L", "last update", "-L", "after updating"]
        result = subprocess.run(["git", "merge-file", "-p", *labels, *map(str, files)], capture_output=True, text=True)
    if result.returncode < 0 or result.returncode > 127:
        raise RuntimeError(f"git merge-file failed: {result.stderr.strip()}")
    return result.stdout, result.returncode > 0


def move_user_edits() -> None:
    if committed(NEW) is not None:
        say(f"{NEW} was already in the project; nothing to move")
        return
    user = committed(OLD)
    for leftover in (OLD, OLD.with_name(OLD.name + ".rej")):
        leftover.unlink(missing_ok=True)
    if user is None:
        NEW.unlink(missing_ok=True)  # the user had deleted the file: it stays deleted
        say(f"{OLD} had been deleted in the project, so {NEW} is not added")
        return
    if user == V0_1_0_CONTENT:
        say(f"{OLD} -> {NEW} (no local edits)")
        return
    theirs = NEW.read_text(encoding="utf-8") if NEW.exists() else V0_1_0_CONTENT
    merged, conflicts = merge3(user, V0_1_0_CONTENT, theirs)
    NEW.parent.mkdir(parents=True, exist_ok=True)
    NEW.write_text(merged, encoding="utf-8")
    outcome = "CONFLICTS to resolve" if conflicts else "merged cleanly"
    say(f"{OLD} -> {NEW}, your edits moved along ({outcome})")


def repoint_user_configs() -> None:
    for config in sorted(Path("configs").rglob("*.yaml")):
        text = config.read_text(encoding="utf-8")
        updated = OLD_CHOICE.sub(r"\1corpus\2", text)
        if updated != text:
            config.write_text(updated, encoding="utf-8")
            say(f"{config}: `data: default` -> `data: corpus`")


def report_overrides_elsewhere() -> None:
    """`data=default` in the project's other tracked files: commands only a person should change."""
    found = subprocess.run(
        ["git", "grep", "-n", "-I", "-E", OLD_OVERRIDE, "--", ".", ":!configs"], capture_output=True, text=True
    )
    for match in found.stdout.splitlines():
        path, line, _ = match.split(":", 2)
        report(f"{path}:{line} passes data=default, renamed in v0.2.0: change it to data=corpus")


def main() -> int:
    move_user_edits()
    repoint_user_configs()
    report_overrides_elsewhere()
    return 0


if __name__ == "__main__":
    sys.exit(main())
