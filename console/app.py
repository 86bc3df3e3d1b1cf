"""The console's sub-application, mounted at ``/console`` by ``gateway.app.create_app``
(commands/ passes :func:`mount` as an extension; docs/architecture.md).

Its pages are the modules of ``console/pages`` (each declares ``PAGE`` and ``ROUTES``), its
sign-in ``console/auth.py``; every asset it serves is in ``console/static`` (nothing from a
CDN: agency networks are often closed).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from console import auth, i18n, pages
from console.session import Sessions, SessionStore
from console.web import Console, Page, language, render
from gateway.app import Gateway

STATIC = Path(__file__).parent / "static"


def page_modules() -> list[ModuleType]:
    """Every module of console/pages, in name order."""
    return [
        importlib.import_module(f"{pages.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name)
    ]


def build(gateway: Gateway) -> Starlette:
    modules = page_modules()
    declared: Sequence[Page] = sorted(
        (m.PAGE for m in modules if hasattr(m, "PAGE")), key=lambda p: (p.order, p.slug)
    )
    routes: list[BaseRoute] = [*auth.ROUTES]
    for module in modules:
        routes += module.ROUTES
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    settings = gateway.settings.console
    secure = True if settings.public_url.startswith("https://") else None
    store = SessionStore(settings.session_ttl_s, settings.session_idle_s)
    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_allowed},
        middleware=[Middleware(Sessions, store=store, secure=secure)],
        # a form, a policy draft or a workbench query: no bigger than the API takes (413)
        max_body_size=gateway.settings.max_body_bytes,
    )
    app.state.console = Console(gateway, declared)
    app.state.sessions = store
    return app


async def not_found(request: Request, exc: Exception) -> Response:
    message = i18n.text("app.not_found", language(request))
    return render(request, "error.html", 404, message=message, title="app.not_found.title")


async def not_allowed(request: Request, exc: Exception) -> Response:
    message = i18n.text("app.not_allowed", language(request))
    return render(request, "error.html", 405, message=message, title="app.not_allowed.title")


def mount(gateway: Gateway) -> BaseRoute:
    """The route ``create_app`` adds: the console at /console."""
    return Mount("/console", app=build(gateway))
