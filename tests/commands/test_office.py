"""``jointgate leads`` and ``jointgate indicators`` over the demo's leads (commands/demo_leads.py,
seeded by ``seed_cases`` as ``jointgate demo`` seeds them), as verified officials."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

import commands.main
from commands.demo import seed_cases
from kernel.identifiers import luhn_check_digit, resident_id_check_char, uscc_check_char
from policies.db import Database
from tests.commands.officials import demo_issuer, token
from tests.commands.test_governance import governance

YEAR = time.strftime("%Y")


def scenario() -> dict[str, str]:
    firm, person, card = "91110105MA01ABCD0", "11010519800101001", "622202000000000001"
    return {
        "enterprise_name": "鑫盛财富管理有限公司",
        "enterprise_uscc": firm + uscc_check_char(firm),
        "person_id": person + resident_id_check_char(person),
        "account_number": "622202000000000019" + luhn_check_digit("622202000000000019"),
        "person_account_number": card + luhn_check_digit(card),
        "police_case_number": f"J110105{YEAR}000123",
        "enforcement_case_number": "(2025)京01执1号",
    }


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    demo_issuer(tmp_path)
    monkeypatch.delenv("JOINTGATE_TOKEN", raising=False)
    seed_cases(tmp_path, scenario())
    return tmp_path


def run(
    capsys: pytest.CaptureFixture[str], data_dir: Path, user: str, *argv: str
) -> tuple[int, str, str]:
    status = commands.main.main(
        [*argv, "--data-dir", str(data_dir), "--token", token(user, data_dir)]
    )
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def states(data_dir: Path) -> list[tuple[str, str]]:
    db = Database(f"sqlite:///{data_dir / 'governance.sqlite3'}")
    try:
        return [(str(r[0]), str(r[1])) for r in db.query("SELECT id, state FROM jg_leads")]
    finally:
        db.close()


def test_the_demo_seeds_leads_in_every_state_once(data_dir: Path) -> None:
    seeded = states(data_dir)
    assert {s for _, s in seeded} == {
        "SUBMITTED", "VERIFIED", "UNFOUNDED", "REFERRED", "CASE_OPENED", "CLOSED"}  # fmt: skip
    seed_cases(data_dir, scenario())  # the demo started again: nothing added
    assert states(data_dir) == seeded


def test_leads_list_shows_what_the_official_may_read(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, data_dir, "office.coordinator", "leads", "list")
    assert status == 0 and "8 of 8 leads you may read" in out
    assert out.count("OVERDUE") == 1 and out.count("MAJOR") == 2
    status, out, _ = run(capsys, data_dir, "office.coordinator", "leads", "list", "--overdue")
    assert status == 0 and "1 of 1 leads" in out and "OVERDUE" in out
    status, out, _ = run(capsys, data_dir, "police.investigator", "leads", "list",
                         "--purpose", "investigation")  # fmt: skip
    assert status == 0 and "3 of 3 leads" in out  # referred to the police, and their cases
    status, out, _ = run(capsys, data_dir, "office.coordinator", "leads", "list", "--state",
                         "REFERRED", "--json")  # fmt: skip
    (referred,) = json.loads(out)
    assert referred["state"] == "REFERRED" and referred["referral"]["to_agency"] == "police"
    assert [r["operation_name"] for r in governance(data_dir)][-4:] == ["leads.list"] * 4


def test_leads_show_and_no_oracle(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opened = next(lead for lead, state in states(data_dir) if state == "CASE_OPENED")
    status, out, _ = run(capsys, data_dir, "police.investigator", "leads", "show", opened,
                         "--purpose", "investigation")  # fmt: skip
    assert status == 0 and f"case J110105{YEAR}900001" in out and "feedback" in out
    for lead in (opened, "L-2026-999999"):
        status, _, err = run(capsys, data_dir, "court.clerk", "leads", "show", lead)
        assert status == 1 and err == "jointgate leads: no such lead (LEAD_NOT_FOUND)\n"


def test_indicators_as_csv(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, data_dir, "auditor", "indicators", "--purpose", "audit",
                         "--period", "quarter", "--from", f"{int(YEAR) - 1}-Q1", "--to",
                         f"{YEAR}-Q4", "--by", "category", "--csv")  # fmt: skip
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and set(rows[0]) >= {"period", "category", "leads", "amount", "cases_closed"}
    assert sum(int(r["leads"]) for r in rows) == 8
    assert sum(int(r["cases_opened"]) for r in rows) == 2
    status, _, err = run(capsys, data_dir, "auditor", "indicators", "--from", "2026-13",
                         "--to", "2026-12")  # fmt: skip
    assert status == 1 and "BAD_USER_INPUT" in err


def test_the_commands_show_fields_as_the_gateway_would(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The field policies hold on the command line too: the market officer reads the opened
    lead, its subject's resident ID masked (as over GraphQL), never in clear, text or JSON."""
    opened = next(lead for lead, state in states(data_dir) if state == "CASE_OPENED")
    person = scenario()["person_id"]
    for json_out in ((), ("--json",)):
        status, out, _ = run(capsys, data_dir, "market.officer", "leads", "show", opened,
                             *json_out)  # fmt: skip
        assert status == 0 and person not in out
        assert f"{person[:6]}********{person[-4:]}" in out
        assert scenario()["enterprise_uscc"] in out  # registry data, kept
    status, out, _ = run(capsys, data_dir, "market.officer", "leads", "list", "--json")
    assert status == 0 and opened in out and person not in out
    # the indicators are the office's and the regulators' (61-workflow-fields.cedar)
    status, out, err = run(capsys, data_dir, "court.clerk", "indicators", "--from", f"{YEAR}-01",
                           "--to", f"{YEAR}-12")  # fmt: skip
    assert status == 1 and out == "" and "FORBIDDEN_FIELD" in err
    assert governance(data_dir)[-1]["outcome"] == "refused"
