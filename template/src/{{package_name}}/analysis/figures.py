"""Grids of panels saved as PNG, headless: figures are built without pyplot (Agg canvas, no display)."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

PANEL_INCHES = 3.0
DPI = 100


def grid_shape(panels: int, max_columns: int = 4) -> tuple[int, int]:
    """(rows, columns) of the grid holding `panels` panels."""
    columns = max(1, min(panels, max_columns))
    return math.ceil(panels / columns), columns


def grid_pixels(panels: int, max_columns: int = 4) -> tuple[int, int]:
    """(width, height) in pixels of the PNG that `panel_grid` + `save` produce."""
    rows, columns = grid_shape(panels, max_columns)
    return round(columns * PANEL_INCHES * DPI), round(rows * PANEL_INCHES * DPI)


def panel_grid(panels: int, title: str, max_columns: int = 4) -> tuple[Figure, list[Axes]]:
    """A figure of fixed size (so the PNG has a known pixel size) and its first `panels` axes."""
    rows, columns = grid_shape(panels, max_columns)
    figure = Figure(figsize=(columns * PANEL_INCHES, rows * PANEL_INCHES), dpi=DPI, layout="constrained")
    figure.suptitle(title)
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for unused in axes[panels:]:
        unused.set_visible(False)
    return figure, axes[:panels]


def save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)  # no bbox_inches="tight": the size stays what grid_pixels says
    return path
