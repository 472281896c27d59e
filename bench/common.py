"""What the generator's benchmarks share: the template with three versions, timing, and how a bench runs alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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


def run_alone(name: str, measure: Callable[[Path, Path], dict], json_path: Path | None) -> int:
    """`measure(template, work)` in a scratch folder with make_template's template; print (and write) its results."""
    with tempfile.TemporaryDirectory(prefix=f"llm-scaffold-bench-{name}-") as scratch:
        template = make_template(Path(scratch) / "template")
        results = measure(template, Path(scratch) / "work")
    print(json.dumps(results, indent=2))
    if json_path:
        json_path.write_text(json.dumps(results, indent=2) + "\n")
    return 0
