"""Benchmarks of the generator, each a ratio against a baseline run in this same script.

    python bench/lifecycle.py [--repos 20] [--repeats 3] [--fleet-rounds 2] [--json PATH]

- `new`    : `llm-scaffold new` (create_project) vs raw `copier.run_copy` of the same template;
- `update` : `llm-scaffold update` (update_project) vs raw `copier.run_update`, v0.1.0 -> v0.2.0 (one README
             line: the easiest merge), and v0.2.0 -> v0.3.0 (every Python file of the template changed: >= 100);
- `fleet`  : `fleet update` of N repositories with 2 jobs vs the same N updates one after another;
- `remote` : `fleet remote` over N local bare repositories with 2 jobs vs 1 (bench/remote_fleet.py);
- `job`    : the generated project's update job end to end vs a bare `llm-scaffold update` (bench/update_job.py).
Each pair's sides run interleaved, in alternating order, and each side's fastest run counts.
Goals: new <= 1.2, update <= 1.2, fleet <= 0.6, remote <= 0.6, job <= 1.5. Absolute times on shared machines
mean little.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import interleaved, run_alone, timed
from copier import run_copy, run_update
from remote_fleet import remote_fleet_bench
from update_job import update_job_bench

from generator.fleet import guarded, run_fleet, update_one
from generator.new import create_project
from generator.update import update_project


def bench_new(template: Path, work: Path, repeats: int) -> dict:
    best = interleaved(
        repeats,
        {
            "ours": lambda i: timed(
                create_project, work / f"new-{i}", template=str(template), defaults=True, quiet=True, trust=True
            ),
            "raw": lambda i: timed(run_copy, str(template), work / f"copy-{i}", defaults=True, quiet=True, unsafe=True),
        },
    )
    return {
        "new_s": round(best["ours"], 3),
        "copier_copy_s": round(best["raw"], 3),
        "new_ratio": round(best["ours"] / best["raw"], 3),
    }


def projects_at(template: Path, folder: Path, count: int, version: str = "v0.1.0") -> list[Path]:
    """`count` projects of `version`; the benchmark's own copy of this checkout is trusted."""
    options = {"vcs_ref": version, "defaults": True, "quiet": True, "trust": True}
    return [create_project(folder / f"p{i}", template=str(template), **options) for i in range(count)]


def bench_update(template: Path, work: Path, repeats: int, start: str, target: str, label: str) -> dict:
    """`llm-scaffold update` vs `copier update` from `start` to `target`, on fresh projects each run."""
    projects = projects_at(template, work / f"update-{label}", 2 * repeats, start)

    def raw(i: int) -> float:
        options = {"overwrite": True, "defaults": True, "skip_answered": True, "quiet": True, "unsafe": True}
        return timed(run_update, str(projects[2 * i + 1]), vcs_ref=target, **options)

    best = interleaved(
        repeats, {"ours": lambda i: timed(update_project, projects[2 * i], to=target, trust=True), "raw": raw}
    )
    return {
        f"{label}_s": round(best["ours"], 3),
        f"copier_{label}_s": round(best["raw"], 3),
        f"{label}_ratio": round(best["ours"] / best["raw"], 3),
    }


def bench_fleet(template: Path, work: Path, repos: int, rounds: int) -> dict:
    """Both sides on fresh copies of the same fleet, in alternating order; each side's fastest round counts."""
    sides: dict[str, list[float]] = {"parallel": [], "sequential": []}
    for round_ in range(rounds):
        order = ["sequential", "parallel"] if round_ % 2 == 0 else ["parallel", "sequential"]
        for side in order:
            fleet = projects_at(template, work / f"fleet-{side}-{round_}", repos)
            if side == "parallel":
                sides[side].append(timed(run_fleet, "update", fleet, jobs=2, trust=True, to="v0.2.0"))
            else:
                one_by_one = lambda fleet=fleet: [guarded(update_one, str(p), "v0.2.0", True) for p in fleet]  # noqa: E731
                sides[side].append(timed(one_by_one))
    parallel_s, sequential_s = min(sides["parallel"]), min(sides["sequential"])
    return {
        "fleet_repos": repos,
        "fleet_jobs2_s": round(parallel_s, 2),
        "sequential_s": round(sequential_s, 2),
        "fleet_ratio": round(parallel_s / sequential_s, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20, help="repositories in the fleet benchmark (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side for new and update (default 3)")
    parser.add_argument("--fleet-rounds", type=int, default=2, help="fleet rounds, alternating order (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()

    def measure(template: Path, work: Path) -> dict:
        results = bench_new(template, work, args.repeats)
        results.update(bench_update(template, work, args.repeats, "v0.1.0", "v0.2.0", "update"))
        results.update(bench_update(template, work, args.repeats, "v0.2.0", "v0.3.0", "update_100_files"))
        results.update(bench_fleet(template, work, args.repos, args.fleet_rounds))
        results.update(remote_fleet_bench(template, work / "remote", args.repos, args.fleet_rounds))
        results.update(update_job_bench(template, work / "job", args.repeats))
        return results

    return run_alone("lifecycle", measure, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
