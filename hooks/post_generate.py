"""Copier task run in a freshly generated project: give it a git history of its own.

When the destination is not inside a git repository, initialise one and commit the
generated files, so that `copier update` (a 3-way merge) has a base to work from.
A destination inside an existing repository is left for its owner to commit.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

GIT_IDENTITY = {"user.name": "llm-scaffold", "user.email": "llm-scaffold@localhost"}


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def has_identity() -> bool:
    return all(git("config", key).stdout.strip() for key in GIT_IDENTITY)


def main() -> int:
    if shutil.which("git") is None:
        print("llm-scaffold: git not found; skipping `git init` (install git to enable updates).")
        return 0
    if git("rev-parse", "--is-inside-work-tree").returncode == 0:
        print("llm-scaffold: destination is inside a git repository; commit the new files yourself.")
        return 0
    for args in (("init", "--quiet"), ("add", "--all")):
        result = git(*args)
        if result.returncode != 0:
            print(f"llm-scaffold: git {args[0]} failed: {result.stderr.strip()}", file=sys.stderr)
            return result.returncode
    # Fall back to a neutral identity only where the user has none configured.
    identity = [] if has_identity() else [f"-c{key}={value}" for key, value in GIT_IDENTITY.items()]
    result = subprocess.run(
        ["git", *identity, "commit", "--quiet", "--no-verify", "-m", "Initial commit from llm-scaffold"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"llm-scaffold: git commit failed: {result.stderr.strip()}", file=sys.stderr)
        return result.returncode
    print("llm-scaffold: initialised a git repository with the generated files.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
