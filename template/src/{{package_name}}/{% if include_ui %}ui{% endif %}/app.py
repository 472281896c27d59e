"""The FastAPI application: the auth guard, error pages without tracebacks, the key form, static files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from ..utils.logging import get_logger
from ..utils.paths import PACKAGE
from .auth import COOKIE, key_matches, refusal
from .processes import Launcher
from .settings import UiSettings

log = get_logger(__name__)
HERE = Path(__file__).parent
MAX_FORM_BYTES = 64_000
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["package"] = PACKAGE
templates.env.trim_blocks = templates.env.lstrip_blocks = True


@dataclass(frozen=True)
class Project:
    root: Path
    log_dir: Path
    artifacts_dir: Path
    ui_log: Path | None = None  # where this page's own log goes: named in error pages


def create_app(settings: UiSettings, project: Project) -> FastAPI:
    from . import pages, registry_page  # the routes, after `templates` exists

    app = FastAPI(title=f"{PACKAGE} workflow", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.project = settings, project
    app.state.launcher = Launcher(project.root, project.log_dir)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(registry_page.router)

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        refused = refusal(request, settings)
        if refused is None:
            return await call_next(request)
        status, message = refused
        if status == 401 and request.method == "GET" and "hx-request" not in request.headers:
            return page(request, "login.html", {"message": ""}, status)
        return message_response(request, message, status)

    @app.post("/login")
    async def login(request: Request) -> Response:
        key = (await form(request)).get("key", [""])[0]
        if not settings.api_key or key_matches(key, settings.api_key):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, key, httponly=True, samesite="strict")
            return response
        return page(request, "login.html", {"message": "that is not the key"}, 401)

    @app.get("/login")
    def login_form(request: Request) -> Response:
        return page(request, "login.html", {"message": ""})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        return message_response(request, str(err.detail), err.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, err: RequestValidationError) -> Response:
        return message_response(request, "the request does not fit this page's forms: reload the page", 422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, err: Exception) -> Response:
        log.exception("Unexpected error answering %s %s", request.method, request.url.path)
        where = f" ({project.ui_log})" if project.ui_log else ""
        return message_response(request, f"the page hit an internal error: its details are in the ui log{where}", 500)

    return app


def page(request: Request, name: str, context: dict, status: int = 200, headers: dict | None = None) -> Response:
    settings: UiSettings = request.app.state.settings
    return templates.TemplateResponse(
        request, name, {"refresh_s": settings.refresh_s, **context}, status_code=status, headers=headers
    )


def message_response(request: Request, message: str, status: int) -> Response:
    """An error as a page, or for htmx as a message in the page's message area."""
    if "hx-request" in request.headers:
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return page(request, "_flash.html", {"message": message, "ok": False}, status, headers)
    if request.method == "GET":
        return page(request, "error.html", {"message": message, "status": status}, status)
    return HTMLResponse(message, status_code=status)


async def form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form (htmx's encoding); python-multipart is not needed for it."""
    too_large = HTTPException(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():  # read no more than the limit, whatever the client says it sends
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise too_large
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
