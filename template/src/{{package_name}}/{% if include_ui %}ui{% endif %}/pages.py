"""The pipeline, composing and launching a stage, and a run's live view (log tail, curves, stop, resume)."""

from __future__ import annotations

import shlex
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from ..utils.paths import PACKAGE
from .app import Project, form, page
from .compose import Composition, compose_run, stages
from .curves import charts
from .processes import Launcher, tail
from .runs import PIPELINE, Run, list_runs, load_run, recent_runs, relative

router = APIRouter()
ACTIVE = ("running", "stopping")


def project_of(request: Request) -> Project:
    return request.app.state.project


def launcher_of(request: Request) -> Launcher:
    return request.app.state.launcher


@router.get("/")
def pipeline_page(request: Request) -> Response:
    return page(request, "pipeline.html", pipeline_context(request))


@router.get("/pipeline")
def pipeline_cards(request: Request) -> Response:
    return page(request, "_cards.html", pipeline_context(request))


def pipeline_context(request: Request) -> dict:
    log_dir = project_of(request).log_dir
    cards = []
    for stage in PIPELINE:
        if stage not in stages():
            continue
        runs = list_runs(log_dir, stage)
        latest = runs[0] if runs else None
        done = next((run for run in runs if run.finished), None)  # its numbers, also while a newer run goes
        cards.append(
            {"stage": stage, "runs": len(runs), "latest": latest, "done": done, "status": status(request, latest)}
        )
    recent = [(run, status(request, run)) for run in recent_runs(log_dir)]
    return {"cards": cards, "recent": recent}


def status(request: Request, run: Run | None) -> str:
    """done (summary.json written), else what the page knows of a process it started, else "no summary"."""
    if run is None:
        return "no runs"
    if run.finished:
        return "done"
    launched = launcher_of(request).get(run.stage, run.run_id)
    return launched.state if launched else "no summary"


@router.get("/compose")
def compose_page(request: Request, stage: str = "train", overrides: str = "") -> Response:
    selections = {key[6:]: value for key, value in request.query_params.items() if key.startswith("group.")}
    lines = overrides.splitlines()
    composition = compose_run(stage, {}, [])
    for line in list(lines):  # prefilled `group=option` lines (a resume link) become the group's choice
        key, _, value = line.partition("=")
        if key in composition.options and value in composition.options[key]:
            selections[key] = value
            lines.remove(line)
    composition = compose_run(stage, selections, lines)
    context = {"c": composition, "stages": stages(), "overrides": "\n".join(lines)}
    return page(request, "compose.html", context)


async def composed(request: Request) -> Composition:
    fields = await form(request)
    stage = fields.get("stage", ["train"])[0]
    selections = {key[6:]: values[0] for key, values in fields.items() if key.startswith("group.")}
    return compose_run(stage, selections, fields.get("overrides", [""])[0].splitlines())


@router.post("/compose/preview")
async def preview(request: Request) -> Response:
    composition = await composed(request)
    return page(request, "_preview.html", {"c": composition}, 422 if composition.errors else 200)


@router.post("/runs")
async def launch(request: Request) -> Response:
    composition = await composed(request)
    if composition.errors:
        return page(request, "_preview.html", {"c": composition}, 422)
    launched = launcher_of(request).start(composition.stage, composition.argv)
    return Response(status_code=204, headers={"HX-Redirect": f"/runs/{launched.stage}/{launched.run_id}"})


@router.get("/runs/{stage}/{run_id}")
def run_page(request: Request, stage: str, run_id: str) -> Response:
    return page(request, "run.html", run_context(request, stage, run_id))


@router.get("/runs/{stage}/{run_id}/live")
def run_live(request: Request, stage: str, run_id: str) -> Response:
    return page(request, "_live.html", run_context(request, stage, run_id))


@router.post("/runs/{stage}/{run_id}/stop")
def stop(request: Request, stage: str, run_id: str) -> Response:
    if not launcher_of(request).stop(stage, run_id):
        raise HTTPException(409, f"{stage} run {run_id} is not running from this page: nothing to stop")
    return page(request, "_live.html", run_context(request, stage, run_id))


def run_context(request: Request, stage: str, run_id: str) -> dict:
    project = project_of(request)
    run = load_run(project.log_dir, stage, run_id)
    if run is None:
        raise HTTPException(404, f"no {stage} run {run_id} in {project.log_dir / stage / 'runs'}")
    launched = launcher_of(request).get(stage, run_id)
    argv = launched.argv if launched else ["python", "-m", f"{PACKAGE}.{stage}", *run.overrides()]
    state = status(request, run)
    checkpoint = run.last_checkpoint()
    return {
        "run": run,
        "status": state,
        "active": state in ACTIVE,
        "can_stop": launched is not None and state == "running",
        "command": shlex.join(argv),
        "log": tail(run.log_file(), request.app.state.settings.log_lines),
        "charts": charts(run.path),
        "checkpoint": relative(checkpoint, project.root) if checkpoint else None,
        "resume": resume(run, argv, state, project),
        "next_steps": next_steps(run, project),
        "summary": sorted((run.summary or {}).items()),
    }


def resume(run: Run, argv: list[str], state: str, project: Project) -> dict | None:
    """For a train run that ended without a summary: the README's resume command, from its last.ckpt."""
    if run.stage != "train" or run.finished or state in ACTIVE:
        return None
    checkpoint = run.last_checkpoint()
    if checkpoint is None:
        return {"command": None, "link": None}
    overrides = [item for item in argv[3:] if not item.startswith("ckpt_path=")]
    overrides.append(f"ckpt_path={relative(checkpoint, project.root)}")
    link = "/compose?" + urlencode({"stage": "train", "overrides": "\n".join(overrides)})
    return {"command": shlex.join([*argv[:3], *overrides]), "link": link}


def next_steps(run: Run, project: Project) -> list[tuple[str, str]]:
    """After a finished train run: evaluate, export and analyze its best checkpoint, prefilled."""
    checkpoint = (run.summary or {}).get("checkpoint") if run.stage == "train" else None
    if not checkpoint:
        return []
    overrides = f"ckpt_path={relative(checkpoint, project.root)}"
    return [
        (stage, "/compose?" + urlencode({"stage": stage, "overrides": overrides}))
        for stage in ("evaluate", "export", "analyze")
        if stage in stages()
    ]
