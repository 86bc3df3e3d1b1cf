"""End to end: ``jointgate demo`` as a process, real HTTP all the way to the sandbox agencies."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import ANY
from urllib.parse import quote

import httpx
import pytest

from sandbox.issuer import mint_token
from sandbox.world import World
from tests.demo_process import free_port, start_demo, wait_until_up
from tests.test_readme import STUB_USCC, masking_requests

SCALE = "0.05"  # the same world as the session's `world` fixture (default seed)

DEMO_QUERY = """query Demo($uscc: USCC!) {
  enterprise(uscc: $uscc) {
    name
    legalRepresentative { idNumber name }
    bankAccounts { number bank balance transactions(first: 5) { amount counterpartyName } }
    courtCases { caseNumber }
    policeCases { caseNumber charge }
    abnormalOperations { reason }
  }
}"""


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    agencies: dict[str, str]

    def headers(self, user: str = "jit.member", **extra: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {mint_token(user, self.data_dir)}",
            "x-purpose": "investigation",
            "x-case-id": "JIT-2026-001",
            **extra,
        }

    def query(self, query: str, variables: dict[str, object] | None = None) -> httpx.Response:
        return httpx.post(
            self.url,
            json={"query": query, "variables": variables},
            headers=self.headers(),
            timeout=30,
        )

    def stats(self) -> dict[str, int]:
        return {
            a: httpx.get(f"{u}/_sandbox/stats").json()["requests"] for a, u in self.agencies.items()
        }

    def reset_stats(self) -> None:
        for url in self.agencies.values():
            httpx.delete(f"{url}/_sandbox/stats")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir = tmp_path_factory.mktemp("demo")
    port = free_port()
    process = start_demo(data_dir, port, SCALE, fixture_cases=False)  # the demo's own cases
    wait_until_up(process, data_dir, port)
    agencies = json.loads((data_dir / "sandbox" / "ports.json").read_text())
    agencies.pop("issuer", None)  # the demo issuer (sandbox/oidc.py) is no agency
    yield Demo(process, f"http://127.0.0.1:{port}/graphql", data_dir, agencies)
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_demo_query_links_all_four_agencies(demo: Demo, world: World) -> None:
    scenario = world.scenario
    response = demo.query(DEMO_QUERY, {"uscc": scenario["enterprise_uscc"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    enterprise = body["data"]["enterprise"]
    assert enterprise["name"] == scenario["enterprise_name"]
    assert enterprise["legalRepresentative"] == {
        "idNumber": scenario["person_id"],
        "name": scenario["person_name"],
    }
    accounts = {a["number"]: a for a in enterprise["bankAccounts"]}
    assert scenario["account_number"] in accounts
    assert len(accounts[scenario["account_number"]]["transactions"]) == 5
    assert set(scenario["court_case_numbers"]) <= {
        c["caseNumber"] for c in enterprise["courtCases"]
    }
    assert {
        "caseNumber": scenario["police_case_number"],
        "charge": "非法吸收公众存款",
    } in enterprise["policeCases"]
    assert enterprise["abnormalOperations"]


def test_the_readme_masking_example_masks(demo: Demo, world: World) -> None:
    """The README's second curl, sent as it is to the demo: the market officer sees account
    numbers masked and no legal representative (above its clearance), the banking regulator the
    numbers and the representative masked; both the representative's name in the enterprise
    record masked (as Person.name); the quick start's query is not in the officer's schema at
    all."""
    scenario = world.scenario
    answers = {}
    for user, headers, body in masking_requests():
        query = str(body["query"]).replace(STUB_USCC, scenario["enterprise_uscc"])
        sent = {k: v for k, v in headers.items() if k != "Authorization"}
        sent["Authorization"] = f"Bearer {mint_token(user, demo.data_dir)}"
        response = httpx.post(demo.url, json={"query": query}, headers=sent, timeout=30)
        assert response.status_code == 200, response.text
        answers[user] = response.json()
    officer = answers["market.officer"]
    enterprise = officer["data"]["enterprise"]
    assert {"number": "**** " + scenario["account_number"][-4:], "bank": ANY} in [
        {**a, "bank": ANY} for a in enterprise["bankAccounts"]
    ]
    assert all(re.fullmatch(r"\*{4} \d{4}", a["number"]) for a in enterprise["bankAccounts"])
    assert enterprise["legalRepresentative"] is None
    rid, name = scenario["person_id"], scenario["person_name"]
    masked_name = name[0] + "*" * (len(name) - 1)
    assert enterprise["legalRepName"] == masked_name  # decided as Person.name, not by owner
    [error] = officer["errors"]
    assert error["path"] == ["enterprise", "legalRepresentative"]
    assert error["extensions"]["code"] == "FORBIDDEN_FIELD"
    regulator = answers["bank.analyst"]
    assert "errors" not in regulator, regulator
    enterprise = regulator["data"]["enterprise"]
    assert scenario["account_number"] in {a["number"] for a in enterprise["bankAccounts"]}
    assert enterprise["legalRepName"] == masked_name
    assert enterprise["legalRepresentative"] == {
        "idNumber": rid[:6] + "********" + rid[-4:],
        "name": masked_name,
    }
    token = mint_token("market.officer", demo.data_dir)
    refused = httpx.post(
        demo.url,
        json={"query": DEMO_QUERY, "variables": {"uscc": scenario["enterprise_uscc"]}},
        headers={"authorization": f"Bearer {token}", "x-purpose": "supervision"},
        timeout=30,
    )
    assert refused.status_code == 400, refused.text
    codes = {e["extensions"]["code"] for e in refused.json()["errors"]}
    messages = {e["message"] for e in refused.json()["errors"]}
    assert codes == {"GRAPHQL_VALIDATION_FAILED"}
    assert "Cannot query field 'balance' on type 'BankAccount'." in messages


def test_lists_cost_one_call_per_agency_and_kind_whatever_their_length(demo: Demo) -> None:
    query = """query($n: Int!) { enterprises(nameContains: "有限公司", first: $n) { nodes {
        legalRepresentative { name } bankAccounts { number } policeCases { caseNumber }
        courtCases { caseNumber } } } }"""
    counts = []
    for n in (1, 10, 40):
        demo.reset_stats()
        body = demo.query(query, {"n": n}).json()
        # the team sees the accounts of enterprises in its case's scope only (docs/policies.md,
        # "Team scope"): the others' are withheld, and their link is not followed
        paths = {tuple(e["path"][3:]) for e in body.get("errors", ())}
        assert paths <= {("bankAccounts",)}, body
        assert {e["extensions"]["code"] for e in body.get("errors", ())} <= {"FORBIDDEN_FIELD"}
        assert len(body["data"]["enterprises"]["nodes"]) == n
        counts.append(demo.stats())
    # market: the search; police: persons + cases; banking: accounts (of the enterprises in the
    # scope, if any); courts: cases by party
    expected = [{"police": 2, "market": 1, "banking": b, "courts": 1, "credit": 0} for b in (0, 1)]
    assert all(c in expected for c in counts), counts


def test_the_credit_report_comes_over_soap(demo: Demo, world: World) -> None:
    """The demo's gateway reaches the sandbox credit system over real HTTP (SOAP, with the
    demo institution's UsernameToken) and the team sees the fundraiser's report."""
    scenario = world.scenario
    demo.reset_stats()
    query = """query($u: USCC!) { enterprise(uscc: $u) { creditReport {
        worstClass overdueAmount loans { loanId openedOn } guaranteesReceived { partyName } } } }"""
    body = demo.query(query, {"u": scenario["enterprise_uscc"]}).json()
    assert "errors" not in body, body
    report = body["data"]["enterprise"]["creditReport"]
    want = world.credit[scenario["enterprise_uscc"]]
    assert report["worstClass"] == want["worst_class"]
    assert [x["loanId"] for x in report["loans"]] == [x["loan_id"] for x in want["loans"]]
    assert scenario["person_name"] in {g["partyName"] for g in report["guaranteesReceived"]}
    assert demo.stats()["credit"] == 1


def test_person_bank_account_and_case_lookups(demo: Demo, world: World) -> None:
    scenario = world.scenario
    query = """query($id: ResidentID!, $acct: AccountNumber!, $pc: PoliceCaseNumber!, $cc: CourtCaseNumber!) {
      person(idNumber: $id) { name enterprises { uscc } policeCases { caseNumber } }
      bankAccount(number: $acct) { holderEnterprise { name } suspiciousReports { pattern } }
      policeCase(caseNumber: $pc) { suspects { idNumber } enterprises { uscc } frozenAssets { measure } }
      courtCase(caseNumber: $cc) { parties { name role } judgments { outcome } }
    }"""
    variables = {"id": scenario["person_id"], "acct": scenario["account_number"],
                 "pc": scenario["police_case_number"], "cc": scenario["court_case_numbers"][0]}  # fmt: skip
    body = demo.query(query, variables).json()
    assert "errors" not in body, body
    data = body["data"]
    assert data["person"]["name"] == scenario["person_name"]
    assert {"uscc": scenario["enterprise_uscc"]} in data["person"]["enterprises"]
    assert data["bankAccount"]["holderEnterprise"]["name"] == scenario["enterprise_name"]
    assert any("分散转入" in r["pattern"] for r in data["bankAccount"]["suspiciousReports"])
    assert {"idNumber": scenario["person_id"]} in data["policeCase"]["suspects"]
    assert data["policeCase"]["frozenAssets"]
    assert data["courtCase"]["parties"]


def test_refusals_over_real_http(demo: Demo, world: World) -> None:
    no_token = httpx.post(demo.url, json={"query": "{ __typename }"})
    assert no_token.status_code == 401
    expired = mint_token("jit.member", demo.data_dir, ttl_s=1, now=time.time() - 3600)
    old = httpx.post(
        demo.url, json={"query": "{ __typename }"}, headers={"authorization": f"Bearer {expired}"}
    )
    assert old.status_code == 401 and "expired" in old.json()["errors"][0]["message"]
    bad = world.scenario["enterprise_uscc"][:-1] + "0"
    if bad == world.scenario["enterprise_uscc"]:
        bad = bad[:-1] + "1"
    response = demo.query(DEMO_QUERY, {"uscc": bad})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_down_agency_leaves_the_rest_of_the_answer(demo: Demo, world: World) -> None:
    httpx.put(f"{demo.agencies['banking']}/_sandbox/faults", json={"down": True})
    try:
        body = demo.query(DEMO_QUERY, {"uscc": world.scenario["enterprise_uscc"]}).json()
    finally:
        httpx.put(f"{demo.agencies['banking']}/_sandbox/faults", json={"down": False})
    assert body["data"]["enterprise"]["name"] == world.scenario["enterprise_name"]
    assert body["data"]["enterprise"]["bankAccounts"] is None
    assert body["errors"] == [{
        "message": "The banking system is unavailable.", "path": ["enterprise", "bankAccounts"],
        "locations": [{"line": 5, "column": 5}],
        "extensions": {"code": "AGENCY_UNAVAILABLE", "agency": "banking"},
    }]  # fmt: skip


def test_every_request_is_in_the_audit_trail(demo: Demo) -> None:
    from audit.config import AuditSettings, load_config
    from audit.reader import AuditReader, SearchFilter

    demo.query("{ __typename }")
    refused = httpx.post(demo.url, json={"query": "{ __typename }"})
    config = load_config(AuditSettings(), demo.data_dir)
    reader = AuditReader(config.new_store(), config.key)
    [record] = reader.search(SearchFilter(request_id=refused.headers["x-request-id"]))
    reader.store.close()
    assert record["status"] == 401 and record["subject"] is None


def test_the_demo_seeds_its_cases_and_says_who_may_declare_which(demo: Demo, world: World) -> None:
    scenario = world.scenario
    police, enforcement = scenario["police_case_number"], scenario["enforcement_case_number"]
    log = (demo.data_dir / "demo.log").read_text()
    usable = dict(re.findall(r"^    (\S+) .*\n +X-Case-Id: (.*)$", log, re.M))
    # the case the police opened from a lead (commands/demo_leads.py): its officials and team
    from_lead = f"J110105{time.strftime('%Y')}900001"
    assert set(usable["jit.member"].split(", ")) == {"JIT-2026-001", from_lead}
    assert set(usable["police.investigator"].split(", ")) == {police, from_lead}
    assert usable["duty.officer"] == police
    assert usable["court.clerk"] == enforcement
    assert usable["bank.analyst"] == usable["market.officer"] == "-"
    query = "{ __typename }"
    for user, purpose, case, status in (
        ("police.investigator", "investigation", police, 200),
        ("court.clerk", "enforcement", enforcement, 200),
        ("jit.member", "investigation", "jit-2026-001", 200),
        ("bank.analyst", "investigation", police, 403),
        ("court.clerk", "enforcement", police, 403),
        ("police.investigator", "investigation", "JIT-2026-001", 403),
    ):
        headers = demo.headers(user) | {"x-purpose": purpose, "x-case-id": quote(case)}
        response = httpx.post(demo.url, json={"query": query}, headers=headers, timeout=30)
        assert response.status_code == status, (user, case, response.text)
        if status == 403:
            assert response.json()["errors"][0]["extensions"]["code"] == "CASE_NOT_ASSIGNED"
    # the joint case is about the scenario's enterprise, its legal representative and accounts
    shown = subprocess.run(
        [sys.executable, "-m", "commands.main", "cases", "show", "JIT-2026-001", "--json",
         "--data-dir", str(demo.data_dir), "--token", mint_token("auditor", demo.data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    subjects = {s["identifier"] for s in json.loads(shown.stdout)["subjects"]}
    assert subjects == {scenario["enterprise_uscc"], scenario["person_id"],
                        scenario["account_number"], scenario["person_account_number"]}  # fmt: skip


def test_sigterm_drains_in_flight_requests_then_stops_gateway_and_sandbox(
    demo: Demo, world: World
) -> None:
    """Graceful shutdown: a request in flight when SIGTERM arrives is answered and audited; new
    connections are refused; then the gateway and the sandbox exit."""
    import threading

    from audit.config import AuditSettings, load_config
    from audit.reader import AuditReader, SearchFilter

    httpx.put(f"{demo.agencies['banking']}/_sandbox/faults", json={"latency_ms": 1500})
    answered: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answered.append(
            demo.query(DEMO_QUERY, {"uscc": world.scenario["enterprise_uscc"]})
        )
    )
    slow.start()
    time.sleep(0.5)  # the request is waiting for the banking system
    demo.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(httpx.HTTPError):  # no longer accepting
        httpx.post(demo.url, json={"query": "{ __typename }"}, headers=demo.headers(), timeout=2)
    slow.join(timeout=30)
    [response] = answered
    assert response.status_code == 200, response.text
    assert response.json()["data"]["enterprise"]["bankAccounts"], response.text
    assert demo.process.wait(timeout=30) == 0
    config = load_config(AuditSettings(), demo.data_dir)
    reader = AuditReader(config.new_store(), config.key)
    [record] = reader.search(SearchFilter(request_id=response.headers["x-request-id"]))
    reader.store.close()
    assert record["status"] == 200
    for url in demo.agencies.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/_sandbox/stats", timeout=2)


def test_the_banner_curl_example_sends_valid_json() -> None:
    import re
    import shlex

    from commands.demo import banner

    text = banner("127.0.0.1", 8400, Path(".jointgate"), {"police": "http://127.0.0.1:1"})
    command = re.search(r"curl .*?-d '[^']*'", text, re.S)
    assert command is not None
    words = shlex.split(command.group(0).replace("\\\n", " "))
    body = json.loads(words[words.index("-d") + 1])
    assert body["query"].startswith("{ enterprises(")


@pytest.mark.parametrize("data_dir", [Path(".jointgate"), Path("/tmp/other")])
def test_the_banners_governance_commands_run_as_printed(data_dir: Path) -> None:
    """A newcomer copies the banner's command lines: those that act as an official (cases,
    policy propose/approve) carry a token, and the data dir of the demo that printed them."""
    import re

    from commands.demo import banner

    text = banner("127.0.0.1", 8400, data_dir, {"police": "http://127.0.0.1:1"})
    governance = re.findall(
        r"jointgate (?:cases|teams|policy|review|leads|indicators) [^\n]*", text
    )
    assert any(c.startswith("jointgate leads list") for c in governance)
    assert any(c.startswith("jointgate cases list") for c in governance)
    for command in governance:
        assert "--token $(jointgate token " in command, command
        if data_dir != Path(".jointgate"):
            assert command.count(f"--data-dir {data_dir}") == 2, command


def test_a_killed_demo_leaves_no_sandbox_behind(tmp_path: Path) -> None:
    port = free_port()
    process = start_demo(tmp_path, port, SCALE)
    ports = tmp_path / "sandbox" / "ports.json"
    deadline = time.monotonic() + 60
    while not ports.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    police = json.loads(ports.read_text())["police"]
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{police}/_sandbox/stats", timeout=0.5)
        except httpx.HTTPError:
            return
        time.sleep(0.2)
    pytest.fail("the sandbox outlived its killed demo")
