"""The report of `llm-scaffold fleet remote`: one JSON document, or a Markdown table (for a CI job summary)."""

from __future__ import annotations

from collections import Counter

from generator.remote_fleet import RemoteResult, all_ok

COLUMNS = ["repository", "branch", "from", "to", "status", "conflicts", "update branch", "push"]


def as_json(results: list[RemoteResult], fleet_file: str) -> dict:
    """{"fleet", "ok", "counts": {status: n}, "repositories": [RemoteResult.as_dict(), ...]}."""
    return {
        "fleet": fleet_file,
        "ok": all_ok(results),
        "counts": dict(Counter(str(result.status) for result in results)),
        "repositories": [result.as_dict() for result in results],
    }


def summary(results: list[RemoteResult]) -> str:
    counts = Counter(str(result.status) for result in results)
    return f"{len(results)} repositories: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def as_markdown(results: list[RemoteResult]) -> str:
    """A heading, a table with one row per repository, and the messages (errors, notes) below it."""
    lines = [f"## llm-scaffold fleet: {summary(results)}", "", row(COLUMNS), row(["---"] * len(COLUMNS))]
    for result in results:
        where = f"{result.name} (`{result.path}`)" if result.path else result.name
        conflicts = ", ".join(f"`{name}`" for name in result.conflicts)
        branch = f"`{result.update_branch}`" if result.update_branch else ""
        status = f"**{result.status}**" if result.status not in ("updated", "current") else str(result.status)
        lines.append(
            row([where, result.branch, result.from_version, result.to_version, status, conflicts, branch, result.push])
        )
    notes = [f"- **{result.name}**: {result.message}" for result in results if result.message]
    return "\n".join([*lines, *(["", "### Messages", "", *notes] if notes else [])]) + "\n"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
