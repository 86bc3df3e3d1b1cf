"""``jointgate serve`` with ``gateway.workers = 2``: one port, two worker processes writing one
audit log, a worker that dies started again, SIGTERM drains and stops them all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from commands.demo import prepare
from gateway.settings import load
from kernel.config import ConfigError
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER
from tests.demo_process import free_port, wait_until_up


def _children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


def _running(pid: int) -> bool:
    try:
        return "(zombie)" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _config(root: Path, port: int, workers: object = 2) -> Path:
    jwks, bank_key = prepare(root / "data")
    (root / "credit.password").write_text("p")
    login = f'\ninstitution = "B1"\npassword_file = "{root / "credit.password"}"'
    agencies = "\n".join(
        f'[agencies.{name}]\nurl = "http://127.0.0.1:9"'
        + (f'\nkey_file = "{bank_key}"' if name == "banking" else "")
        + (login if name == "credit" else "")
        for name in ("police", "market", "banking", "courts", "credit")
    )
    path = root / "jointgate.toml"
    path.write_text(f"""
[gateway]
port = {port}
workers = {json.dumps(workers)}
data_dir = "{root / "data"}"
[auth]
issuer = "{DEMO_ISSUER}"
audience = "{DEMO_AUDIENCE}"
jwks_file = "{jwks}"
[audit]
log_id = "workers"
[rate_limits]
redis_url = ""
[telemetry]
log_format = "text"
{agencies}
""")
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    config = _config(tmp_path, port)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "commands.main", "serve", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_up(process, tmp_path, port, log)
        yield process, f"http://127.0.0.1:{port}", tmp_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _refused(url: str) -> int:
    """A request without a token: refused (401), audited all the same."""
    return httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, timeout=10).status_code


def test_workers_share_the_port_and_the_audit_log(
    served: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, url, root = served
    deadline = time.monotonic() + 30
    while len(workers := _children(process.pid)) < 2:  # the second may still be starting
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert len(workers) == 2
    with ThreadPoolExecutor(8) as pool:  # new connections, handed to either worker
        assert set(pool.map(_refused, [url] * 40)) == {401}
    os.kill(min(workers), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not ((now := _children(process.pid)) - workers and len(now) == 2):
        assert time.monotonic() < deadline, "the dead worker was not started again"
        time.sleep(0.1)
    deadline = time.monotonic() + 30
    while True:  # the new worker may still be building its gateway: the other one answers
        try:
            assert _refused(url) == 401
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not any(_running(pid) for pid in now)  # the workers drained and exited first
    verify = subprocess.run(
        [sys.executable, "-m", "commands.main", "audit", "verify", "--config",
         str(root / "jointgate.toml"), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    [report] = [json.loads(line) for line in verify.stdout.splitlines()]
    assert report["ok"] and report["records"] >= 41  # every request, from both workers


@pytest.mark.parametrize("workers", [0, 65, "2", True])
def test_workers_must_be_a_sensible_count(tmp_path: Path, workers: object) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.workers: a whole number from 1 to 64"):
        load(_config(tmp_path, 8400, workers))


# a hostile tester's configs (issue 15): serve crashed on some with a traceback, or started
HOSTILE = {
    "volume cap on a type the schema lacks": (
        lambda t: t + "[rate_limits.volume]\nPersons = 5\n",
        ["rate_limits.volume.Persons: not a type of the schema; did you mean Person?"],
    ),
    "agency URL": (
        lambda t: t.replace('url = "http://127.0.0.1:9"', 'url = "not a url"', 1),
        ["agencies.police.url: must be an http:// or https:// URL"],
    ),
    "JWKS URL": (
        lambda t: re.sub(r'jwks_file = ".*"', 'jwks_url = "ftp://x"', t),
        ["auth.jwks_url: must be an https:// URL"],
    ),
    "JWKS file that holds no key set": (
        lambda t: re.sub(r'jwks_file = ".*"', 'jwks_file = "jointgate.toml"', t),
        ["auth.jwks_file: cannot read a JWKS from"],
    ),
    "every problem of a table": (
        lambda t: t.replace('audience = "jointgate"', "audience = 5\nleeway_s = -5").replace(
            "[gateway]", '[gateway]\ntrusted_proxies = ["10.0.0.1", "10.0.0.0/33", "x"]'
        ),
        [
            "auth.audience: must be text",
            "auth.leeway_s: must be a positive number, got -5",
            "gateway.trusted_proxies: '10.0.0.0/33' is not",
            "gateway.trusted_proxies: 'x' is not",
        ],
    ),
    "governance database unreachable": (
        lambda t: t + '[governance]\ndatabase = "postgresql://gw:hunter2@127.0.0.1:1/x"\n',
        ["governance.database: cannot connect to postgresql://***@127.0.0.1:1/x"],
    ),
    "policies that do not load": (
        lambda t: t + '[policy]\ndir = "data"\n',
        ["policy.dir: "],
    ),
}


def test_serve_names_config_problems_without_a_traceback(tmp_path: Path) -> None:
    """Each of them: exit 2 before anything starts, every problem a line, no traceback."""
    runs = {}
    for name, (change, _) in HOSTILE.items():
        root = tmp_path / name.replace(" ", "-")
        root.mkdir()
        config = _config(root, free_port(), workers=1)
        config.write_text(change(config.read_text()))
        runs[name] = subprocess.Popen(
            [sys.executable, "-m", "commands.main", "serve", "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    failures = []
    for name, process in runs.items():
        try:
            _, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:  # it started serving: the problem went unnoticed
            process.kill()
            _, err = process.communicate()
        lines = err.splitlines()
        expected = HOSTILE[name][1]
        if (
            process.returncode != 2
            or "Traceback" in err
            or "hunter2" in err
            or not lines
            or not all(line.startswith("jointgate serve: ") for line in lines)
            or not all(any(p in line for line in lines) for p in expected)
        ):
            failures.append((name, process.returncode, err[-2000:]))
    assert not failures, failures
