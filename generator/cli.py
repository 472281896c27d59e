"""The `llm-scaffold` command line: a thin layer mapping options to library calls.

Only this module prints and chooses exit codes; the library raises typed errors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from generator import __version__, remote_fleet, remote_report, template_source, versions
from generator.adopt import adopt_project
from generator.check import check_project
from generator.diff import diff_project
from generator.errors import ScaffoldError
from generator.fleet import all_ok, run_fleet
from generator.fleet_file import load_fleet
from generator.new import create_project
from generator.outcomes import ConflictStyle, Status
from generator.project import ANSWERS_FILE, open_project
from generator.release import release as release_version
from generator.stepwise import update_stepwise
from generator.template_source import ENV_VAR
from generator.update import UpdateResult, update_project
from generator.update import abort as abort_update

TrustOption = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Let this template run its own code (tasks, migrations). Without it only the team template "
        f"(${ENV_VAR} or this package's checkout) and templates listed under `trust:` in copier's settings may.",
    ),
]

app = typer.Typer(
    name="llm-scaffold",
    help="Generate PyTorch-Lightning + Hydra LLM projects from the llm-scaffold template.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
DEBUG_VAR = "LLM_SCAFFOLD_DEBUG"
T = TypeVar("T")


def run_or_exit(work: Callable[[], T]) -> T:
    """Call the library; a ScaffoldError becomes one `error:` line and its exit code."""
    try:
        return work()
    except ScaffoldError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None


def parse_data(pairs: list[str]) -> dict[str, str]:
    """`-d key=value` options as a dict; a malformed pair is a usage error."""
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"'{pair}' is not key=value, e.g. -d project_name='Chat Bot'", param_hint="-d")
        data[key.strip()] = value
    return data


def version_callback(show: bool) -> None:
    if show:
        typer.echo(f"llm-scaffold {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Generate PyTorch-Lightning + Hydra LLM projects from the llm-scaffold template."""


@app.command()
def new(
    dest: Annotated[Path, typer.Argument(help="Folder to create the project in (must not exist, or be empty).")],
    template: Annotated[
        str | None,
        typer.Option(help=f"Template path or git URL (default: ${ENV_VAR}, else this package's checkout)."),
    ] = None,
    vcs_ref: Annotated[
        str | None, typer.Option(help="Template git tag, branch or commit (default: latest tag).")
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option("--data", "-d", help="Answer a question: -d key=value (repeatable)."),
    ] = None,
    defaults: Annotated[bool, typer.Option(help="Use the default for every question not given with -d.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the result.")] = False,
    trust: TrustOption = False,
) -> None:
    """Generate a new project in DEST.

    Without --defaults the questions are asked interactively. Example:

        llm-scaffold new chat-bot --defaults -d project_name="Chat Bot" -d ci=github
    """
    answers = parse_data(data or [])
    try:
        path = run_or_exit(
            lambda: create_project(
                dest, template=template, vcs_ref=vcs_ref, data=answers, defaults=defaults, quiet=quiet, trust=trust
            )
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/yellow] nothing was written.")
        raise typer.Exit(130) from None
    console.print(f"[green]Created[/green] {path}", highlight=False)


ProjectPath = Annotated[Path, typer.Argument(help="The generated project (default: the current folder).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON report.")]


