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
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from copier import run_copy, run_update
from remote_fleet import remote_fleet_bench
from update_job import update_job_bench

from generator.fleet import guarded, run_fleet, update_one
from generator.new import create_project
from generator.update import update_project

REPO_ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_template(dest: Path) -> Path:
    """This checkout's template in a git repo: v0.1.0, v0.2.0 (a README line added), v0.3.0 (a comment line
    appended to every Python file of the template, >= 100 files)."""
    dest.mkdir(parents=True)
    for name in ("copier.yml", "template", "hooks", "CHANGELOG.md"):
        source = REPO_ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, dest / name)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    git(dest, "init", "--quiet")
    git(dest, "add", "--all")
    git(dest, *identity, "commit", "--quiet", "-m", "v0.1.0")
    git(dest, "tag", "v0.1.0")
    readme = dest / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nA line added in v0.2.0.\n")
    git(dest, *identity, "commit", "--quiet", "-am", "v0.2.0")
    git(dest, "tag", "v0.2.0")
    changed = [path for path in (dest / "template").rglob("*") if path.name.endswith((".py", ".py.jinja"))]
    assert len(changed) >= 100, f"only {len(changed)} Python files in the template"
    for path in changed:
        path.write_text(path.read_text() + "# Changed in v0.3.0.\n")
    git(dest, *identity, "commit", "--quiet", "-am", "v0.3.0")
    git(dest, "tag", "v0.3.0")
    return dest


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def interleaved(repeats: int, sides: dict) -> dict[str, float]:
    """Each side's fastest of `repeats` runs; the sides alternate which goes first."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(repeats):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for name in order:
            times[name].append(sides[name](i))
    return {name: min(runs) for name, runs in times.items()}


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
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-bench-") as scratch:
        work = Path(scratch)
        template = make_template(work / "template")
        results = bench_new(template, work, args.repeats)
        results.update(bench_update(template, work, args.repeats, "v0.1.0", "v0.2.0", "update"))
        results.update(bench_update(template, work, args.repeats, "v0.2.0", "v0.3.0", "update_100_files"))
        results.update(bench_fleet(template, work, args.repos, args.fleet_rounds))
        results.update(remote_fleet_bench(template, work / "remote", args.repos, args.fleet_rounds))
        results.update(update_job_bench(template, work / "job", args.repeats))
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
