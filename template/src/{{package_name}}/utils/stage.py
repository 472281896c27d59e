"""Run a stage's work function the same way for every entry point.

Each stage writes `summary.json` into its Hydra run directory and prints that file's path as
the last line of its output. A `UserError` becomes one `error: ...` line and exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..errors import UserError
from .paths import CONFIG_DIR, register_resolvers
from .ranks import global_rank


def stage_main(
    name: str,
    work: Callable[[DictConfig], dict],
    result: Callable[[DictConfig, dict], Any] | None = None,
) -> Callable[[], Any]:
    """The entry point of `python -m <package>.<name> [overrides]`: a Hydra app on configs/<name>.yaml.

    It runs `work` through `run_stage` and returns `result(cfg, summary)` (what a sweep minimises),
    else the summary. Hydra would name the job after this module ("stage"); configs/hydra/default.yaml
    names it after the config instead, so the log file stays `<run dir>/<name>.log`.
    """
    register_resolvers()

    @hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=name)
    def main(cfg: DictConfig) -> Any:
        summary = run_stage(work, cfg)
        return summary if result is None else result(cfg, summary)

    return main


def run_stage(work: Callable[[DictConfig], dict], cfg: DictConfig) -> dict:
    try:
        summary = work(cfg)
    except Exception as err:
        cause = user_error(err)
        if cause is None:
            raise
        print(f"error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
    if global_rank() == 0:  # under DDP every rank runs the stage; one writes the summary
        path = write_summary(summary, Path(HydraConfig.get().runtime.output_dir))
        print(path, flush=True)
    return summary


def write_summary(summary: dict, run_dir: Path) -> Path:
    path = run_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def user_error(err: BaseException | None) -> UserError | None:
    """The UserError behind `err`, also when wrapped (Hydra wraps errors raised in `_target_`s)."""
    while err is not None and not isinstance(err, UserError):
        err = err.__cause__ or err.__context__
    return err
