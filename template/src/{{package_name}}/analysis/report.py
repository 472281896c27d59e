"""The analysis report: a Markdown page next to the PNGs, linking them with relative paths."""

from __future__ import annotations

from pathlib import Path

from .activations import LayerHealth


def write_report(
    path: Path,
    facts: dict,
    attention: list[Path],
    activations: Path,
    health: list[LayerHealth],
    curves: Path | None,
    curves_note: str,
) -> Path:
    here = path.parent
    lines = [f"# Model analysis: {Path(facts['checkpoint']).name}", ""]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    lines += ["", "## Training curves", ""]
    lines += [f"![training curves]({curves.relative_to(here)})" if curves else f"_{curves_note}_", ""]
    lines += ["## Attention maps", "", "One image per layer, one heatmap per head: row = query token, column = key."]
    lines += ["A causal model attends only to the left: everything above the diagonal is zero.", ""]
    for layer, image in enumerate(attention):
        lines += [f"### Layer {layer}", "", f"![attention layer {layer}]({image.relative_to(here)})", ""]
    lines += ["## MLP activations", "", f"![activation histograms]({activations.relative_to(here)})", ""]
    lines += [
        "Dead: the unit's GELU output never rises above the dead threshold on the analysed tokens.",
        "Saturated: its pre-activation sits beyond the saturation level on nearly every token.",
        "",
        "| layer | units | dead | saturated |",
        "|---|---|---|---|",
    ]
    lines += [f"| {h.layer} | {h.units} | {h.dead} | {h.saturated} |" for h in health]
    flagged = [h.layer for h in health if h.dead or h.saturated]
    verdict = f"Layers with flagged units: {flagged}." if flagged else "No dead or saturated units."
    lines += ["", verdict, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
