"""The real trail behind the in-process gateway: one record per request, found by request id
and by the keys shown; 503 and not ready while the store is down, back by itself after."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from audit.reader import SearchFilter
from audit.verify import verify_store
from tests.audit.conftest import Live, WriterRuns
from tests.gateway.conftest import uscc

QUERY = "query($u: USCC!) { enterprise(uscc: $u) { name legalRepresentative { name } } }"


async def ask(live: Live, token: bool = True) -> httpx.Response:
    return await live.query(QUERY, {"u": uscc(3)}, user="jit.member" if token else None)


async def test_every_request_has_its_record(live: Live) -> None:
    answered = await ask(live)
    refused = await ask(live, token=False)
    assert answered.status_code == 200 and refused.status_code == 401
    reader = live.reader()
    [ok] = reader.search(SearchFilter(request_id=answered.headers["x-request-id"]))
    assert ok["status"] == 200 and ok["subject"] == "jit.member"
    assert uscc(3) in ok["records_returned"]["Enterprise"]
    assert ok["case_id"] == "JIT-2026-001" and ok["purpose"] == "investigation"
    [no] = reader.search(SearchFilter(request_id=refused.headers["x-request-id"]))
    assert no["status"] == 401 and no["subject"] is None
    assert [r["request_id"] for r in reader.search(SearchFilter(entity=uscc(3)))] == [
        answered.headers["x-request-id"]
    ]  # the refused request never got as far as reading its variables
    [report] = verify_store(reader.store, live.trail.config.signer.public, live.data_dir)
    assert report.ok and report.records == 2
    reader.store.close()


async def test_store_down_means_503_not_ready_then_recovery(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audit.trail.PROBE_INTERVAL_S", 0.05)
    store = live.trail._store
    append, probe = store.append, store.probe

    def broken(*args: object) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "append", broken)
    monkeypatch.setattr(store, "probe", broken)
    refused = await ask(live)
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "data" not in refused.json()
    assert (await live.client.get("/readyz")).status_code == 503
    monkeypatch.setattr(store, "append", append)
    monkeypatch.setattr(store, "probe", probe)
    for _ in range(100):
        if (await live.client.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.02)
    assert (await live.client.get("/readyz")).status_code == 200
    assert (await ask(live)).status_code == 200


async def readyz(live: Live) -> tuple[int, dict[str, Any]]:
    response = await live.client.get("/readyz")
    checks: dict[str, Any] = response.json()["checks"]
    return response.status_code, checks


async def test_not_ready_while_the_store_takes_the_lock_but_cannot_commit(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that can be locked and read but refuses the append's writes (a full disk, a
    failing trigger or constraint): ready only once a write is proven again, not a probe after
    the failure."""
    monkeypatch.setattr("audit.trail.PROBE_INTERVAL_S", 0.05)
    assert (await ask(live)).status_code == 200
    runs = WriterRuns(live.trail)
    db = sqlite3.connect(live.config().settings.path, isolation_level=None)
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON records"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END"
    )
    refused = await ask(live)
    assert refused.status_code == 503
    for _ in range(4):  # the failed append, then probe after probe
        await runs.next()
        status, checks = await readyz(live)
        assert status == 503 and checks["audit"] is False
    report = checks["audit_store"]
    assert "database or disk is full (test)" in report["error"]
    assert isinstance(report["since"], float) and report["since"] <= time.time()
    db.execute("DROP TRIGGER refuse")
    db.close()
    for _ in range(5):
        await runs.next()
        if (await live.client.get("/readyz")).status_code == 200:
            break
    status, checks = await readyz(live)
    assert status == 200 and checks["audit"] is True and checks["audit_store"]["error"] is None
    answered = await ask(live)
    assert answered.status_code == 200
    reader = live.reader()
    [report] = verify_store(reader.store, live.trail.config.signer.public, live.data_dir)
    assert report.ok and report.records == 2  # the probes left nothing in the log
    reader.store.close()


async def test_a_case_is_one_case_in_full_width_and_in_ascii(live: Live) -> None:
    """The gateway records the normalised X-Case-Id; a search by either form finds it."""
    ascii_form, full_width = "(2026)京0102执1901号", "（２０２６）京０１０２执１９０１号"
    sent = {"full": quote(full_width), "ascii": quote(ascii_form)}
    ids = {}
    for form, header in sent.items():
        response = await live.query("{ __typename }", purpose="enforcement", case=header)
        assert response.status_code == 200, response.text
        ids[form] = response.headers["x-request-id"]
    reader = live.reader()
    try:
        for case in (ascii_form, full_width, f" {full_width}"):
            found = reader.search(SearchFilter(case=case))
            assert sorted(r["request_id"] for r in found) == sorted(ids.values())
            assert {r["case_id"] for r in found} == {ascii_form}
    finally:
        reader.store.close()


