"""Loss, learning-rate and gradient-norm curves from a run's CSV log (logger=csv: <run dir>/csv/metrics.csv)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .figures import panel_grid, save

# panel title -> the column prefixes it draws (LearningRateMonitor names columns lr-AdamW/pg1, ...)
PANELS = {
    "loss": ("train/loss", "val/loss"),
    "learning rate": ("lr-",),
    "gradient norm (before clipping)": ("grad_norm/",),
}
Series = dict[str, tuple[list[int], list[float]]]


def read_metrics(path: Path) -> Series:
    """Every numeric column of a Lightning CSV log as (steps, values), skipping the empty cells."""
    series: Series = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            step = row.get("step")
            if not step:
                continue
            for column, cell in row.items():
                if column in ("step", "epoch") or not cell:
                    continue
                value = float(cell)
                if math.isfinite(value):
                    steps, values = series.setdefault(column, ([], []))
                    steps.append(int(float(step)))
                    values.append(value)
    return series


def plot_curves(series: Series, path: Path) -> Path:
    """Three panels side by side; a panel whose metrics were not logged says so."""
    figure, axes = panel_grid(len(PANELS), "Training curves", max_columns=len(PANELS))
    for ax, (title, prefixes) in zip(axes, PANELS.items(), strict=True):
        columns = [name for name in sorted(series) if name.startswith(prefixes)]
        drawn: list[tuple] = []
        for name in columns:
            steps, values = series[name]
            if (steps, values) in drawn:  # parameter groups sharing one schedule: one line
                continue
            drawn.append((steps, values))
            style = "o-" if len(steps) < 30 else "-"
            ax.plot(steps, values, style, markersize=3, linewidth=1, label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        if title != "learning rate" and columns and min(min(series[n][1]) for n in columns) > 0:
            ax.set_yscale("log")
        if columns:
            ax.legend(fontsize=6)
        else:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
    return save(figure, path)
