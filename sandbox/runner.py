"""Run the five agency systems as five uvicorn servers in one event loop.

:func:`serve_sandbox` binds every port first (port 0 lets the OS choose a free one), starts the
servers, reports the URLs through ``ready`` once all are listening, and runs until it is
cancelled or the process gets SIGINT/SIGTERM; then it shuts every server down cleanly. With
``tls`` (see :mod:`sandbox.tls`) every agency is served over HTTPS, requiring client
certificates signed by the sandbox CA if asked to.
:func:`parse_fault_knobs` and :func:`parse_ports` turn ``AGENCY=VALUE`` command-line values into
per-agency settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

import uvicorn
from starlette.applications import Starlette

from sandbox import banking, courts, credit, market, police
from sandbox.faults import Faults
from sandbox.tls import ServerTLS
from sandbox.world import World

__all__ = [
    "AGENCIES",
    "create_apps",
    "parse_fault_knobs",
    "parse_ports",
    "serve_sandbox",
]

AGENCIES = ("police", "market", "banking", "courts", "credit")


def create_apps(
    world: World,
    faults: Mapping[str, Faults] | None = None,
    bank_key: bytes = banking.DEFAULT_KEY,
) -> dict[str, Starlette]:
    """The five agency apps over one world, each with its own (or default) fault settings."""
    knobs = {name: (faults or {}).get(name) or Faults() for name in AGENCIES}
    return {
        "police": police.create_app(world, knobs["police"]),
        "market": market.create_app(world, knobs["market"]),
        "banking": banking.create_app(world, knobs["banking"], key=bank_key),
        "courts": courts.create_app(world, knobs["courts"]),
        "credit": credit.create_app(world, knobs["credit"]),
    }


async def serve_sandbox(
    world: World,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    faults: Mapping[str, Faults] | None = None,
    bank_key: bytes = banking.DEFAULT_KEY,
    ready: Callable[[dict[str, str]], None] | None = None,
    tls: ServerTLS | None = None,
    extra: Mapping[str, Starlette] | None = None,
) -> None:
    """Serve the five agencies (and the ``extra`` apps, each on a free port of its own: the
    demo issuer, sandbox/oidc.py) until cancelled or until SIGINT/SIGTERM.

    ``ports`` maps agency names to ports (missing or 0: a free port). ``ready`` receives the
    URLs actually bound, e.g. ``{"police": "http://127.0.0.1:41234", ...}`` (``https://`` with
    ``tls``), once every server accepts connections. Raises ``OSError`` if a port cannot be
    bound.
    """
    unknown = sorted(set(ports or {}) - set(AGENCIES))
    if unknown:
        raise ValueError(f"unknown agency name(s): {', '.join(unknown)}")
    apps = create_apps(world, faults, bank_key)
    apps.update(extra or {})
    sockets = _bind_all(host, {name: (ports or {}).get(name, 0) for name in apps})
    servers = {
        name: uvicorn.Server(
            uvicorn.Config(
                app,
                lifespan="off",
                access_log=False,
                log_config=None,  # leave the host program's logging alone
                ws="none",
                timeout_graceful_shutdown=5,
                **(tls.uvicorn_options() if tls is not None else {}),
            )
        )
        for name, app in apps.items()
    }
    # Server.serve() would install signal handlers per server; one set for all is done below.
    tasks = {
        name: asyncio.create_task(server._serve([sockets[name]]), name=f"sandbox-{name}")
        for name, server in servers.items()
    }

    def stop() -> None:
        for server in servers.values():
            server.should_exit = True

    try:
        with _stop_on_signals(stop):
            await _wait_until_started(servers, tasks)
            if ready is not None:
                scheme = "https" if tls is not None else "http"
                ready({name: _url(sockets[name], scheme) for name in apps})
            await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        for sock in sockets.values():
            sock.close()
    for name, task in tasks.items():
        if not task.cancelled() and task.exception() is not None:
            raise RuntimeError(f"the {name} server failed") from task.exception()


def _bind_all(host: str, ports: Mapping[str, int]) -> dict[str, socket.socket]:
    sockets: dict[str, socket.socket] = {}
    try:
        for name, port in ports.items():
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on connections accepted from
            # such sockets, and without it keep-alive responses stall ~40 ms (Nagle + delayed
            # ACK).
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets[name] = sock
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


def _url(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - reporting, not binding
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def _wait_until_started(
    servers: Mapping[str, uvicorn.Server], tasks: Mapping[str, asyncio.Task[None]]
) -> None:
    while not all(server.started for server in servers.values()):
        for name, task in tasks.items():
            if task.done():
                raise RuntimeError(f"the {name} server stopped while starting") from (
                    task.exception() if not task.cancelled() else None
                )
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop`` on SIGINT/SIGTERM while inside (only possible in the main thread)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop)
                installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


# -------------------------------------------------------------------------------- command line


def _pairs(values: Iterable[str], option: str) -> Iterator[tuple[str, str]]:
    """``AGENCY=VALUE`` items from repeated and/or comma-separated option values."""
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            name, sep, setting = item.partition("=")
            name = name.strip()
            if name not in AGENCIES:
                raise ValueError(
                    f"{option}: unknown agency {name!r} (one of {', '.join(AGENCIES)})"
                )
            if not sep:
                raise ValueError(f"{option}: expected AGENCY=VALUE, got {item!r}")
            yield name, setting.strip()


def parse_fault_knobs(
    latency_ms: Iterable[str] = (),
    error_rate: Iterable[str] = (),
    down: Iterable[str] = (),
) -> dict[str, Faults]:
    """Per-agency :class:`Faults` from command-line values.

    ``latency_ms=["police=20"]``, ``error_rate=["banking=0.1"]``, ``down=["courts"]``; values
    may also be comma-separated (``"police=20,market=5"``). Every agency gets an entry. Raises
    ``ValueError`` with a readable message on a bad name or value.
    """
    knobs = {name: Faults(seed=i) for i, name in enumerate(AGENCIES)}
    for name, value in _pairs(latency_ms, "--latency-ms"):
        try:
            knobs[name].update({"latency_ms": int(value)})
        except ValueError as exc:
            raise ValueError(f"--latency-ms {name}={value}: {exc}") from None
    for name, value in _pairs(error_rate, "--error-rate"):
        try:
            knobs[name].update({"error_rate": float(value)})
        except ValueError as exc:
            raise ValueError(f"--error-rate {name}={value}: {exc}") from None
    for value in down:
        for name in (n.strip() for n in value.split(",") if n.strip()):
            if name not in AGENCIES:
                raise ValueError(f"--down: unknown agency {name!r} (one of {', '.join(AGENCIES)})")
            knobs[name].update({"down": True})
    return knobs


def parse_ports(values: Iterable[str]) -> dict[str, int]:
    """Ports from ``AGENCY=PORT`` values (0 or absent: a free port chosen by the OS)."""
    ports: dict[str, int] = {}
    for name, value in _pairs(values, "--port"):
        if not value.isdigit() or not 0 <= int(value) <= 65535:
            raise ValueError(f"--port {name}={value}: expected a port number from 0 to 65535")
        ports[name] = int(value)
    return ports
