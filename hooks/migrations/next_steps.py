"""For migrations: report a next step the user must take by hand, e.g.

    from next_steps import report
    report("scripts/train.sh:3 still passes data=default: change it to data=corpus")

The step is printed as `NEXT STEP: ...` (plain `copier update` shows it) and appended to the file
`git rev-parse --git-path llm-scaffold/next-steps` names, from which `llm-scaffold update` lists it
after the update (and in its JSON, `next_steps`). Run from the project folder, as copier runs
migrations.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

PREFIX = "NEXT STEP: "
STEPS_FILE = "llm-scaffold/next-steps"


def report(step: str) -> None:
    line = " ".join(step.split())  # one step, one line
    print(f"{PREFIX}{line}", flush=True)
    found = subprocess.run(["git", "rev-parse", "--git-path", STEPS_FILE], capture_output=True, text=True)
    if found.returncode != 0:  # not in a git repository: printing is all we can do
        return
    path = Path(found.stdout.strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as steps:
        steps.write(line + "\n")
