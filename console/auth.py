"""Sign-in by OpenID Connect (authorization code + PKCE): to be written (helper A)."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
