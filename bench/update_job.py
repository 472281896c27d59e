"""Benchmark of the generated project's update job end to end vs a bare `llm-scaffold update`.

    python bench/update_job.py [--repeats 3] [--json PATH]

One side runs `python -m <package>.devtools.template_update --trust` in a project whose `origin` is a
local bare repository (check, a stepwise update on its branch, commit, push, the pull request through a
stand-in `gh` that answers at once); the other runs `llm-scaffold update --trust` on a twin project.
Both move v0.2.0 -> v0.3.0 of lifecycle.make_template (>= 100 files changed), as subprocesses, interleaved
in alternating order; each side's fastest run counts. Goal: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from common import run_alone

from generator.new import create_project
from generator.outcomes import update_branch

# The hosting API is the boundary this machine cannot cross: a `gh` that has no pull requests and opens one.
FAKE_GH = """#!/bin/sh
case "$1 $2" in
  "pr list") echo "[]" ;;
  "pr create") echo "https://git.example.invalid/pull/1" ;;
esac
"""


def hosted_project(template: Path, folder: Path) -> Path:
    """A project at v0.2.0 whose `origin` is a bare repository of its own."""
    options = {"vcs_ref": "v0.2.0", "defaults": True, "quiet": True, "trust": True}
    project = create_project(folder / "project", template=str(template), **options)
    subprocess.run(["git", "init", "--quiet", "--bare", str(folder / "origin.git")], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(folder / "origin.git")], cwd=project, check=True)
    subprocess.run(["git", "push", "--quiet", "origin", "HEAD"], cwd=project, check=True)
    return project


def timed_run(command: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def update_job_bench(template: Path, work: Path, repeats: int = 3) -> dict:
    fake_bin = work / "bin"
    fake_bin.mkdir(parents=True)
    (fake_bin / "gh").write_text(FAKE_GH)
    (fake_bin / "gh").chmod(0o755)
    scripts = Path(sys.executable).parent  # llm-scaffold of this environment
    env = {**os.environ, "PATH": os.pathsep.join([str(fake_bin), str(scripts), os.environ["PATH"]])}
    times: dict[str, list[float]] = {"job": [], "update": []}
    for i in range(repeats):
        for side in ["job", "update"] if i % 2 == 0 else ["update", "job"]:
            project = hosted_project(template, work / f"{side}-{i}")
            package = next(path.name for path in (project / "src").iterdir() if (path / "__init__.py").is_file())
            if side == "job":
                command = [sys.executable, "-m", f"{package}.devtools.template_update", "--trust"]
                run_env = {**env, "PYTHONPATH": str(project / "src")}
                times[side].append(timed_run(command, project, run_env))
                pushed = subprocess.run(
                    ["git", "ls-remote", "origin", update_branch("v0.3.0")], cwd=project, capture_output=True, text=True
                )
                assert pushed.stdout.strip(), "the job pushed no update branch"
            else:
                command = [str(scripts / "llm-scaffold"), "update", "--trust"]
                times[side].append(timed_run(command, project, env))
    job_s, update_s = min(times["job"]), min(times["update"])
    return {
        "update_job_s": round(job_s, 2),
        "bare_update_s": round(update_s, 2),
        "update_job_ratio": round(job_s / update_s, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs per side, alternating order (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    return run_alone("job", lambda template, work: update_job_bench(template, work, args.repeats), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
