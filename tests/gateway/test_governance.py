"""The gateway's part in governance: overdue break-glass reviews on /metrics, counted off the
request path; the policy bootstrap of an empty governance database recorded in the trail."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from audit.log import MemoryAuditLog
from commands.demo import prepare
from connectors.memory import MemoryConnector
from gateway.app import Gateway, build_gateway, create_app
from gateway.governance import OverdueReviews
from gateway.ratelimit_settings import RateLimits
from gateway.settings import Settings
from policies.db import Database
from policies.review import ReviewQueue
from sandbox.issuer import DEMO_AUDIENCE, DEMO_ISSUER
from tests.gateway.conftest import LOOKUPS, small_world


def settings(data_dir: Path, **overrides: object) -> Settings:
    jwks, _ = prepare(data_dir)
    return Settings(
        issuer=DEMO_ISSUER, audience=DEMO_AUDIENCE, agencies={}, data_dir=data_dir,
        jwks_file=jwks, rate_limits=RateLimits(enabled=False), **overrides,  # type: ignore[arg-type]
    )  # fmt: skip


def gateway_of(data_dir: Path, audit: MemoryAuditLog, **overrides: object) -> Gateway:
    world = small_world()
    agencies = {name: MemoryConnector(name, LOOKUPS[name], world[name]) for name in LOOKUPS}
    return build_gateway(settings(data_dir, **overrides), connectors=agencies, audit=audit)


def access(queue: ReviewQueue, at: float) -> str:
    made = queue.record(
        request_id="r", subject="duty.officer", agency="police", purpose="investigation",
        case_id="JIT-2026-001", reason="urgent", fields=["BankAccount.balance"],
    )  # fmt: skip
    queue.db.query("UPDATE jg_break_glass SET at = ? WHERE id = ?", (at, made))
    return made


def test_overdue_reviews_are_counted_by_deadline(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'g.sqlite3'}")
    queue = ReviewQueue(db)
    now = time.time()
    late = access(queue, now - 73 * 3600)
    access(queue, now - 71 * 3600)
    overdue = OverdueReviews(queue, 72 * 3600)
    assert overdue.count is None and overdue.refresh(now) == 1
    queue.sign_off(late, "auditor")
    assert overdue.refresh(now) == 0
    assert OverdueReviews(queue, 3600).refresh(now) == 1
    db.close()


async def test_overdue_reviews_show_on_metrics_without_a_query_per_scrape(tmp_path: Path) -> None:
    gateway = gateway_of(tmp_path, MemoryAuditLog(), review_deadline_h=1.0)
    assert gateway.overdue is not None and gateway.overdue.deadline_s == 3600
    access(ReviewQueue(gateway.governance), time.time() - 2 * 3600)
    app = create_app(gateway)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        for _ in range(100):  # the first count runs as the gateway starts
            if gateway.overdue.count is not None:
                break
            await asyncio.sleep(0.02)
        counted = gateway.overdue.count
        queries: list[str] = []
        original = gateway.governance.query

        def spy(sql: str, *args: object, **kwargs: object) -> object:
            queries.append(sql)
            return original(sql, *args, **kwargs)  # type: ignore[arg-type]

        gateway.governance.query = spy  # type: ignore[method-assign]
        metrics = (await client.get("/metrics")).text
    assert counted == 1
    assert "jointgate_reviews_overdue 1" in metrics, metrics
    assert not [q for q in queries if "jg_break_glass" in q]  # the scrape read the count held


async def test_the_policy_bootstrap_is_a_governance_record(tmp_path: Path) -> None:
    audit = MemoryAuditLog()
    gateway = gateway_of(tmp_path, audit, policy_shared=True)
    app = create_app(gateway)
    async with app.router.lifespan_context(app):
        pass
    [record] = [r for r in audit.records if r.operation_type == "governance"]
    assert record.operation_name == "policy.bootstrap" and record.outcome == "ok"
    assert record.variables["version"] == gateway.policies.version
    # a second replica on the same database finds a set in force: no bootstrap, no record
    again = MemoryAuditLog()
    second = gateway_of(tmp_path, again, policy_shared=True)
    app = create_app(second)
    async with app.router.lifespan_context(app):
        pass
    assert not [r for r in again.records if r.operation_type == "governance"]
