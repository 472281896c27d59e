"""The `llm-scaffold` command line: a thin layer mapping options to library calls.

Only this module prints and chooses exit codes; the library raises typed errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from generator import __version__
from generator.errors import ScaffoldError
from generator.new import create_project
from generator.template_source import ENV_VAR

app = typer.Typer(
    name="llm-scaffold",
    help="Generate PyTorch-Lightning + Hydra LLM projects from the llm-scaffold template.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


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
    vcs_ref: Annotated[str | None, typer.Option(help="Template git tag, branch or commit (default: latest tag).")] = None,
    data: Annotated[
        list[str] | None,
        typer.Option("--data", "-d", help="Answer a question: -d key=value (repeatable)."),
    ] = None,
    defaults: Annotated[bool, typer.Option(help="Use the default for every question not given with -d.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the result.")] = False,
) -> None:
    """Generate a new project in DEST.

    Without --defaults the questions are asked interactively. Example:

        llm-scaffold new chat-bot --defaults -d project_name="Chat Bot" -d ci=github
    """
    answers = parse_data(data or [])
    try:
        path = create_project(dest, template=template, vcs_ref=vcs_ref, data=answers, defaults=defaults, quiet=quiet)
    except ScaffoldError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/yellow] nothing was written.")
        raise typer.Exit(130) from None
    console.print(f"[green]Created[/green] {path}", highlight=False)


def main() -> None:
    app()
