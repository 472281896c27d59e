"""Hyper-parameter sweeps (`-m hparams_search=optuna`): refuse multi-process trials, tabulate the results.

Lightning starts DDP ranks by re-running the command line, so under `-m` every rank would run
the whole sweep itself, and with Optuna each rank would train different hyper-parameters.
Sweeps therefore run one process per trial.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from ..errors import UserError
from ..utils.logging import get_logger

log = get_logger(__name__)


def check_sweep_trainer(trainer: L.Trainer) -> None:
    """A sweep trial must be a single process: refuse DDP, FSDP and multi-node trainers under -m."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    if trainer.world_size > 1:
        raise UserError(
            f"a sweep (-m / hparams_search) cannot train each trial on {trainer.world_size} processes: "
            "Lightning's DDP re-runs the command in every rank, so each rank would run the whole sweep and "
            "Optuna would give the ranks different hyper-parameters. Sweep with trainer=cpu or trainer=gpu "
            "(one device per trial), then train the best parameters with trainer=ddp"
        )


class SweepReport(Callback):
    """After a multirun: results.csv and results.md (one row per trial) and best_params.yaml in the sweep dir."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        params = list((config.hydra.sweeper.get("params") or {}).keys())
        metric = config.get("optimized_metric", "val_loss_last")
        rows = trial_rows(sweep_dir, params, metric)
        if not rows:
            return
        write_tables(rows, ["trial", *params, metric, "status", "run_dir"], sweep_dir)
        done = [row for row in rows if row["status"] == "ok"]
        if done:
            descending = str(config.hydra.sweeper.get("direction", "minimize")) == "maximize"
            best = sorted(done, key=lambda row: row[metric], reverse=descending)[0]
            best_params = {
                "metric": metric,
                "value": best[metric],
                "trial": best["trial"],
                "run_dir": best["run_dir"],
                "params": {name: best[name] for name in params},
                "overrides": " ".join(f"{name}={best[name]}" for name in params),
            }
            (sweep_dir / "best_params.yaml").write_text(yaml.safe_dump(best_params, sort_keys=False, width=1000))
        log.info("Sweep results: %s, best parameters: %s", sweep_dir / "results.md", sweep_dir / "best_params.yaml")


def trial_rows(sweep_dir: Path, params: list[str], metric: str) -> list[dict]:
    """One row per trial directory: its swept parameter values and its summary's metric."""
    rows = []
    trial_dirs = [d for d in sweep_dir.iterdir() if d.is_dir() and d.name.isdigit()]
    for trial_dir in sorted(trial_dirs, key=lambda d: int(d.name)):
        overrides = trial_overrides(trial_dir)
        row: dict[str, Any] = {"trial": int(trial_dir.name), **{name: overrides.get(name, "") for name in params}}
        summary_path = trial_dir / "summary.json"
        value = json.loads(summary_path.read_text()).get(metric) if summary_path.is_file() else None
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        row.update({metric: value if ok else "", "status": "ok" if ok else "failed", "run_dir": str(trial_dir)})
        rows.append(row)
    return rows


def trial_overrides(trial_dir: Path) -> dict[str, Any]:
    """The `key=value` overrides a trial ran with, values parsed (numbers stay numbers)."""
    path = trial_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in yaml.safe_load(path.read_text()) or [] if "=" in line)
    return {key.lstrip("+~"): yaml.safe_load(value) for key, value in pairs}


def write_tables(rows: list[dict], columns: list[str], sweep_dir: Path) -> None:
    with (sweep_dir / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[column]) for column in columns) + " |" for row in rows]
    (sweep_dir / "results.md").write_text("\n".join(lines) + "\n")


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
