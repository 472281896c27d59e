"""Lint and type-check the template's Python source as it stands in template/src, without rendering it.

The package folder is named `{{package_name}}` and two modules carry a condition in their names
(`{% if include_serving %}serve.py{% endif %}`), which neither ruff nor mypy accept as module names.
So this builds build/template-source/: symlinks to every plain `.py` file of the template under the
names a project gets, beside a pyproject.toml rendered from the template's own with its default
answers (the same [tool.ruff] and [tool.mypy] settings a generated project runs). A finding points at
the symlink, whose target is the template file to fix. The few `.jinja` modules are checked in the
rendered projects (tests/test_render.py).

    python scripts/check_template_source.py     (`make lint` runs it)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "template"
PACKAGE_FOLDER = TEMPLATE / "src" / "{{package_name}}"
VIEW = REPO_ROOT / "build" / "template-source"
PACKAGE = "template_package"
CONDITION = re.compile(r"\{%.*?%\}")


def default_answers() -> dict:
    """copier.yml's plain defaults; the package name is fixed, the only default that is a Jinja expression."""
    questions = yaml.safe_load((REPO_ROOT / "copier.yml").read_text(encoding="utf-8"))
    answers = {name: spec["default"] for name, spec in questions.items() if not name.startswith("_")}
    return {**answers, "package_name": PACKAGE}


def build_view() -> Path:
    shutil.rmtree(VIEW / "src", ignore_errors=True)
    package = VIEW / "src" / PACKAGE
    for source in sorted(PACKAGE_FOLDER.rglob("*.py")):
        target = package / CONDITION.sub("", str(source.relative_to(PACKAGE_FOLDER)))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)
    # The package's own __init__.py.jinja only holds the project's description.
    (package / "__init__.py").write_text('"""The template\'s package, as a project gets it."""\n', encoding="utf-8")
    pyproject = jinja2.Template((TEMPLATE / "pyproject.toml.jinja").read_text(encoding="utf-8"))
    (VIEW / "pyproject.toml").write_text(pyproject.render(default_answers()), encoding="utf-8")
    return VIEW


def main() -> int:
    view = build_view()
    checks = [
        ["ruff", "check", "--no-cache", "src"],
        ["ruff", "format", "--no-cache", "--check", "src"],
        ["mypy", "--cache-dir", str(REPO_ROOT / "build" / "mypy-cache"), "src"],
    ]
    failed = 0
    for check in checks:
        print(f"template/src: {' '.join(check[:2])}", flush=True)
        failed |= subprocess.run([sys.executable, "-m", *check], cwd=view).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
