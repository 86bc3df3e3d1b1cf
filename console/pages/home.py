"""The overview (``/console/``), the sign-in page and sign-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console import session
from console.web import csrf_ok, official, record, render, same_origin


async def home(request: Request) -> Response:
    if official(request) is None:
        return RedirectResponse("/console/sign-in", 303)
    return render(request, "home.html")


async def sign_in(request: Request) -> Response:
    if official(request) is not None:
        return RedirectResponse(_next(request), 303)
    return render(
        request, "sign_in.html", next=_next(request), error=request.query_params.get("error", "")
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
        session.end(request.scope)
        return response
    return RedirectResponse("/console/", 303)


def _next(request: Request) -> str:
    """Where to go after sign-in: a path of the console only (never another site)."""
    target = request.query_params.get("next", "/console/")
    if not target.startswith("/console/") or target.startswith("//") or "\\" in target:
        return "/console/"
    return target


ROUTES = [
    Route("/", home),
    Route("/sign-in", sign_in),
    Route("/sign-out", sign_out, methods=["POST"]),
]
