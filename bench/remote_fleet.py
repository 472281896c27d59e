"""Benchmark of `fleet remote`: N local bare repositories as remotes, `--jobs 2` vs `--jobs 1`.

    python bench/remote_fleet.py [--repos 20] [--rounds 2] [--json PATH]

Both sides clone, update (this checkout's template, v0.1.0 -> v0.2.0 of lifecycle.make_template)
and push the same N repositories, each round on fresh remotes, in alternating order; each side's
fastest round counts. Goal: ratio <= 0.6 on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import yaml
from common import run_alone

from generator.fleet_file import load_fleet
from generator.new import create_project
from generator.remote_fleet import run_remote_fleet


def remote_fleet_bench(template: Path, work: Path, repos: int = 20, rounds: int = 2) -> dict:
    """`template` has tags v0.1.0 and v0.2.0; `work` an empty folder. Returns the times and their ratio."""
    seed = create_project(
        work / "seed", template=str(template), vcs_ref="v0.1.0", defaults=True, quiet=True, trust=True
    )
    sides: dict[int, list[float]] = {2: [], 1: []}
    for round_ in range(rounds):
        for jobs in [1, 2] if round_ % 2 == 0 else [2, 1]:
            remotes = work / f"round{round_}-jobs{jobs}"
            for i in range(repos):
                subprocess.run(
                    ["git", "clone", "--quiet", "--bare", str(seed), str(remotes / f"repo{i}.git")], check=True
                )
            fleet_file = remotes / "fleet.yml"
            fleet_file.write_text(yaml.safe_dump([f"repo{i}.git" for i in range(repos)]))
            start = time.perf_counter()
            results = run_remote_fleet(load_fleet(fleet_file), remotes / "clones", to="v0.2.0", jobs=jobs, trust=True)
            sides[jobs].append(time.perf_counter() - start)
            assert all(result.push == "created" for result in results), [r.message for r in results if not r.push]
    parallel_s, sequential_s = min(sides[2]), min(sides[1])
    return {
        "remote_fleet_repos": repos,
        "remote_fleet_jobs2_s": round(parallel_s, 2),
        "remote_fleet_jobs1_s": round(sequential_s, 2),
        "remote_fleet_ratio": round(parallel_s / sequential_s, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=20, help="remote repositories (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per side, alternating order (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    return run_alone(
        "remote", lambda template, work: remote_fleet_bench(template, work, args.repos, args.rounds), args.json
    )


if __name__ == "__main__":
    raise SystemExit(main())
