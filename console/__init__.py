"""The web console at ``/console`` (docs/console.md): where policy administrators tune
need-to-know, auditors read the trail, case administrators keep cases and teams, and front-end
developers try queries.

Floor 6, beside ``commands/``: it reads and changes through the same modules the command line
does (policies/, audit/, office/) and queries through the gateway's own pipeline, never around
them. ``console.app.mount`` is the route ``gateway.app.create_app`` serves it by.

- ``app.py``: the sub-application, its middleware (sessions, security headers) and static files.
- ``session.py``: server-side sessions behind an ``HttpOnly``, ``SameSite=Strict`` cookie.
- ``auth.py``: OpenID Connect sign-in (authorization code + PKCE, authlib's Starlette client).
- ``web.py``: what every page uses: the signed-in official, roles, CSRF, rendering, the trail.
- ``i18n.py``: the messages in Chinese and English.
- ``pages/``: one module per page; each declares its ``PAGE`` and ``ROUTES`` (found by name).
"""
