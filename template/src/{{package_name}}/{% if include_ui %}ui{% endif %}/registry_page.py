"""Artifacts (list, verify, promote, roll back, through the registry's own functions) and sweep results."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import UserError
from ..export.manifest import read_manifest, verify_files
from ..export.registry import Registry
from .app import page
from .runs import megabytes, show
from .sweeps import list_sweeps

router = APIRouter()


def registry_of(request: Request) -> Registry:
    return Registry(request.app.state.project.artifacts_dir)


@router.get("/artifacts")
def artifacts_page(request: Request) -> Response:
    return page(request, "artifacts.html", artifacts_context(registry_of(request)))


@router.post("/artifacts/rollback")
def rollback(request: Request) -> Response:
    return act(request, lambda registry: f"rolled back: {registry.rollback()} is current")


@router.post("/artifacts/{version}/verify")
def verify(request: Request, version: str) -> Response:
    def check(registry: Registry) -> str:
        folder, name = registry.resolve(version)
        manifest = read_manifest(folder)
        verify_files(folder, manifest, unlisted=True)
        return f"{name}: {len(manifest['files'])} files match manifest.json"

    return act(request, check, version)


@router.post("/artifacts/{version}/promote")
def promote(request: Request, version: str) -> Response:
    def promote_version(registry: Registry) -> str:
        registry.promote(version)
        return f"promoted: {registry.current()} is current"

    return act(request, promote_version, version)


def act(request: Request, action, version: str | None = None) -> Response:  # type: ignore[no-untyped-def]
    """Run a registry action; its UserError (a modified file, no earlier version...) is the message, a 422.

    `version` must be one of the registry's versions: `Registry.resolve` would also take a folder path ("~").
    """
    registry = registry_of(request)
    try:
        if version is not None and version not in registry.versions():
            known = ", ".join(registry.versions()) or "none yet"
            raise UserError(f"no artifact {version!r} in {registry.root}: choose one of {known}")
        message, ok = action(registry), True
    except (UserError, OSError) as err:
        message, ok = str(err), False
    context = {**artifacts_context(registry), "message": message, "ok": ok}
    return page(request, "_artifacts.html", context, 200 if ok else 422)


def artifacts_context(registry: Registry) -> dict:
    rows, problems = [], []
    try:
        current, history, versions = registry.current(), registry.history(), registry.versions()
    except (UserError, OSError) as err:
        return {"rows": [], "history": [], "root": registry.root, "problems": [str(err)]}
    for version in versions:
        try:
            manifest = read_manifest(registry.root / version)
        except (UserError, OSError) as err:
            problems.append(str(err))
            continue
        metrics = manifest.get("metrics", {})
        rows.append(
            {
                "version": version,
                "current": version == current,
                "created": manifest.get("created", ""),
                "int8_size": megabytes(metrics["int8_bytes"]) if "int8_bytes" in metrics else "",
                "perplexity": show(metrics.get("int8_perplexity", "")),
                "source": (manifest.get("source") or {}).get("checkpoint", ""),
            }
        )
    return {"rows": rows, "history": list(reversed(history)), "root": registry.root, "problems": problems}


@router.get("/sweeps")
def sweeps_page(request: Request) -> Response:
    return page(request, "sweeps.html", {"sweeps": list_sweeps(request.app.state.project.log_dir)})
