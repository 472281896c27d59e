"""The loss and learning-rate curves of a run, read from its CSV logger's metrics.csv, as SVG polylines.

Lightning's CSVLogger writes `<run dir>/csv/metrics.csv` while training (every
`flush_logs_every_n_steps` steps); the page re-reads it on each refresh, so the curve grows live.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

WIDTH, HEIGHT, PAD = 640, 220, 56
MAX_POINTS = 400  # per line: enough for the eye, small enough to refresh every second
LOSS_COLUMNS = ("train/loss", "val/loss")
COLORS = {"train/loss": "#2563eb", "val/loss": "#dc2626", "lr": "#059669"}


@dataclass
class Line:
    name: str
    points: list[tuple[float, float]]  # (step, value)
    svg_points: str = ""  # "x,y x,y ..." in chart coordinates

    @property
    def color(self) -> str:
        return COLORS.get(self.name, "#6b7280")


@dataclass
class Chart:
    title: str
    lines: list[Line]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def y_labels(self) -> tuple[str, str]:
        return f"{self.y_range[0]:.4g}", f"{self.y_range[1]:.4g}"

    @property
    def count(self) -> int:
        return sum(len(line.points) for line in self.lines)


def metrics_file(run_dir: Path) -> Path | None:
    """csv/metrics.csv, or the first metrics.csv below the run (another CSVLogger name or version)."""
    default = run_dir / "csv" / "metrics.csv"
    if default.is_file():
        return default
    return next(iter(sorted(run_dir.rglob("metrics.csv"))), None)


def read_series(path: Path) -> dict[str, list[tuple[float, float]]]:
    """step -> value per column; rows being written (cut short) or non-numeric cells are skipped."""
    series: dict[str, list[tuple[float, float]]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                step = number(row.get("step"))
                if step is None:
                    continue
                for column, cell in row.items():
                    value = number(cell)
                    if column and column not in ("step", "epoch") and value is not None:
                        series.setdefault(column, []).append((step, value))
    except (OSError, csv.Error, UnicodeDecodeError):
        return series
    return series


def number(cell: object) -> float | None:
    try:
        value = float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def charts(run_dir: Path) -> list[Chart]:
    """A loss chart (train and val) and a learning-rate chart, each only when its columns exist."""
    path = metrics_file(run_dir)
    if path is None:
        return []
    series = read_series(path)
    found = []
    losses = [Line(name, series[name]) for name in LOSS_COLUMNS if series.get(name)]
    if losses:
        found.append(layout("loss", losses))
    lr = next((name for name in sorted(series) if name.startswith("lr")), None)
    if lr:
        found.append(layout(f"learning rate ({lr})", [Line("lr", series[lr])]))
    return found


def layout(title: str, lines: list[Line]) -> Chart:
    """Scale every line into the chart's box: x is the step, y spans the values (a flat line sits mid-height)."""
    xs = [x for line in lines for x, _ in line.points]
    ys = [y for line in lines for _, y in line.points]
    x_range, y_range = widen(min(xs), max(xs)), widen(min(ys), max(ys))
    chart = Chart(title, lines, x_range, y_range)
    span_x, span_y = x_range[1] - x_range[0], y_range[1] - y_range[0]
    inner_w, inner_h = chart.width - 2 * PAD, chart.height - 2 * PAD
    for line in lines:
        points = thin(line.points)
        line.svg_points = " ".join(
            f"{PAD + (x - x_range[0]) / span_x * inner_w:.1f},{PAD + inner_h - (y - y_range[0]) / span_y * inner_h:.1f}"
            for x, y in points
        )
    return chart


def widen(low: float, high: float) -> tuple[float, float]:
    """A range with some width: one point, or a flat line, sits in the middle of the chart."""
    if high > low:
        return low, high
    margin = abs(low) * 0.1 or 1.0
    return low - margin, high + margin


def thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return points
    stride = math.ceil(len(points) / MAX_POINTS)
    return [*points[::stride], points[-1]]
