"""Agencies: each connector's health and, from the gateway's metrics, call latency percentiles
and error rates; "not measured" where the metrics hold nothing; the read recorded."""

from __future__ import annotations

import pytest

from console.pages.agencies import Calls
from tests.console.conftest import ConsoleHarness


def test_percentiles_are_interpolated_in_their_bucket() -> None:
    calls = Calls()
    calls.add((0.1, 0.2, 0.5), [50, 40, 10, 0], ok=True)
    assert calls.quantile(0.5) == (pytest.approx(0.1), False)
    assert calls.quantile(0.95) == (pytest.approx(0.35), False)
    calls.add((0.1, 0.2, 0.5), [0, 0, 0, 100], ok=False)
    assert calls.quantile(0.99) == (0.5, True)  # above the last bound: shown as "> 500 ms"
    assert (calls.total, calls.failed) == (200, 100)
    assert Calls().quantile(0.5) is None


@pytest.mark.parametrize("user", ["policy.admin", "auditor", "office.coordinator"])
@pytest.mark.parametrize(("lang", "words"), [("zh", "未测量"), ("en", "not measured")])
async def test_every_agency_in_both_languages(
    console: ConsoleHarness, user: str, lang: str, words: str
) -> None:
    console.sign_in(user)
    response = await console.client.get(f"/console/agencies?lang={lang}")
    assert response.status_code == 200, response.text
    for agency in ("banking", "courts", "credit", "market", "police"):
        assert f'<th scope="row">{agency}</th>' in response.text
    assert words in response.text  # memory connectors: no call is measured
    record = console.harness.audit.records[-1]
    assert (record.operation_name, record.subject) == ("console.agencies.view", user)


async def test_measured_calls_show_percentiles_and_the_error_rate(
    console: ConsoleHarness,
) -> None:
    telemetry = console.harness.gateway.telemetry
    for _ in range(9):
        telemetry._agency_call("market", 0.02, "ok")
    telemetry._agency_call("market", 3.0, "timeout")
    console.sign_in("auditor")
    response = await console.client.get("/console/agencies?lang=en")
    row = response.text.split('<th scope="row">market</th>')[1].split("</tr>")[0]
    assert "<td>10</td>" in row and "10.0 %" in row
    assert "18.3 ms" in row and "3.75 s" in row  # interpolated in 10-25 ms and 2.5-5 s
    assert "not measured" not in row


async def test_others_are_refused_and_the_refusal_recorded(console: ConsoleHarness) -> None:
    console.sign_in("police.investigator")
    assert (await console.client.get("/console/agencies")).status_code == 403
    record = console.harness.audit.records[-1]
    assert (record.operation_name, record.outcome) == ("console.agencies", "refused")
