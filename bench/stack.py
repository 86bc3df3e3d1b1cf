"""The processes a benchmark runs against, each started as its own child on loopback.

:class:`Stack` starts the sandbox agencies once (``jointgate sandbox``), then any number of
servers on free ports: JointGate gateways (:mod:`bench.gateway_server`), the peer gateways in
``bench/peers/`` (Apollo Gateway on Node, ariadne-graphql-proxy in its own venv), the replaying
courts subgraph (:mod:`bench.replay`) and the trivial endpoint (:mod:`bench.trivial`). Leaving
the ``with`` block stops every child (SIGTERM, then SIGKILL). :func:`load` runs the load
generator (:mod:`bench.loadgen`) in a process of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from commands.demo import prepare, scenario_file, seed_cases
from sandbox.issuer import mint_token
from sandbox.world import World, generate

BENCH = Path(__file__).parent
RESULTS = BENCH / "results"
results_dir = RESULTS  # where save() writes; bench.run --quick points it elsewhere
PEERS = BENCH / "peers"
ARIADNE_PYTHON = PEERS / ".venv" / "bin" / "python"
SEED = 20261123
START_TIMEOUT_S = 180.0
TYPENAME = {"query": "{ __typename }"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """One child process serving HTTP at ``url``."""

    name: str
    process: subprocess.Popen[bytes]
    url: str

    def pids(self) -> list[int]:
        """The process and its live descendants (a pre-fork server's workers)."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
                todo += [int(c) for c in children.split()]
        return found

    def cpu_s(self) -> float:
        """User + system CPU seconds the process (all its threads) and its workers, live and
        ended, have used so far."""
        ticks = 0
        for i, pid in enumerate(self.pids()):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                # utime, stime; for the process itself also cutime, cstime (ended workers)
                ticks += sum(int(f) for f in fields[11 : 15 if i == 0 else 13])
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory_kib(self) -> dict[str, int]:
        """Resident set size and its peak (``VmRSS``, ``VmHWM``) in KiB from /proc, summed over
        the process and its workers."""
        out = {"rss_kib": 0, "peak_rss_kib": 0}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in ("VmRSS", "VmHWM"):
                        kib = int(value.split()[0])
                        out["rss_kib" if key == "VmRSS" else "peak_rss_kib"] += kib
        return out


class Stack:
    """Child processes of one benchmark run, all stopped on exit."""

    def __init__(self, scale: float, root: Path | None = None) -> None:
        self.scale = scale
        self._tmp = None if root is not None else tempfile.mkdtemp(prefix="jointgate-bench-")
        self.root = root or Path(self._tmp or ".")
        self.shared = self.root / "shared"
        self.servers: list[Server] = []
        self.agencies: dict[str, str] = {}
        self.bank_key = b""

    def __enter__(self) -> Stack:
        try:
            self._start_sandbox()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for server in reversed(self.servers):
            stop(server)
        self.servers.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # ---------------------------------------------------------------------------- sandbox

    def _start_sandbox(self) -> None:
        _, bank_key = prepare(self.shared)
        port_file = self.shared / "sandbox" / "ports.json"
        port_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "commands.main", "sandbox", "--scale", str(self.scale),
                   "--seed", str(SEED), "--port-file", str(port_file),
                   "--bank-key-file", str(bank_key), "--exit-with-parent",
                   "--scenario-file", str(scenario_file(self.shared))]  # fmt: skip
        with self._log("sandbox") as log:
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        self.servers.append(Server("sandbox", child, ""))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_file.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        self.agencies = json.loads(port_file.read_text())
        # the demo's cases, as jointgate demo seeds them (the joint case's subjects included)
        seed_cases(self.shared, json.loads(scenario_file(self.shared).read_text()))
        self.bank_key = bank_key.read_text().strip().encode()

    @functools.cached_property
    def world(self) -> World:
        """The sandbox's world, generated again here (same scale and seed: the same data);
        frozen as the sandbox freezes its own, so that the load generator and the direct path
        of benchmark 2 do not pause for full collections that walk it."""
        world = generate(self.scale, SEED)
        gc.collect()
        gc.freeze()
        return world

    def sandbox(self) -> Server:
        return self.servers[0]

    def set_latency(self, latency_ms: int) -> None:
        """The sandbox fault knob: ``latency_ms`` added to every API request of every agency."""
        for url in self.agencies.values():
            httpx.put(f"{url}/_sandbox/faults", json={"latency_ms": latency_ms}, trust_env=False)

    def reset_stats(self) -> None:
        for url in self.agencies.values():
            httpx.delete(f"{url}/_sandbox/stats", trust_env=False).raise_for_status()

    def stats(self) -> dict[str, int]:
        """API requests each agency has served since the last :meth:`reset_stats`."""
        return {
            name: httpx.get(f"{url}/_sandbox/stats", trust_env=False).json()["requests"]
            for name, url in self.agencies.items()
        }

    def token(self, user: str) -> str:
        return mint_token(user, self.shared, ttl_s=3600)

    # ---------------------------------------------------------------------------- servers

    def gateway(
        self,
        name: str,
        *,
        enforcement: bool = True,
        audit: str = "trail",
        agencies: Mapping[str, str] | None = None,
        workers: int = 1,
        checkout: Path | None = None,
    ) -> Server:
        """A JointGate process (bench/gateway_server.py); ``audit`` is "trail" or "memory";
        ``agencies`` overrides agency URLs; ``workers`` > 1: that many worker processes;
        ``checkout``: the code of another checkout of the project (bench/ab.py), run with this
        one's interpreter and installed dependencies."""
        port = free_port()
        command = [sys.executable, "-m", "bench.gateway_server", "--shared", str(self.shared),
                   "--data-dir", str(self.root / name), "--port", str(port),
                   "--enforcement", "on" if enforcement else "off", "--audit", audit,
                   "--workers", str(workers)]  # fmt: skip
        for agency, url in (agencies or {}).items():
            command += ["--agency", f"{agency}={url}"]
        return self._start(name, command, f"http://127.0.0.1:{port}", "/healthz", code=checkout)

    def apollo(self, subgraph_url: str, workers: int = 1) -> Server:
        """@apollo/gateway (bench/peers/apollo_gateway.mjs) over one courts subgraph;
        ``workers`` > 1: that many node:cluster workers on the port."""
        if not (PEERS / "node_modules" / "@apollo" / "gateway").is_dir():
            raise RuntimeError("bench/peers/node_modules is missing: run `make bench-peers`")
        port = free_port()
        command = ["node", str(PEERS / "apollo_gateway.mjs"), str(port), subgraph_url,
                   str(workers)]  # fmt: skip
        name = "apollo" if workers == 1 else f"apollo-x{workers}"
        return self._start(name, command, f"http://127.0.0.1:{port}", "/graphql", probe=True)

    def ariadne(self, subgraph_url: str) -> Server:
        """ariadne-graphql-proxy (bench/peers/ariadne_proxy.py) in bench/peers/.venv."""
        if not ARIADNE_PYTHON.exists():
            raise RuntimeError("bench/peers/.venv is missing: run `make bench-peers`")
        port = free_port()
        command = [str(ARIADNE_PYTHON), str(PEERS / "ariadne_proxy.py"), str(port), subgraph_url]
        return self._start("ariadne", command, f"http://127.0.0.1:{port}", "/graphql", probe=True)

    def replay(self, upstream: str) -> Server:
        """The replaying courts subgraph (bench/replay.py) in front of ``upstream``."""
        port = free_port()
        command = [sys.executable, "-m", "bench.replay", str(port), upstream]
        return self._start("replay", command, f"http://127.0.0.1:{port}", "/health")

    def trivial(self, body_bytes: int) -> Server:
        """A canned ``body_bytes`` JSON response to any request (bench/trivial.py)."""
        port = free_port()
        command = [sys.executable, "-m", "bench.trivial", str(port), str(body_bytes)]
        return self._start("trivial", command, f"http://127.0.0.1:{port}", "/")

    def _start(
        self,
        name: str,
        command: Sequence[str],
        url: str,
        health: str,
        *,
        probe: bool = False,
        code: Path | None = None,
    ) -> Server:
        """Start ``command``; ready once GET ``health`` (or, with ``probe``, POST of
        ``{ __typename }`` to it) answers 200. ``code``: import the project from there."""
        env = _child_env()
        if code is not None:
            env["PYTHONPATH"] = str(code.resolve())
        with self._log(name) as log:
            child = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=code
            )
        server = Server(name, child, url)
        self.servers.append(server)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with status {child.returncode}\n{self.log_tail(name)}"
                )
            try:
                response = (
                    httpx.post(url + health, json=TYPENAME, timeout=1, trust_env=False)
                    if probe
                    else httpx.get(url + health, timeout=1, trust_env=False)
                )
                if response.status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not start in time")

    def _log(self, name: str) -> IO[bytes]:
        """The child's stderr goes to ROOT/logs/NAME.log (kept for the run, shown on failure)."""
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        return (self.root / "logs" / f"{name}.log").open("ab")

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.root / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def retire(self, server: Server) -> None:
        """Stop one server before the run ends (frees its core for the next measurement)."""
        stop(server)
        self.servers.remove(server)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NODE_OPTIONS", None)
    env["NODE_ENV"] = "production"
    return env