@app.command()
def update(
    path: ProjectPath = Path("."),
    to: Annotated[
        str | None,
        typer.Option(
            help="Template tag, branch or commit to move to (default: the latest release; for a project made "
            "from an untagged commit, the head of the template's default branch unless a newer release exists)."
        ),
    ] = None,
    conflict: Annotated[
        ConflictStyle, typer.Option(help="inline: conflict markers in files; rej: .rej files beside them.")
    ] = ConflictStyle.INLINE,
    dry_run: Annotated[bool, typer.Option(help="Show the diff the update would apply; change nothing.")] = False,
    stepwise: Annotated[
        bool,
        typer.Option(
            help="Apply each template version in between in order, one commit each; stop at the first "
            "that leaves conflicts (uncommitted)."
        ),
    ] = False,
    abort: Annotated[
        bool, typer.Option("--abort", help="Undo an interrupted update: restore the commit it started from.")
    ] = False,
    trust: TrustOption = False,
    as_json: JsonOption = False,
) -> None:
    """Update a project to a newer template version (3-way merge: your edits are kept).

    Your edits to a file the new version renames are merged into the new file.

    A file you edited that the new version deletes is kept and listed as a conflict.

    Steps the template's migrations could not take themselves are listed at the end ("Next steps").

    Exit codes: 0 updated or already current, 1 conflicts left to resolve, 2 error (repository unchanged).
    """
    if abort:
        result = run_or_exit(lambda: abort_update(path))
    else:
        run = update_stepwise if stepwise else update_project
        result = run_or_exit(lambda: run(path, to=to, conflict=conflict, dry_run=dry_run, trust=trust))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    elif result.status == Status.ABORTED:
        console.print(
            f"Aborted the update of {result.path} to {result.to_version}: back at {result.from_version}, "
            "as before it started.",
            highlight=False,
        )
    elif result.status == Status.CURRENT:
        console.print(f"{result.path} is already at {result.to_version}.", highlight=False)
    elif result.status == Status.DRY_RUN:
        typer.echo(result.diff, nl=False)
        console.print(
            f"dry run: {result.from_version} -> {result.to_version} would change {len(result.changed)} file(s)"
            f"{f' with conflicts in {len(result.conflicts)}' if result.conflicts else ''}; nothing was changed."
        )
    elif result.conflicts:
        console.print(
            f"Updated {result.path} from {result.from_version} to {result.to_version} with conflicts: "
            "resolve the <<<<<<< blocks, then commit.",
            highlight=False,
        )
    elif stepwise:
        console.print(
            f"Updated {result.path} from {result.from_version} to {result.to_version}, one commit per version: "
            f"{len(result.changed)} file(s) changed. Review with `git log -p`.",
            highlight=False,
        )
    else:
        console.print(
            f"Updated {result.path} from {result.from_version} to {result.to_version}: "
            f"{len(result.changed)} file(s) changed. Review with `git diff`, then commit.",
            highlight=False,
        )
    if not as_json:
        print_steps(result)
    if result.conflicts:
        listed = [f"{name} ({result.kept[name]})" if name in result.kept else name for name in result.conflicts]
        console.print("[yellow]Conflicts to resolve:[/yellow]\n  " + "\n  ".join(listed), highlight=False)
        raise typer.Exit(1)


def print_steps(result: UpdateResult) -> None:
    """The versions a stepwise update went through, then the next steps the migrations reported."""
    if len(result.steps) > 1:
        for step in result.steps:
            outcome = f"committed {step.commit[:12]}" if step.commit else str(step.status)
            console.print(f"  {step.from_version} -> {step.to_version}: {outcome}", highlight=False)
    if result.next_steps:
        steps = "\n  - ".join(result.next_steps)
        console.print(f"[yellow]Next steps the template asks of you:[/yellow]\n  - {steps}", highlight=False)


@app.command()
def check(path: ProjectPath = Path("."), trust: TrustOption = False, as_json: JsonOption = False) -> None:
    """Is the project behind its template, has a managed file drifted, are conflicts unresolved?

    Exit codes: 0 current and clean, 1 behind, drifted or conflicted, 2 error.
    Declare files you change on purpose in pyproject.toml: [tool.llm-scaffold] owned = ["README.md"].
    """
    report = run_or_exit(lambda: check_project(path, trust=trust))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        latest = f", latest {report.latest}" if report.latest else ""
        console.print(f"{report.path}: template {report.version or 'unversioned'}{latest}", highlight=False)
        if report.behind:
            console.print(f"  behind: run `llm-scaffold update` to move to {report.target}", highlight=False)
        for name in report.drifted:
            console.print(f"  drifted: {name}", highlight=False)
        for name in report.conflicts:
            console.print(f"  unresolved conflict markers: {name}", highlight=False)
        if report.ok:
            console.print("  ok: current, no drift, no conflicts")
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def diff(path: ProjectPath = Path("."), trust: TrustOption = False) -> None:
    """Show how the project differs from a fresh render of its own template version."""
    typer.echo(run_or_exit(lambda: diff_project(path, trust=trust)), nl=False)


