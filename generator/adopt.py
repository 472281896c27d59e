"""`llm-scaffold adopt`: link an existing project to the template so that updates work.

Writes only `.copier-answers.yml` (the base version, the template source and the answers), so the
next `update` is a 3-way merge from that base version: the project's differences from the base
render count as its own edits. Answers come from `-d`, from a cruft project's `.cruft.json`
context, from the project's layout (its one package under src/), else the template defaults.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from copier import run_copy
from copier.errors import CopierError

from generator import template_source, versions
from generator import trust as trust_policy
from generator.errors import InvalidAnswerError, ProjectError
from generator.project import ANSWERS_FILE, git

ANSWERS_HEADER = "# Changes here will be overwritten by Copier; do NOT edit manually\n"


def adopt_project(
    path: str | Path,
    template: str | None = None,
    version: str | None = None,
    data: dict | None = None,
    from_cruft: bool = False,
    trust: bool = False,
) -> dict:
    """Write the answers file of an existing project; return the recorded answers."""
    path = Path(path).expanduser().resolve()
    if git(path, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        raise ProjectError(f"{path} is not a git repository: `git init` and commit it first, updates need its history")
    if (path / ANSWERS_FILE).exists():
        raise ProjectError(f"{path} is already linked ({ANSWERS_FILE} exists): use `llm-scaffold update`")
    source = template_source.resolve(template)
    version = versions.choose(source, version)
    answers = {**inferred_answers(path, from_cruft), **(data or {})}
    answers = validated_answers(source, version, answers, trust_policy.allows_code(source, trust))
    recorded = {"_commit": version, "_src_path": source, **answers}
    (path / ANSWERS_FILE).write_text(ANSWERS_HEADER + yaml.safe_dump(recorded, sort_keys=True, allow_unicode=True))
    return recorded


def inferred_answers(path: Path, from_cruft: bool) -> dict:
    answers = {}
    packages = [p.parent.name for p in (path / "src").glob("*/__init__.py")] if (path / "src").is_dir() else []
    if len(packages) == 1:
        answers["package_name"] = packages[0]
    if from_cruft:
        cruft = path / ".cruft.json"
        if not cruft.is_file():
            raise ProjectError(f"{path} has no .cruft.json: drop --from-cruft, or pass answers with -d key=value")
        try:
            context = json.loads(cruft.read_text(encoding="utf-8")).get("context", {}).get("cookiecutter", {})
        except (ValueError, AttributeError) as err:
            raise ProjectError(f"{cruft} is not a cruft file ({err}): fix it, or drop --from-cruft") from err
        answers.update({key: value for key, value in context.items() if not key.startswith("_")})
    return answers


def validated_answers(source: str, version: str, answers: dict, unsafe: bool) -> dict:
    """The template's own validators check the answers; keys it does not ask are dropped."""
    with tempfile.TemporaryDirectory(prefix="llm-scaffold-adopt-") as scratch:
        try:
            with trust_policy.refusing_untrusted(source):
                worker = run_copy(
                    source,
                    Path(scratch) / "render",
                    data=answers,
                    vcs_ref=version,
                    defaults=True,
                    pretend=True,  # ask and validate only: nothing is written
                    skip_tasks=True,
                    quiet=True,
                    unsafe=unsafe,
                )
        except ValueError as err:
            raise InvalidAnswerError(f"{err}: pass the right value with -d key=value") from err
        except CopierError as err:
            raise ProjectError(f"cannot read template '{source}' at {version} ({err}): check --template") from err
        questions = worker.template.questions_data
        return {key: value for key, value in worker.answers.combined.items() if key in questions}
