"""Run a stage's work function the same way for every entry point.

Each stage writes `summary.json` into its Hydra run directory and prints that file's path as
the last line of its output. A `UserError` becomes one `error: ...` line and exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..errors import UserError


def run_stage(work: Callable[[DictConfig], dict], cfg: DictConfig) -> dict:
    try:
        summary = work(cfg)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    path = write_summary(summary, Path(HydraConfig.get().runtime.output_dir))
    print(path, flush=True)
    return summary


def write_summary(summary: dict, run_dir: Path) -> Path:
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
