"""Regenerate template/requirements.lock.jinja: the locked dependencies of every generated variant.

For each combination of the answers that change pyproject.toml's dependencies (python_version,
logger, include_serving, include_ui, data_versioning), render the template and lock its pyproject.toml
with `uv pip compile --universal` and torch pinned, exactly as the generated project's `make lock`
does. Lines that every variant shares are written plain, the others inside a Jinja condition on the
answers, so each project renders the very file its own `make lock` would write today: sorted,
deterministic, and an ordinary text file that copier's 3-way merge updates line by line (a user's
added pin survives an update).

Maintainers run it after changing the template's dependencies: `make template-lock` (needs PyPI).
"""

from __future__ import annotations

import heapq
import itertools
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2
from copier import run_copy

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET = REPO_ROOT / "template" / "requirements.lock.jinja"
TORCH_PIN = "torch==2.13.0"  # the Makefile's TORCH_VERSION; the CPU build carries a local label (+cpu)
# The answers that change the dependencies, in the order conditions name them.
DIMENSIONS = {
    "python_version": ["3.10", "3.11", "3.12"],
    "logger": ["csv", "tensorboard", "wandb", "mlflow"],
    "include_serving": [True, False],
    "include_ui": [True, False],
    "data_versioning": ["none", "dvc"],
}
# The project's `make lock`, minus the output path.
UV_COMPILE = ["pip", "compile", "pyproject.toml", "--all-extras", "--universal", "--no-annotate", "--quiet"]
CUSTOM_COMMAND = ["--custom-compile-command", "make lock"]


def render_pyproject(answers: dict, work: Path) -> Path:
    dest = work / "-".join(str(value) for value in answers.values())
    run_copy(str(REPO_ROOT), dest, data=answers, defaults=True, skip_tasks=True, quiet=True)
    return dest


def lock_variant(answers: dict, project: Path) -> list[str]:
    python = ["--python-version", answers["python_version"]]  # the floor of the universal resolution
    command = [sys.executable, "-m", "uv", *UV_COMPILE, *python, *CUSTOM_COMMAND, "--constraint", "/dev/stdin"]
    result = subprocess.run(command, cwd=project, input=TORCH_PIN + "\n", capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"uv pip compile failed for {answers}:\n{result.stderr}")
    return result.stdout.splitlines()


def condition(variants: set[tuple], all_variants: list[tuple]) -> str | None:
    """The shortest Jinja test true exactly for `variants`, naming as few answers as possible."""
    names = list(DIMENSIONS)
    if len(variants) == len(all_variants):
        return None
    for size in range(1, len(names) + 1):
        for dims in itertools.combinations(range(len(names)), size):
            project = {tuple(v[d] for d in dims) for v in variants}
            if {v for v in all_variants if tuple(v[d] for d in dims) in project} == variants:
                return jinja_test([names[d] for d in dims], sorted(project, key=str))
    raise AssertionError("unreachable: the full set of dimensions always matches")


def jinja_test(names: list[str], values: list[tuple]) -> str:
    if len(names) == 1 and isinstance(values[0][0], bool):
        return names[0] if values == [(True,)] else f"not {names[0]}"
    if len(names) == 1:
        options = ", ".join(f'"{value}"' for (value,) in values)
        return f"{names[0]} == {options}" if len(values) == 1 else f"{names[0]} in [{options}]"
    rows = ", ".join("(" + ", ".join(repr(v) if isinstance(v, bool) else f'"{v}"' for v in row) + ")" for row in values)
    return f"({', '.join(names)}) in [{rows}]"


def merged_order(locks: dict[tuple, list[str]]) -> list[str]:
    """Every line of every lock once, in an order that keeps each lock's own (a topological sort of the
    locks' successive pairs, ties taken alphabetically)."""
    successors: dict[str, set[str]] = defaultdict(set)
    predecessors: Counter[str] = Counter()
    lines = {line for lock in locks.values() for line in lock}
    for lock in locks.values():
        for before, after in itertools.pairwise(lock):
            if after not in successors[before]:
                successors[before].add(after)
                predecessors[after] += 1
    ready = [(line.lower(), line) for line in lines if predecessors[line] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        line = heapq.heappop(ready)[1]
        order.append(line)
        for after in successors[line]:
            predecessors[after] -= 1
            if predecessors[after] == 0:
                heapq.heappush(ready, (after.lower(), after))
    if len(order) != len(lines):
        raise SystemExit("error: the variants' locks order their lines differently; cannot merge them")
    return order


def build_template(locks: dict[tuple, list[str]]) -> str:
    all_variants = list(locks)
    out, current = [], None
    for line in merged_order(locks):
        test = condition({v for v, lock in locks.items() if line in lock}, all_variants)
        if test != current:
            if current is not None:
                out.append("{% endif -%}")
            if test is not None:
                out.append(f"{{% if {test} -%}}")
            current = test
        out.append(line)
    if current is not None:
        out.append("{% endif -%}")
    return "\n".join(out) + "\n"


def main() -> int:
    variants = list(itertools.product(*DIMENSIONS.values()))
    answers = [dict(zip(DIMENSIONS, values, strict=True)) for values in variants]
    with tempfile.TemporaryDirectory(prefix="template-lock-") as work:
        projects = [render_pyproject(variant, Path(work)) for variant in answers]  # copier: one at a time
        with ThreadPoolExecutor(max_workers=4) as pool:  # uv mostly waits on the index
            locks = dict(zip(variants, pool.map(lock_variant, answers, projects), strict=True))
    for variant, values in zip(answers, variants, strict=True):
        print(f"locked {variant}: {len(locks[values])} lines", file=sys.stderr)
    text = build_template(locks)
    template = jinja2.Environment(keep_trailing_newline=True).from_string(text)
    for values, lock in locks.items():  # each variant renders exactly its own lock
        rendered = template.render(dict(zip(DIMENSIONS, values, strict=True)))
        assert rendered == "\n".join(lock) + "\n", f"the template does not render the lock of {values}"
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO_ROOT)} ({len(variants)} variants)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
