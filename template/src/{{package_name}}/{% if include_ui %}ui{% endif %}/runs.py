"""The runs on disk: `logs/<stage>/runs/<run id>/` with the stage's log, `.hydra/` and, once done, summary.json.

What exists on disk is the truth: a run with summary.json finished; the page adds only what it
knows of the processes it started itself (running, stopped, failed).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from .compose import STAGES

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PIPELINE = ("prepare", "train", "evaluate", "export", "serve")
# The numbers a stage card shows, from that stage's summary.json (DESIGN's keys).
KEY_NUMBERS = {
    "prepare": ("train_tokens", "val_tokens", "test_tokens", "vocab_size"),
    "train": ("val_loss_first", "val_loss_last", "global_step", "tokens_per_s"),
    "evaluate": ("test_loss", "test_perplexity"),
    "export": ("version", "int8_bytes", "fp32_perplexity", "int8_perplexity", "int8_speedup"),
    "serve": ("version", "precision", "requests", "errors"),
    "analyze": ("report", "dead_units", "saturated_units"),
}
CONSOLE = "console.log"  # stdout and stderr of a stage the page started


@dataclass
class Run:
    stage: str
    run_id: str
    path: Path
    summary: dict | None
    started: datetime

    @property
    def finished(self) -> bool:
        return self.summary is not None

    def overrides(self) -> list[str]:
        """The overrides it ran with, as Hydra recorded them in .hydra/overrides.yaml."""
        path = self.path / ".hydra" / "overrides.yaml"
        try:
            recorded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return []
        return [str(item) for item in recorded] if isinstance(recorded, list) else []

    def key_numbers(self) -> list[tuple[str, str]]:
        summary = self.summary or {}
        shown = [(key, summary[key]) for key in KEY_NUMBERS.get(self.stage, ()) if key in summary]
        return [(key, megabytes(value) if key.endswith("_bytes") else show(value)) for key, value in shown]

    def log_file(self) -> Path | None:
        for name in (CONSOLE, f"{self.stage}.log"):
            if (self.path / name).is_file():
                return self.path / name
        return None

    def last_checkpoint(self) -> Path | None:
        path = self.path / "checkpoints" / "last.ckpt"
        return path if path.is_file() else None


def read_summary(run_dir: Path) -> dict | None:
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def load_run(log_dir: Path, stage: str, run_id: str) -> Run | None:
    """The run folder of `stage` named `run_id`, or None (also for names that are not plain run ids)."""
    if stage not in STAGES or not RUN_ID.fullmatch(run_id):
        return None
    path = log_dir / stage / "runs" / run_id
    if not path.is_dir():
        return None
    return Run(stage, run_id, path, read_summary(path), datetime.fromtimestamp(path.stat().st_mtime))


def list_runs(log_dir: Path, stage: str) -> list[Run]:
    """The runs of one stage, newest first."""
    folder = log_dir / stage / "runs"
    if not folder.is_dir():
        return []
    runs = [load_run(log_dir, stage, path.name) for path in folder.iterdir()]
    return sorted((run for run in runs if run is not None), key=lambda run: run.started, reverse=True)


def recent_runs(log_dir: Path, limit: int = 20) -> list[Run]:
    runs = [run for stage in STAGES for run in list_runs(log_dir, stage)]
    return sorted(runs, key=lambda run: run.started, reverse=True)[:limit]


def show(value: object) -> str:
    """A summary value as the page shows it: integers grouped, floats to 4 significant digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def megabytes(value: object) -> str:
    return f"{value / 1e6:.2f} MB" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def relative(path: str | Path, root: Path) -> str:
    """`path` relative to the project root when inside it (as the README writes commands), else as it is."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