async def test_a_team_case_in_lower_case_is_the_case_the_team_covers_and_the_search_finds(
    live: Live,
) -> None:
    """One case id, one meaning: the team check, the record and ``--case`` all see JIT-2026-001."""
    query = '{ enterprise(uscc: "%s") { bankAccounts { balance } } }' % uscc(2)
    ids = []
    for case in ("jit-2026-001", "JIT-2026-001"):
        response = await live.query(query, case=case)
        assert "errors" not in response.json(), response.text  # in the team, whichever spelling
        ids.append(response.headers["x-request-id"])
    reader = live.reader()
    try:
        for case in ("jit-2026-001", "JIT-2026-001", "ｊｉｔ－２０２６－００１"):
            found = reader.search(SearchFilter(case=case))
            assert sorted(r["request_id"] for r in found) == sorted(ids)
            assert {r["case_id"] for r in found} == {"JIT-2026-001"}
    finally:
        reader.store.close()


async def test_who_saw_an_identifier_shown_inside_other_records(live: Live) -> None:
    """A resident ID shown among a court case's parties, an enterprise's shareholders or an
    account's holder, and an account number among transactions' counterparties: each request
    is found by ``audit search --entity`` and in the subject report, through the CLI."""
    import io
    import json

    import commands.main
    from commands.audit.run import run
    from tests.commands.officials import token
    from tests.gateway.conftest import card, resident_id

    agencies = live.gateway.connectors
    courts = agencies["courts"]._records["court_case"]  # type: ignore[attr-defined]
    courts[5]["parties"] = [*courts[5]["parties"], {"party_id": resident_id(9), "role": "第三人"}]
    market = agencies["market"]._records["enterprise"]  # type: ignore[attr-defined]
    market[6]["shareholders"] = [{"holder_id": resident_id(9), "holder_type": "person"}]
    banking = agencies["banking"]._records  # type: ignore[attr-defined]
    banking["account"][7].update(holder_id=resident_id(9), holder_type="person")
    banking["transaction"][0]["counterparty_account"] = card(77)

    shown = {
        "parties": ('{ courtCase(caseNumber: "(2025)京01民初6号") { parties { partyId } } }',
                    "courtCase.parties.partyId"),
        "shareholders": ('{ enterprise(uscc: "%s") { shareholders { holderId } } }' % uscc(6),
                         "enterprise.shareholders.holderId"),
        "holder": ('{ bankAccount(number: "%s") { holderId } }' % card(7),
                   "bankAccount.holderId"),
        "counterparty": ('{ bankAccount(number: "%s") { transactions { counterpartyAccount } } }'
                         % card(0), "bankAccount.transactions.counterpartyAccount"),
    }  # fmt: skip
    requests = {}
    for name, (query, _) in shown.items():
        response = await live.query(query)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        requests[name] = response.headers["x-request-id"]

    def cli(*argv: str) -> list[dict[str, Any]]:
        out = io.StringIO()
        who = ["--token", token("auditor", live.data_dir)]
        args = commands.main.build_parser().parse_args(
            ["audit", argv[0], "--data-dir", str(live.data_dir), *who, *argv[1:]]
        )
        assert run(args, out, io.StringIO()) == 0
        return [json.loads(line) for line in out.getvalue().splitlines()]

    person = [requests["parties"], requests["shareholders"], requests["holder"]]
    found = cli("search", "--entity", resident_id(9), "--json")
    assert [r["request_id"] for r in found] == person
    report = cli("subject-report", resident_id(9), "--json")
    assert [r["request_id"] for r in report if not r["looked_up"]] == person
    for row, name in zip(report, ("parties", "shareholders", "holder"), strict=False):
        assert row["shown_as"] == ["Person"]
        assert row["fields_allowed"] == [shown[name][1]]  # the field that showed the person
        # decided as Person.idNumber (docs/policies.md, data categories): the police's own field
        assert row["field_policies"] == {shown[name][1]: ["joint-team-investigation", "own-agency"]}
    [counterparty] = cli("search", "--entity", card(77), "--json")
    assert counterparty["request_id"] == requests["counterparty"]
    assert card(77) in counterparty["records_returned"]["BankAccount"]
