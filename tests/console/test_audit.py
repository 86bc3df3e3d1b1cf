"""Audit: who saw an identifier, a subject report, a record in full, the export of a search and
the trail's verification with its witness, over a gateway writing a real trail; every read
recorded (console.audit.<what>, with the identifier) before it is shown; a bad checksum is a
clear error; without a readable trail (the memory log) the page says so."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.reader import SearchFilter
from audit.trail import AuditTrail
from tests.console.conftest import ConsoleHarness
from tests.console.trail import open_audited
from tests.gateway.conftest import uscc

ENTERPRISE = uscc(3)


@pytest.fixture
async def audited(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with open_audited(tmp_path) as opened:
        yield opened


def trail(console: ConsoleHarness) -> AuditTrail:
    found = console.harness.gateway.audit
    assert isinstance(found, AuditTrail)
    return found


def recorded(console: ConsoleHarness, user: str = "auditor") -> list[dict[str, Any]]:
    reader = trail(console).reader()
    try:
        return reader.search(SearchFilter(user=user), None)
    finally:
        reader.store.close()


async def seen(console: ConsoleHarness) -> str:
    """police.investigator reads the enterprise; the request id."""
    response = await console.harness.query(
        '{ enterprise(uscc: "%s") { name } }' % ENTERPRISE, user="police.investigator",
        case="J1101052026000003",
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return str(response.headers["x-request-id"])


@pytest.mark.parametrize(("lang", "words"), [("zh", "谁查看过"), ("en", "Who saw")])
async def test_who_saw_an_identifier_in_both_languages(
    audited: ConsoleHarness, lang: str, words: str
) -> None:
    request_id = await seen(audited)
    csrf = audited.sign_in("auditor")
    home = await audited.client.get(f"/console/audit?lang={lang}")
    assert home.status_code == 200 and words in home.text
    found = await audited.post("/console/audit/who-saw", csrf, identifier=ENTERPRISE)
    assert found.status_code == 200, found.text
    assert "police.investigator" in found.text and request_id in found.text
    read = [r for r in recorded(audited) if r["operation_name"] == "console.audit.who-saw"]
    assert read and read[-1]["variables"]["entity"] == ENTERPRISE


async def test_a_bad_checksum_is_a_clear_error_and_searches_nothing(
    audited: ConsoleHarness,
) -> None:
    csrf = audited.sign_in("auditor")
    bad = ENTERPRISE[:-1] + ("0" if ENTERPRISE[-1] != "0" else "1")
    response = await audited.client.post(
        "/console/audit/who-saw?lang=en", data={"csrf": csrf, "identifier": bad},
        headers={"origin": "http://gateway"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "is not a valid USCC, resident ID, account or case number" in response.text
    assert "check" in response.text
    assert not [r for r in recorded(audited) if r["operation_name"] == "console.audit.who-saw"]


async def test_a_subject_report_and_a_record_in_full(audited: ConsoleHarness) -> None:
    request_id = await seen(audited)
    csrf = audited.sign_in("auditor")
    report = await audited.post("/console/audit/subject", csrf, identifier=ENTERPRISE)
    assert report.status_code == 200 and "enterprise.name" in report.text
    shown = await audited.client.get(f"/console/audit/record?request_id={request_id}&lang=en")
    assert shown.status_code == 200 and "police.investigator" in shown.text
    assert "J1101052026000003" in shown.text
    bad = await audited.client.get("/console/audit/record?request_id=<x>&lang=en")
    assert bad.status_code == 400 and "not a request id" in bad.text
    kinds = {r["operation_name"]: r["variables"] for r in recorded(audited)}
    assert kinds["console.audit.subject-report"]["entity"] == ENTERPRISE
    assert kinds["console.audit.show"]["request_id"] == request_id


async def test_the_export_in_json_and_csv_is_recorded(audited: ConsoleHarness) -> None:
    request_id = await seen(audited)
    csrf = audited.sign_in("auditor")
    lines = await audited.post("/console/audit/export", csrf, identifier=ENTERPRISE, format="json")
    assert lines.status_code == 200 and "attachment" in lines.headers["content-disposition"]
    rows = [orjson.loads(line) for line in lines.text.splitlines()]
    assert rows[0]["request_id"] == request_id  # then the auditor's own recorded reads of it
    table = await audited.post("/console/audit/export", csrf, identifier=ENTERPRISE, format="csv")
    parsed = list(csv.DictReader(io.StringIO(table.text)))
    assert parsed[0]["request_id"] == request_id and len(parsed) == len(rows) + 1
    exports = [r for r in recorded(audited) if r["operation_name"] == "console.audit.export"]
    assert [e["variables"]["format"] for e in exports] == ["json", "csv"]
    assert exports[0]["variables"]["entity"] == ENTERPRISE


async def test_the_verification_runs_and_its_result_is_shown(audited: ConsoleHarness) -> None:
    await seen(audited)
    csrf = audited.sign_in("auditor")
    home = await audited.client.get("/console/audit?lang=en")
    assert "checkpoints.jsonl" in home.text  # the default witness, and its state
    started = await audited.post("/console/audit/verify", csrf)
    assert started.status_code == 303
    for _ in range(100):
        page = await audited.client.get("/console/audit?lang=en")
        if "Verified: no problem found" in page.text:
            break
        await asyncio.sleep(0.05)
    assert (
        "Verified: no problem found" in page.text and "console-test" in page.text
    )  # the log verified
    assert "console.audit.verify" in {r["operation_name"] for r in recorded(audited)}


async def test_changes_and_searches_need_csrf_and_the_origin(audited: ConsoleHarness) -> None:
    csrf = audited.sign_in("auditor")
    for path in ("/console/audit/who-saw", "/console/audit/export", "/console/audit/verify"):
        assert (await audited.post(path, "wrong", identifier=ENTERPRISE)).status_code == 403
        foreign = await audited.client.post(
            path, data={"csrf": csrf, "identifier": ENTERPRISE},
            headers={"origin": "http://evil.example"},
        )  # fmt: skip
        assert foreign.status_code == 403


async def test_others_are_refused_and_the_refusal_recorded(console: ConsoleHarness) -> None:
    console.sign_in("office.coordinator")
    assert (await console.client.get("/console/audit")).status_code == 403
    record = console.harness.audit.records[-1]
    assert (record.operation_name, record.outcome) == ("console.audit", "refused")


async def test_without_a_readable_trail_the_page_says_so(console: ConsoleHarness) -> None:
    csrf = console.sign_in("auditor")
    home = await console.client.get("/console/audit?lang=en")
    assert home.status_code == 200 and "The audit trail is unavailable here" in home.text
    found = await console.post("/console/audit/who-saw", csrf, identifier=ENTERPRISE)
    assert found.status_code == 503 and "unavailable" in found.text