@app.command(name="versions")
def list_versions(
    template: Annotated[str | None, typer.Option(help=f"Template path or git URL (default: ${ENV_VAR}).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the template's versions (git tags) with their CHANGELOG lines.

    Inside a generated project, without --template: the versions of the template it records.
    """
    source = run_or_exit(lambda: template if template else recorded_source(Path.cwd()))
    source = run_or_exit(lambda: template_source.resolve(source))
    tags = run_or_exit(lambda: versions.list_versions(source))
    notes = versions.changelog(source)
    if as_json:
        typer.echo(json.dumps([{"version": tag, "changes": notes.get(tag, "")} for tag in tags], indent=2))
        return
    if not tags:
        head = run_or_exit(lambda: versions.choose(source, None))
        console.print(
            f"{source} has no version tags yet: `update` moves projects to the head of its default branch, {head}.",
            highlight=False,
        )
    for tag in reversed(tags):
        typer.echo(tag)
        for line in notes.get(tag, "").splitlines():
            typer.echo(f"  {line}")


def recorded_source(folder: Path) -> str | None:
    """The template source recorded by the project `folder` is in (searched upwards to its git
    repository's top), else None: the configured template."""
    for candidate in [folder.resolve(), *folder.resolve().parents]:
        if (candidate / ANSWERS_FILE).is_file():
            return open_project(candidate).source
        if (candidate / ".git").exists():
            return None
    return None


@app.command()
def release(
    version: Annotated[str, typer.Argument(help="The new version tag, vX.Y.Z.")],
    repo: Annotated[Path, typer.Option(help="The template repository (default: the current folder).")] = Path("."),
) -> None:
    """For template maintainers: tag a release (clean tree, above the last version, in CHANGELOG.md,
    and a commit that generates a project with the default answers)."""
    tag = run_or_exit(lambda: release_version(version, repo, progress=partial(console.print, highlight=False)))
    console.print(f"Tagged {tag}. Publish it with `git push origin {tag}`.", highlight=False)


@app.command()
def adopt(
    path: Annotated[Path, typer.Argument(help="The existing project (a git repository).")],
    from_cruft: Annotated[bool, typer.Option(help="Take the answers from a cruft project's .cruft.json.")] = False,
    trust: TrustOption = False,
    template: Annotated[str | None, typer.Option(help=f"Template path or git URL (default: ${ENV_VAR}).")] = None,
    version: Annotated[str | None, typer.Option(help="The template version the project matches best.")] = None,
    data: Annotated[list[str] | None, typer.Option("--data", "-d", help="An answer: -d key=value.")] = None,
) -> None:
    """Link a project not made by this template (or made by cookiecutter/cruft) so that updates work.

    Writes only .copier-answers.yml; the next `update` merges from --version, keeping your files.
    """
    answers = parse_data(data or [])
    recorded = run_or_exit(lambda: adopt_project(path, template, version, answers, from_cruft, trust))
    console.print(
        f"Linked {path} to {recorded['_src_path']} at {recorded['_commit']}. "
        "Commit .copier-answers.yml, then run `llm-scaffold update`.",
        highlight=False,
    )


fleet_app = typer.Typer(help="Check or update many projects at once.", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")
Paths = Annotated[list[Path], typer.Argument(help="Project folders.")]
JobsOption = Annotated[int, typer.Option(help="Repositories handled in parallel (processes).")]


def report_fleet(entries, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([entry.as_dict() for entry in entries], indent=2))
    else:
        table = Table("repo", "from", "to", "result", "message", title="llm-scaffold fleet")
        colours = {
            Status.UPDATED: "green",
            Status.CURRENT: "green",
            Status.CONFLICTS: "yellow",
            Status.DIRTY: "yellow",
            Status.BEHIND: "yellow",
        }
        for entry in entries:
            colour = colours.get(entry.result, "red")
            table.add_row(entry.repo, entry.from_version, entry.to_version, f"[{colour}]{entry.result}", entry.message)
        console.print(table)
    raise typer.Exit(0 if all_ok(entries) else 1)


@fleet_app.command("status")
def fleet_status(paths: Paths, jobs: JobsOption = 2, trust: TrustOption = False, as_json: JsonOption = False) -> None:
    """Check every project: current, behind, drifted, conflicts, interrupted or error. Exit 1 if any needs attention."""
    report_fleet(run_or_exit(lambda: run_fleet("status", paths, jobs=jobs, trust=trust)), as_json)


@fleet_app.command("update")
def fleet_update(
    paths: Paths,
    to: Annotated[str | None, typer.Option(help="Template version (default: the latest tag).")] = None,
    jobs: JobsOption = 2,
    trust: TrustOption = False,
    as_json: JsonOption = False,
) -> None:
    """Update every project on a new branch with one commit; report updated, current, conflicts, dirty or error.

    A project with conflicts keeps its new branch checked out, uncommitted, for a person to resolve.
    Exit 1 if any project needs attention.
    """
    report_fleet(run_or_exit(lambda: run_fleet("update", paths, to=to, jobs=jobs, trust=trust)), as_json)


@fleet_app.command("remote")
def fleet_remote(
    fleet_file: Annotated[Path, typer.Argument(help="YAML: repositories: [{url, branch?, path?, name?}, ...].")],
    to: Annotated[str | None, typer.Option(help="Template version (default: the latest).")] = None,
    jobs: JobsOption = 2,
    workdir: Annotated[
        Path | None, typer.Option(help="Keep the clones in DIR/<name> (default: a temporary folder, removed).")
    ] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push each update branch (default) or not.")] = True,
    markdown: Annotated[Path | None, typer.Option(help="Also write the report as Markdown to FILE.")] = None,
    trust: TrustOption = False,
    as_json: JsonOption = False,
) -> None:
    """Update the git repositories of a fleet file: clone, update, push `llm-scaffold/update-<version>`.

    Conflicts are committed with their markers and listed, for the owners to resolve in the pull request.
    Prints a Markdown table (or --json); progress goes to stderr. Exit 1 if any repository needs attention.
    """
    repos = run_or_exit(lambda: load_fleet(fleet_file))
    total, finished = len(repos), []
    where = workdir or "a temporary folder"
    typer.echo(f"fleet remote: {total} repositories, {jobs} job(s), clones in {where}", err=True)

    def progress(result) -> None:
        finished.append(result)
        versions_moved = f" {result.from_version} -> {result.to_version}" if result.to_version else ""
        detail = f" ({result.push} {result.update_branch})" if result.push else ""
        problem = f": {result.message}" if result.status == Status.ERROR else ""
        typer.echo(
            f"[{len(finished)}/{total}] {result.name}: {result.status}{versions_moved}{detail} "
            f"in {result.seconds:.1f}s{problem}",
            err=True,
        )

    results = run_or_exit(
        lambda: remote_fleet.run_remote_fleet(
            repos, workdir, to=to, jobs=jobs, trust=trust, push=push, on_done=progress
        )
    )
    table = remote_report.as_markdown(results)
    if markdown:
        run_or_exit(lambda: write_report(markdown, table))
    if as_json:
        typer.echo(json.dumps(remote_report.as_json(results, str(fleet_file)), indent=2))
    else:
        typer.echo(table, nl=False)
    raise typer.Exit(0 if remote_fleet.all_ok(results) else 1)


def write_report(file: Path, text: str) -> None:
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ScaffoldError(f"cannot write the report to {file} ({err.strerror}): choose a writable path") from err


def main() -> None:
    """The console script: any failure the library did not foresee still ends in one line, not a traceback."""
    try:
        app()  # typer handles usage errors, exit codes and Ctrl-C itself, and exits
    except Exception as err:  # noqa: BLE001 - the last line of defence between a bug and a user
        if os.environ.get(DEBUG_VAR):
            raise
        console.print(
            f"[red]error:[/red] unexpected {type(err).__name__}: {err}. This is a bug in llm-scaffold: "
            f"run again with {DEBUG_VAR}=1 for the traceback and report it.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
