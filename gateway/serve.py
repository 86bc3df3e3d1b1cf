"""``jointgate serve``: the gateway alone, against the agencies named in the config."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from gateway import logs
from gateway.app import build_gateway, create_app
from gateway.settings import ConfigError, Settings, load


def run_gateway(settings: Settings, **gateway_options: object) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn drains in-flight requests, then the lifespan closes)."""
    logs.configure(settings.telemetry)  # JSON lines on standard error unless log_format = "text"
    app = create_app(build_gateway(settings, **gateway_options))  # type: ignore[arg-type]
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,  # uvicorn's own records go through the handler logs.configure set
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()


def serve(config_path: Path) -> int:
    try:
        settings = load(config_path)
    except ConfigError as exc:
        print(f"jointgate serve: {exc}", file=sys.stderr)
        return 2
    run_gateway(settings)
    return 0
