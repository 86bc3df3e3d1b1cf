"""``jointgate sandbox``: generate the world and serve the five agencies (called by commands.main).

Expects the options ``commands.main`` defines: ``scale``, ``seed``, ``host``, ``port``
(``AGENCY=PORT`` list), ``port_file``, ``bank_key_file``, ``latency_ms``, ``error_rate`` and
``down`` (lists), ``exit_with_parent``, ``tls`` (a directory, or None) and
``require_client_cert``, and optionally ``scenario_file``, ``issuer_dir`` and ``console_redirect``
(a list): with ``--issuer-dir DATA_DIR`` the demo issuer's OpenID Connect endpoints
(sandbox/oidc.py) are served too, on a port of their own (key ``issuer`` in the port file), the
console client registered with the ``--console-redirect`` URIs. Prints the agencies' URLs, writes
the demo scenario's identifiers as JSON to ``--scenario-file`` (before the agencies are up) and
the agencies' URLs as JSON to ``--port-file``
(atomically, so a parent process polling for the file never reads half of it) and serves until
interrupted. With ``--tls DIR`` the agencies are served over HTTPS with the CA, server and client
certificates in DIR (created there if missing, see :mod:`sandbox.tls`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from sandbox import banking, oidc
from sandbox.runner import parse_fault_knobs, parse_ports, serve_sandbox
from sandbox.tls import ServerTLS, ensure_certificates
from sandbox.world import generate

__all__ = ["run_sandbox"]


def run_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox from parsed command-line options; returns the exit status."""
    try:
        faults = parse_fault_knobs(args.latency_ms, args.error_rate, args.down)
        ports = parse_ports(args.port)
    except ValueError as exc:
        print(f"jointgate sandbox: {exc}", file=sys.stderr)
        return 2
    key = banking.DEFAULT_KEY
    if args.bank_key_file is not None:
        key = Path(args.bank_key_file).read_text().strip().encode()
    tls = None
    if getattr(args, "tls", None) is not None:
        files = ensure_certificates(Path(args.tls))
        tls = ServerTLS(
            files, require_client_cert=bool(getattr(args, "require_client_cert", False))
        )
        who = "clients the CA signed" if tls.require_client_cert else "any client"
        print(f"TLS: CA {files.ca}; serving {who}", file=sys.stderr)

    started = time.perf_counter()
    world = generate(args.scale, args.seed)
    counts = ", ".join(f"{n} {k}" for k, n in world.counts().items())
    print(
        f"world (seed {args.seed}, scale {args.scale}) generated in "
        f"{time.perf_counter() - started:.1f} s: {counts}",
        file=sys.stderr,
    )
    if getattr(args, "scenario_file", None) is not None:
        _write_atomically(Path(args.scenario_file), json.dumps(world.scenario))
    # The world lives as long as the process. Frozen, the collector's full passes no longer
    # walk its ~140,000 objects: at scale 0.2 they paused every agency for 0.2-0.3 s every few
    # hundred requests, which was the p99 of every benchmark that goes through the sandbox.
    gc.collect()
    gc.freeze()

    def ready(urls: dict[str, str]) -> None:
        for name, url in urls.items():
            print(f"  {name:8} {url}", file=sys.stderr)
        if args.port_file is not None:
            _write_atomically(Path(args.port_file), json.dumps(urls))
        print("sandbox ready (Ctrl+C to stop)", file=sys.stderr, flush=True)

    extra: dict[str, Starlette] = {}
    if getattr(args, "issuer_dir", None) is not None:
        redirects = list(getattr(args, "console_redirect", None) or [])
        extra["issuer"] = oidc.create_app(Path(args.issuer_dir), redirects)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            serving = serve_sandbox(world, args.host, ports, faults, key, ready, tls, extra)
            runner.run(_until_orphaned(serving) if args.exit_with_parent else serving)
    except OSError as exc:
        print(f"jointgate sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


async def _until_orphaned(serving: Coroutine[Any, Any, None]) -> None:
    """Serve until done, or until the parent process dies (so a killed demo leaves no orphan)."""
    parent = os.getppid()
    task = asyncio.create_task(serving)
    while not task.done():
        await asyncio.wait([task], timeout=1.0)
        if os.getppid() != parent:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
    task.result()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (uvicorn[standard] brings it): faster."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
