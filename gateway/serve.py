"""``jointgate serve``: the gateway alone, against the agencies named in the config.

With ``gateway.workers = N`` (N > 1) the process binds the port, then forks N worker processes
that each build their own gateway (connections, audit writer, caches) and serve on that one
socket: the kernel hands each connection to one of them, so one host uses all its cores. The
parent only supervises: a worker that dies is started again (a worker that keeps dying within
seconds of starting stops the whole gateway), and SIGTERM or SIGINT is passed on to every worker,
which drains its in-flight requests like a single process does. Workers share what replicas
share (Redis, the databases, the audit log: each transaction locks the log, docs/audit.md).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from audit.errors import AuditConfigError, AuditKeyError
from gateway import logs
from gateway.app import Extension, build_gateway, create_app
from gateway.config_check import check_config
from gateway.settings import Settings
from kernel.config import ConfigError
from policies.db import GovernanceUnavailable
from policies.engine import PolicyError

log = logging.getLogger("jointgate.serve")

QUICK_EXIT_S = 10.0  # a worker that exits sooner after starting counts as failing to start
MAX_QUICK_EXITS = 5  # in a row: then the gateway stops instead of restarting it forever


def run_gateway(
    settings: Settings, extensions: Sequence[Extension] = (), **gateway_options: object
) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn drains in-flight requests, then the lifespan closes).
    ``extensions``: what is served beside the API (the console: ``console.app.mount``)."""
    logs.configure(settings.telemetry)  # JSON lines on standard error unless log_format = "text"
    if settings.workers > 1:
        if status := _supervise(settings, extensions, gateway_options):
            sys.exit(status)
        return
    _serve(settings, None, extensions, gateway_options)


GC_YOUNG_THRESHOLD = 40_000  # allocations between young collections (Python's default: 700)


def _serve(
    settings: Settings,
    sock: socket.socket | None,
    extensions: Sequence[Extension],
    options: dict[str, object],
) -> None:
    app = create_app(build_gateway(settings, **options), extensions)  # type: ignore[arg-type]
    # What start-up built (schema, policies, compiled code) lives as long as the process: the
    # collector need never look at it again. A request allocates tens of thousands of objects,
    # all freed by reference counting (no request leaves reference cycles: see
    # tests/gateway/test_pipeline.py); a young collection only walks what is still alive, the
    # requests in flight, so fewer of them cost less and keep no more memory. Measured side by
    # side (peers load, 20 clients): young threshold 700 / 2,500 / 10,000 / 40,000 gave 188 /
    # 202 / 207 / 224 req/s for 151 / 152 / 155 / 161 MiB.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        # the peer is the socket's: uvicorn's own X-Forwarded-For handling would believe it from
        # 127.0.0.1 by default; gateway.trusted_proxies decides instead (gateway/forwarded.py)
        proxy_headers=False,
        log_config=None,  # uvicorn's own records go through the handler logs.configure set
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _supervise(
    settings: Settings, extensions: Sequence[Extension], options: dict[str, object]
) -> int:
    """The pre-fork parent (see the module's docstring); returns the exit status."""
    sock = _bind(settings.host, settings.port)
    workers: dict[int, tuple[int, float]] = {}  # pid -> (worker number, started at)
    stopping = False
    quick_exits = 0

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: its own process group, so a terminal's ^C reaches the parent
            os.setpgid(0, 0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            status = 0
            try:
                _serve(settings, sock, extensions, options)
            except BaseException:
                log.exception("gateway worker %d failed", number)
                status = 1
            finally:
                logging.shutdown()
                os._exit(status)
        workers[pid] = (number, time.monotonic())

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # a second SIGINT would make uvicorn skip the drain

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(settings.workers):
        start(number)
    log.info("gateway listening on %s:%d with %d workers", settings.host, settings.port,
             settings.workers)  # fmt: skip
    status = 0
    while workers:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        if pid not in workers:
            continue
        number, started = workers.pop(pid)
        if stopping:
            continue
        quick_exits = quick_exits + 1 if time.monotonic() - started < QUICK_EXIT_S else 0
        if quick_exits >= MAX_QUICK_EXITS:
            log.error("gateway worker %d keeps exiting at start (status %d); stopping", number,
                      os.waitstatus_to_exitcode(code))  # fmt: skip
            status = 1
            stop(signal.SIGTERM, None)
            continue
        log.error("gateway worker %d (pid %d) exited with status %d; starting it again", number,
                  pid, os.waitstatus_to_exitcode(code))  # fmt: skip
        time.sleep(min(0.2 * 2**quick_exits, 5.0))
        if not stopping:
            start(number)
    sock.close()
    return status


#: What building the gateway raises for a configuration it cannot start with; ``check_config``
#: finds these first, so they reach here only if a file changed in between, or, for the
#: governance database, if it cannot be reached (it is connected to only when serving).
STARTUP_ERRORS = (ConfigError, AuditConfigError, AuditKeyError, PolicyError, GovernanceUnavailable)


def serve(config_path: Path, extensions: Sequence[Extension] = ()) -> int:
    """Exit 2 with every problem, a line each and no traceback, for a configuration the gateway
    cannot start with: the checks of ``jointgate config check`` run first."""
    try:
        settings, problems = check_config(config_path)
    except ConfigError as exc:  # the file cannot be read or parsed
        return _refuse(exc.problems)
    if problems:
        return _refuse(problems)
    try:
        run_gateway(settings, extensions)
    except STARTUP_ERRORS as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        return _refuse(str(problem) for problem in problems)
    return 0


def _refuse(problems: Iterable[str]) -> int:
    for problem in problems:
        print(f"jointgate serve: {problem}", file=sys.stderr)
    return 2
