"""Key benchmark metrics against the committed baseline: a regression beyond tolerance fails.

    python -m <package>.bench.baseline check  [--results logs/bench] [--baseline bench/baseline.json]
    python -m <package>.bench.baseline update [--results logs/bench] [--baseline bench/baseline.json]

`make bench` writes the results (one JSON per suite: data, train, export, smoke); `check` compares
each metric named in the baseline with its tolerance and exits 1 on a regression or a metric that
was not measured; `update` records the current results as the new baseline, keeping tolerances.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Metric:
    suite: str  # <results>/<suite>.json
    key: str
    higher_is_better: bool
    tolerance: float  # relative: 0.05 allows 5% worse than the baseline
    what: str


METRICS = {
    "smoke_val_loss": Metric("smoke", "val_loss_last", False, 0.05, "val loss after experiment=smoke"),
    "train_tokens_per_s_ratio": Metric("train", "tiny_ratio", True, 0.20, "train / plain PyTorch tokens/s, tiny"),
    "int8_size_ratio": Metric("export", "tiny_int8_size_ratio", False, 0.05, "INT8 / fp32 artifact bytes, tiny"),
}


def measure(results_dir: Path) -> dict[str, float]:
    """The value of every metric whose suite has results in `results_dir`."""
    values = {}
    for name, metric in METRICS.items():
        path = results_dir / f"{metric.suite}.json"
        if not path.is_file():
            continue
        results = json.loads(path.read_text(encoding="utf-8"))
        if metric.key not in results:
            raise SystemExit(f"error: {path} has no {metric.key!r}: was it written by `make bench`?")
        values[name] = results[metric.key]
    return values


def regressed(value: float, entry: dict) -> bool:
    bound = entry["value"] * (1 - entry["tolerance"] if entry["higher_is_better"] else 1 + entry["tolerance"])
    return value < bound if entry["higher_is_better"] else value > bound


def check(values: dict[str, float], baseline: dict[str, dict]) -> list[str]:
    """One line per baseline metric; the ones that fail start with `error:`."""
    lines = []
    for name, entry in sorted(baseline.items()):
        direction = "higher" if entry["higher_is_better"] else "lower"
        expected = f"baseline {entry['value']:.4g}, {direction} is better, tolerance {entry['tolerance']:.0%}"
        if name not in values:
            lines.append(f"error: {name}: not measured ({expected}): run `make bench` first")
        elif regressed(values[name], entry):
            lines.append(f"error: {name} = {values[name]:.4g} regressed ({expected})")
        else:
            lines.append(f"ok: {name} = {values[name]:.4g} ({expected})")
    for name in sorted(set(values) - set(baseline)):
        lines.append(f"new: {name} = {values[name]:.4g} has no baseline yet: `make bench-baseline` records it")
    return lines


def update(values: dict[str, float], baseline: dict[str, dict]) -> dict[str, dict]:
    recorded = dict(baseline)
    for name, value in values.items():
        metric = METRICS[name]
        tolerance = baseline.get(name, {}).get("tolerance", metric.tolerance)
        recorded[name] = {
            "value": round(value, 6),
            "higher_is_better": metric.higher_is_better,
            "tolerance": tolerance,
            "what": metric.what,
        }
    return dict(sorted(recorded.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["check", "update"])
    parser.add_argument("--results", type=Path, default=Path("logs/bench"), help="folder of <suite>.json results")
    parser.add_argument("--baseline", type=Path, default=Path("bench/baseline.json"))
    args = parser.parse_args(argv)
    values = measure(args.results)
    if not values:
        print(f"error: no benchmark results in {args.results}: run `make bench` first", file=sys.stderr)
        return 2
    baseline = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline.is_file() else {}
    if args.action == "update":
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        args.baseline.write_text(json.dumps(update(values, baseline), indent=2) + "\n", encoding="utf-8")
        print(f"recorded {', '.join(sorted(values))} in {args.baseline}")
        return 0
    lines = check(values, baseline)
    print("\n".join(lines))
    return 1 if any(line.startswith("error:") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
