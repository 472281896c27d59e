"""The data quality report: streaming corpus statistics, then quality.md and PNGs read from meta.json.

`collect_stats` keeps only fixed-size state whatever the corpus size: fixed-bin histograms, KLL
quantile sketches, per-class character counts and a bounded frequent-items sketch of lines
(Apache DataSketches). `write_report` reads every number it prints from meta.json, so the page
and the file never disagree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import frequent_items_error_type, frequent_strings_sketch, kll_floats_sketch
from matplotlib.figure import Figure

from ..analysis.figures import DPI, save
from .quality import QUALITY_RULES
from .splitting import SPLITS

# Log-spaced bins from 1 to 10^7, ten per decade; values outside fall into the end bins.
LENGTH_EDGES = np.logspace(0, 7, 71)
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
CHAR_CLASSES = ("letters", "digits", "punctuation", "whitespace", "cjk", "other")
# Han, kana, bopomofo and Hangul blocks; the supplementary planes 2 and 3 are Han too.
CJK_BLOCKS = (
    (0x1100, 0x11FF),
    (0x2E80, 0x2FDF),
    (0x3040, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),
    (0xF900, 0xFAFF),
)
TOP_LINES = 15
LINE_SKETCH_LG_K = 12  # 4096 counters: the top lines are exact unless over 3072 distinct lines repeat often
MAX_LINE_CHARS = 200  # lines are counted by their first 200 characters, which bounds the sketch's memory


@cache
def char_class_table() -> np.ndarray:
    """Class index (into CHAR_CLASSES) of every Basic Multilingual Plane code point."""
    first = {"L": 0, "M": 0, "N": 1, "P": 2, "S": 2, "Z": 3}
    table = np.full(0x10000, CHAR_CLASSES.index("other"), dtype=np.uint8)
    for code in range(0x10000):
        char = chr(code)
        category = unicodedata.category(char)
        if char.isspace():
            table[code] = 3
        elif category == "Nd" or category[0] != "N":
            table[code] = first.get(category[0], table[code])
    for low, high in CJK_BLOCKS:
        block = table[low : high + 1]
        block[block == 0] = CHAR_CLASSES.index("cjk")
    return table


def char_class_counts(texts: list[str]) -> np.ndarray:
    """Characters per class in `texts`, over code points with numpy (no Python loop per character)."""
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    bmp = codes < 0x10000
    counts = np.bincount(char_class_table()[codes[bmp]], minlength=len(CHAR_CLASSES)).astype(np.int64)
    high = codes[~bmp]
    han = int(np.count_nonzero((high >= 0x20000) & (high < 0x40000)))
    counts[CHAR_CLASSES.index("cjk")] += han
    counts[CHAR_CLASSES.index("other")] += high.size - han
    return counts


class LengthStats:
    """A fixed-bin histogram, a KLL quantile sketch and totals of one length per document."""

    def __init__(self) -> None:
        self.counts = np.zeros(len(LENGTH_EDGES) - 1, dtype=np.int64)
        self.sketch = kll_floats_sketch(200)
        self.total = 0

    def add(self, lengths: np.ndarray) -> None:
        if lengths.size == 0:
            return
        self.counts += np.histogram(np.clip(lengths, LENGTH_EDGES[0], LENGTH_EDGES[-1]), LENGTH_EDGES)[0]
        self.sketch.update(lengths.astype(np.float32))
        self.total += int(lengths.sum())

    def as_dict(self) -> dict:
        n = int(self.sketch.n)
        summary = {"documents": n, "total": self.total, "mean": round(self.total / n, 1) if n else 0.0}
        if n:
            summary["min"] = int(self.sketch.get_min_value())
            summary["max"] = int(self.sketch.get_max_value())
            summary.update({key: int(self.sketch.get_quantile(q)) for key, q in QUANTILES.items()})
        return {**summary, "edges": [round(float(edge), 2) for edge in LENGTH_EDGES], "counts": self.counts.tolist()}


def collect_stats(
    docs: datasets.Dataset, token_counts: Iterable[np.ndarray], num_sources: int, batch_size: int
) -> dict:
    """Statistics of the final documents (columns text, split and, with several sources, source), JSON-able."""
    characters, tokens = LengthStats(), LengthStats()
    classes = np.zeros(len(CHAR_CLASSES), dtype=np.int64)
    per_source_docs = np.zeros((num_sources, len(SPLITS)), dtype=np.int64)
    per_source_chars = np.zeros(num_sources, dtype=np.int64)
    lines = frequent_strings_sketch(LINE_SKETCH_LG_K)
    columns = [name for name in ("text", "split", "source") if name in docs.column_names]
    for table in docs.select_columns(columns).with_format("arrow").iter(batch_size):
        lengths = pc.utf8_length(table["text"]).to_numpy(zero_copy_only=False).astype(np.int64)
        characters.add(lengths)
        texts = table["text"].to_pylist()
        classes += char_class_counts(texts)
        for text in texts:
            for line in set(text.split("\n")):
                if line:
                    lines.update(line[:MAX_LINE_CHARS])
        split = pc.index_in(table["split"], value_set=pa.array(SPLITS)).to_numpy(zero_copy_only=False)
        source = table["source"].to_numpy() if "source" in columns else np.zeros(len(lengths), dtype=np.int64)
        np.add.at(per_source_docs, (source, split), 1)
        per_source_chars += np.bincount(source, weights=lengths, minlength=num_sources).astype(np.int64)
    for counts in token_counts:
        tokens.add(np.asarray(counts, dtype=np.int64))
    frequent = lines.get_frequent_items(frequent_items_error_type.NO_FALSE_POSITIVES)
    return {
        "characters": characters.as_dict(),
        "tokens": tokens.as_dict(),
        "char_classes": dict(zip(CHAR_CLASSES, classes.tolist(), strict=True)),
        "top_lines": [
            {"line": line, "documents": int(estimate), "at_least": int(lower)}
            for line, estimate, lower, _ in frequent[:TOP_LINES]
            if estimate > 1
        ],
        "sources": [
            {
                "source": index,
                "documents": dict(zip(SPLITS, per_source_docs[index].tolist(), strict=True)),
                "characters": int(per_source_chars[index]),
            }
            for index in range(num_sources)
        ],
    }


def write_report(out_dir: Path, meta: dict) -> list[Path]:
    """quality.md and figures/*.png in `out_dir`, every number taken from `meta` (the meta.json dict)."""
    stats = meta["quality_report"]
    figures = out_dir / "figures"
    paths = [
        save(lengths_figure(stats), figures / "lengths.png"),
        save(char_class_figure(stats["char_classes"]), figures / "char_classes.png"),
        save(removals_figure(removals(meta)), figures / "removals.png"),
    ]
    lines = ["# Data quality report", ""]
    lines += [f"Data set `{meta.get('dataset_hash', '?')}` from `{meta.get('source', '?')}`.", ""]
    lines += pipeline_section(meta, paths[2])
    lines += quality_section(meta)
    lines += near_dup_section(meta.get("near_dup"))
    lines += lengths_section(stats, paths[0])
    lines += char_class_section(stats["char_classes"], paths[1])
    lines += top_lines_section(stats["top_lines"])
    lines += sources_section(stats["sources"], meta.get("mixture"))
    report = out_dir / "quality.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return [report, *paths]


def removals(meta: dict) -> dict[str, int]:
    """Documents each step removed, in pipeline order; steps that did not run are left out."""
    documents, rules = meta["documents"], meta.get("quality") or {}
    steps = {"cleaning (length limits)": documents["input"] - documents["cleaned"]}
    steps.update({f"quality: {rule}": count for rule, count in rules.items() if count is not None})
    steps["exact duplicates"] = documents.get("quality_kept", documents["cleaned"]) - documents["unique"]
    if "near_unique" in documents:
        steps["near duplicates"] = documents["unique"] - documents["near_unique"]
    return steps


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def pipeline_section(meta: dict, figure: Path) -> list[str]:
    documents = meta["documents"]
    lines = ["## Documents through the pipeline", "", "| step | documents | removed | share removed |"]
    lines += ["|---|---:|---:|---:|", f"| input | {documents['input']} | | |"]
    before = documents["input"]
    steps = [("cleaned", "cleaned"), ("quality_kept", "quality rules"), ("unique", "exact dedup")]
    for key, label in [*steps, ("near_unique", "near dedup")]:
        if key in documents:
            removed = before - documents[key]
            lines.append(f"| {label} | {documents[key]} | {removed} | {percent(removed, before)} |")
            before = documents[key]
    lines += ["", "Kept per split: " + ", ".join(f"{name} {documents[name]}" for name in SPLITS) + "."]
    return [*lines, "", f"![documents removed per step](figures/{figure.name})", ""]


def quality_section(meta: dict) -> list[str]:
    rules = meta.get("quality")
    settings = (meta.get("settings") or {}).get("quality") or {}
    if not rules or settings.get("enabled") is False:
        return ["## Quality rules", "", "Quality filtering was switched off (data.quality.enabled=false).", ""]
    lines = ["## Quality rules", "", "Checked in this order; a document is counted under the first rule it fails.", ""]
    lines += ["| rule | threshold | removed |", "|---|---:|---:|"]
    for rule in [name for name in QUALITY_RULES if name in rules]:  # check order, not meta.json's sorted keys
        removed, threshold = rules[rule], settings.get(rule)
        lines.append(f"| {rule} | {'off' if removed is None else threshold} | {'' if removed is None else removed} |")
    return [*lines, ""]


def near_dup_section(near_dup: dict | None) -> list[str]:
    if not near_dup or near_dup.get("enabled") is False:
        return ["## Near duplicates", "", "Near-duplicate removal was switched off (data.near_dup.enabled=false).", ""]
    shown = ("ngram", "threshold", "num_perm", "bands", "rows")
    settings = ", ".join(f"{key} {near_dup[key]}" for key in shown if key in near_dup)
    lines = ["## Near duplicates", "", f"MinHash LSH: {settings}. Removed {near_dup['removed']} documents:", ""]
    by_split = near_dup.get("removed_by_split") or {}
    rows = (f"| {name} | {by_split[name]} |" for name in SPLITS if name in by_split)  # split order, not sorted keys
    lines += ["| split | removed |", "|---|---:|", *rows]
    return [*lines, ""]


def lengths_section(stats: dict, figure: Path) -> list[str]:
    lines = ["## Lengths", "", "| per document | mean | p50 | p90 | p99 | min | max | total |", "|---|" + "---:|" * 7]
    for name in ("characters", "tokens"):
        s = stats[name]
        cells = [s.get(key, "") for key in ("mean", "p50", "p90", "p99", "min", "max", "total")]
        lines.append(f"| {name} | " + " | ".join(str(cell) for cell in cells) + " |")
    lines += ["", "p50/p90/p99 come from a KLL sketch (rank error about 1.3%); the rest are exact."]
    return [*lines, "", f"![length histograms](figures/{figure.name})", ""]


def char_class_section(classes: dict[str, int], figure: Path) -> list[str]:
    total = sum(classes.values())
    lines = ["## Character classes", "", "| class | characters | share |", "|---|---:|---:|"]
    lines += [f"| {name} | {count} | {percent(count, total)} |" for name, count in classes.items()]
    return [*lines, "", f"![character classes](figures/{figure.name})", ""]


def top_lines_section(top: list[dict]) -> list[str]:
    lines = ["## Most repeated lines", ""]
    if not top:
        return [*lines, "No line occurs in more than one document.", ""]
    lines += ["Documents containing each line (a frequent-items sketch: at least the second number).", ""]
    lines += ["| documents | at least | line |", "|---:|---:|---|"]
    for item in top:
        text = item["line"].replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")
        lines.append(f"| {item['documents']} | {item['at_least']} | {text} |")
    return [*lines, ""]


def sources_section(sources: list[dict], mixture: list[dict] | None) -> list[str]:
    lines = ["## Sources", "", "| source | weight | " + " | ".join(f"{name} docs" for name in SPLITS)]
    lines[-1] += " | characters | train tokens | train token share |"
    lines.append("|---|---:|" + "---:|" * (len(SPLITS) + 3))
    for item in sources:
        mix = mixture[item["source"]] if mixture and item["source"] < len(mixture) else {}
        cells = [mix.get("path", item["source"]), mix.get("weight", "")]
        cells += [item["documents"][name] for name in SPLITS] + [item["characters"]]
        cells += [mix.get("tokens", {}).get("train", ""), mix.get("token_share", {}).get("train", "")]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return [*lines, ""]


def lengths_figure(stats: dict) -> Figure:
    figure = Figure(figsize=(8, 3.2), dpi=DPI, layout="constrained")
    for axes, name in zip(figure.subplots(1, 2), ("characters", "tokens"), strict=True):
        edges = np.array(stats[name]["edges"])
        counts = np.array(stats[name]["counts"])
        axes.stairs(counts, edges, fill=True)
        axes.set_xscale("log")
        used = np.flatnonzero(counts)
        if used.size:
            axes.set_xlim(edges[used[0]] / 2, edges[used[-1] + 1] * 2)
        axes.set_xlabel(f"{name} per document")
        axes.set_ylabel("documents")
        axes.set_title(f"Document length in {name}")
    return figure


def char_class_figure(classes: dict[str, int]) -> Figure:
    figure = Figure(figsize=(6, 3.2), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    total = sum(classes.values()) or 1
    axes.bar(list(classes), [100 * count / total for count in classes.values()])
    axes.set_ylabel("% of characters")
    axes.set_title("Character classes")
    return figure


def removals_figure(steps: dict[str, int]) -> Figure:
    figure = Figure(figsize=(8, 0.8 + 0.35 * len(steps)), dpi=DPI, layout="constrained")
    axes = figure.subplots()
    axes.bar_label(axes.barh(list(steps)[::-1], list(steps.values())[::-1]))
    axes.set_xlabel("documents removed")
    axes.set_title("Documents removed per step")
    return figure
