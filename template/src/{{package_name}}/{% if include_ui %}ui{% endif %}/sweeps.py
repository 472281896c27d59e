"""Optuna sweeps on disk: `logs/<stage>/multiruns/<time>/`, one folder per trial, and their best trial.

The table is the project's sweep report, results.csv (written when the sweep ends; before that the
page counts the trial folders); the best parameters come from best_params.yaml (the same report)
or, failing that, Optuna's optimization_results.yaml. Rerunning the best trial is the sweep's
command without `hparams_search` and with the best values.
"""

from __future__ import annotations

import csv
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..utils.paths import PACKAGE
from .compose import STAGES


@dataclass
class Sweep:
    stage: str
    path: Path
    metric: str
    params: list[str]
    rows: list[dict] = field(default_factory=list)
    trials: int = 0  # trial folders so far
    best: dict | None = None  # {"value", "trial", "params": {name: value}}
    rerun: str | None = None

    @property
    def columns(self) -> list[str]:
        return ["trial", *self.params, self.metric, "status"]


def read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def list_sweeps(log_dir: Path, limit: int = 10) -> list[Sweep]:
    """The newest sweeps of every stage (a Hydra multirun with an Optuna sweeper)."""
    folders = [path for stage in STAGES for path in sorted((log_dir / stage / "multiruns").glob("*"))]
    folders = sorted((path for path in folders if (path / "multirun.yaml").is_file()), key=lambda p: p.name)
    sweeps = [read_sweep(path) for path in reversed(folders)]
    return [sweep for sweep in sweeps if sweep is not None][:limit]


def read_sweep(path: Path) -> Sweep | None:
    config = read_yaml(path / "multirun.yaml")
    if not isinstance(config, dict):
        return None
    hydra = config.get("hydra") or {}
    sweeper = hydra.get("sweeper") or {}
    if "optuna" not in str(sweeper.get("_target_", "")).lower():
        return None
    params = [str(name) for name in (sweeper.get("params") or {})]
    metric = str(config.get("optimized_metric", "val_loss_last"))
    stage = path.parent.parent.name
    sweep = Sweep(stage, path, metric, params, rows=read_results(path / "results.csv"))
    sweep.trials = sum(1 for trial in path.iterdir() if trial.is_dir() and trial.name.isdigit())
    sweep.best = best_trial(path)
    if sweep.best is not None:
        task = [str(item) for item in (hydra.get("overrides") or {}).get("task") or []]
        sweep.rerun = rerun_command(stage, task, sweep.best["params"])
    return sweep


def read_results(path: Path) -> list[dict]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def best_trial(path: Path) -> dict | None:
    ours = read_yaml(path / "best_params.yaml")
    if isinstance(ours, dict) and isinstance(ours.get("params"), dict):
        return {"value": ours.get("value"), "trial": ours.get("trial"), "params": ours["params"]}
    optuna = read_yaml(path / "optimization_results.yaml")
    if isinstance(optuna, dict) and isinstance(optuna.get("best_params"), dict):
        return {"value": optuna.get("best_value"), "trial": None, "params": optuna["best_params"]}
    return None


def rerun_command(stage: str, task: list[str], best: dict) -> str:
    """The sweep's own overrides, minus the search and the swept keys, plus the best values."""
    kept = [
        item
        for item in task
        if not item.startswith(("hparams_search=", "hydra.", "hydra/", "-m"))
        and item.split("=", 1)[0].lstrip("+~") not in best
    ]
    chosen = [f"{name}={value}" for name, value in best.items()]
    return shlex.join(["python", "-m", f"{PACKAGE}.{stage}", *kept, *chosen])
