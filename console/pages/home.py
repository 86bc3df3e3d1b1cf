"""The overview (``/console/``), the sign-in page and sign-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console import auth, session
from console.i18n import text
from console.web import csrf_ok, language, official, record, render, same_origin


async def home(request: Request) -> Response:
    if official(request) is None:
        return RedirectResponse("/console/sign-in", 303)
    return render(request, "home.html")


async def sign_in(request: Request) -> Response:
    if official(request) is not None:
        return RedirectResponse(_next(request), 303)
    # ?error= names one of console/auth.py's codes; anything else is shown as nothing
    key = auth.error_key(request.query_params.get("error", ""))
    return render(
        request,
        "sign_in.html",
        next=_next(request),
        error=text(key, language(request)) if key else "",
        signed_out=request.query_params.get("signed_out") == "1",
    )


async def sign_out(request: Request) -> Response:
    form = await request.form()
    if (
        official(request) is not None
        and same_origin(request)
        and csrf_ok(request, form.get("csrf"))
    ):
        await record(request, "console.sign-out", {})
        response = RedirectResponse("/console/sign-in?signed_out=1", 303)
        # what the browser kept for this official (the workbench's editor, its history) goes
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        session.end(request.scope)
        return response
    return RedirectResponse("/console/", 303)


def _next(request: Request) -> str:
    """Where to go after sign-in: a path of the console only (never another site)."""
    return auth.safe_next(request.query_params.get("next"))


ROUTES = [
    Route("/", home),
    Route("/sign-in", sign_in),
    Route("/sign-out", sign_out, methods=["POST"]),
]