# -------------------------------------------------------------------------------- load


def load(
    name: str,
    url: str,
    body: str | bytes,
    headers: Mapping[str, str],
    *,
    concurrency: int,
    seconds: float,
    warmup_s: float = 1.0,
    server: Server | None = None,
    unique: str = "",
) -> dict[str, Any]:
    """Closed-loop load from a separate process (bench/loadgen.py); its result dict.

    With ``unique``, a marker in ``body`` each request replaces with its own number.

    With ``server``, also the CPU time that process spent per request (``cpu_ms_per_request``,
    warm-up included on both sides): on a shared machine a steadier figure than requests/s.
    """
    spec = {
        "name": name,
        "url": url,
        "body": body.decode() if isinstance(body, bytes) else body,
        "headers": dict(headers),
        "concurrency": concurrency,
        "seconds": seconds,
        "warmup_s": warmup_s,
        "unique": unique,
    }
    cpu_before = server.cpu_s() if server is not None else 0.0
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        check=True,
        timeout=seconds + warmup_s + 120,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    if server is not None and result["all_requests"]:
        cpu = server.cpu_s() - cpu_before
        result["cpu_ms_per_request"] = round(cpu * 1e3 / result["all_requests"], 3)
    return result


def graphql_headers(token: str, purpose: str, case_id: str | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
        "X-Purpose": purpose,
    }
    if case_id:
        headers["X-Case-Id"] = case_id
    return headers


# -------------------------------------------------------------------------------- results


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "node": _node_version(),
        "platform": platform.platform(),
    }


def _node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def save(benchmark: str, settings: Mapping[str, Any], result: Mapping[str, Any]) -> Path:
    """Write bench/results/BENCHMARK.json with the time and the machine."""
    results_dir.mkdir(exist_ok=True)
    out = {
        "benchmark": benchmark,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": dict(settings),
        **result,
    }
    path = results_dir / f"{benchmark}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def run_alone(
    doc: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[Stack, argparse.Namespace], Any],
    table: Callable[[Any], str],
) -> int:
    """``python -m bench.NAME``: one benchmark on a sandbox of its own, its table printed."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--scale", type=float, default=0.2)
    args = parser.parse_args()
    with Stack(args.scale) as stack:
        print(table(run(stack, args)))
    return 0
