"""``jointgate audit``: proofs checked offline, search, export, subject reports, retention;
every read of the trail leaves its own record."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

import commands.main
from audit.append import append_records
from audit.config import AuditConfig
from audit.merkle import leaf_hash
from audit.reader import AuditReader, SearchFilter
from audit.store import now_us
from commands.audit.run import run
from tests.audit.conftest import ENTERPRISE, PERSON, jointgate_command, make_config, record
from tests.commands.officials import token

OTHER = "110105199001011238"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    config = make_config(tmp_path, log_id="")  # the CLI's default log: this host's name
    store = config.new_store()
    store.create_schema()
    append_records(config, store, [record(i) for i in range(5)])
    append_records(config, store, [record(5, subject="police.investigator", person=OTHER,
                                          case_id="J1101052026000007")])  # fmt: skip
    store.close()
    return tmp_path


def parse(*argv: str) -> argparse.Namespace:
    """``jointgate audit ARGV`` as the ``jointgate`` command line parses it."""
    return commands.main.build_parser().parse_args(["audit", *argv])


def cli(data_dir: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = parse(argv[0], "--data-dir", str(data_dir), "--token", token("auditor", data_dir),
                 *argv[1:])  # fmt: skip
    return run(args, out, err), out.getvalue(), err.getvalue()


def jointgate(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*jointgate_command(), *argv], capture_output=True, text=True, timeout=120,
        cwd=cwd or Path(__file__).parents[2],
    )  # fmt: skip


def test_jointgate_lists_audit_and_verifies_a_small_trail(data_dir: Path) -> None:
    done = jointgate("--help")
    assert done.returncode == 0 and "audit" in done.stdout, done.stdout + done.stderr
    done = jointgate("audit", "--help")
    assert "verify" in done.stdout and "subject-report" in done.stdout
    done = jointgate("audit", "verify", "--data-dir", str(data_dir),
                     "--token", token("auditor", data_dir))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert ": ok: 6 records" in done.stdout
    [note] = reads(data_dir)
    assert note["operation_name"] == "audit.verify" and note["subject"] == "auditor"
    # main() returns the audit command's own exit status: 2 for a usage error
    done = jointgate("audit", "search", "--data-dir", str(data_dir), "--since", "yesterday",
                     "--token", token("auditor", data_dir))  # fmt: skip
    assert done.returncode == 2 and "not an ISO date" in done.stderr


def config_of(data_dir: Path) -> AuditConfig:
    return make_config(data_dir, log_id="")


def reads(data_dir: Path) -> list[dict[str, object]]:
    config = config_of(data_dir)
    store = config.new_store()
    try:
        return AuditReader(store, config.key).search(SearchFilter(purpose="audit"), None)
    finally:
        store.close()


def test_verify_passes_and_is_itself_recorded(data_dir: Path) -> None:
    status, out, err = cli(data_dir, "verify")
    assert status == 0, out + err
    assert ": ok: 6 records" in out
    [note] = reads(data_dir)
    assert note["subject"] == "auditor" and note["operation_name"] == "audit.verify"
    assert cli(data_dir, "verify", "--no-index", "--json")[0] == 0


def test_search_filters_table_and_json(data_dir: Path) -> None:
    status, out, _ = cli(data_dir, "search", "--entity", OTHER)
    assert status == 0
    assert "police.investigator" in out and "1 record(s)" in out
    status, out, _ = cli(data_dir, "search", "--user", "jit.member", "--json", "--limit", "2")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2 and all(r["subject"] == "jit.member" for r in rows)
    assert rows[0]["records_returned"]["Person"] == [PERSON]
    _, out, _ = cli(data_dir, "search", "--case", "J1101052026000007", "--json")
    assert [json.loads(x)["case_id"] for x in out.splitlines()] == ["J1101052026000007"]
    _, out, _ = cli(data_dir, "search", "--since", "2026-09-21T14:13:22", "--until",
                    "2026-09-21T14:13:24", "--json")  # fmt: skip
    assert len(out.splitlines()) == 2
    _, out, _ = cli(data_dir, "search", "--outcome", "refused", "--json")
    assert out == ""
    status, _, err = cli(data_dir, "search", "--since", "yesterday")
    assert status == 2 and "not an ISO date" in err


def test_an_auditors_search_for_a_person_shows_in_that_persons_report(data_dir: Path) -> None:
    cli(data_dir, "search", "--entity", OTHER)
    status, out, _ = cli(data_dir, "subject-report", OTHER, "--json")
    assert status == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["subject"], r["purpose"], r["looked_up"]) for r in rows] == [
        ("police.investigator", "investigation", False),
        ("auditor", "audit", True),  # the search above: looked up, not shown
    ]
    first = rows[0]
    assert first["shown_as"] == ["Person"] and first["case_id"] == "J1101052026000007"
    assert first["justification"]
    # only the person's fields, not the enterprise's the same request showed
    assert first["fields_of"] == ["Person"] and first["fields_allowed"] == []
    assert first["fields_masked"] == ["enterprise.legalRepresentative.idNumber"]
    assert rows[1]["fields_of"] == "all"  # looked up: every field of the request
    status, out, _ = cli(data_dir, "subject-report", ENTERPRISE, "--json")
    enterprise = json.loads(out.splitlines()[0])
    assert enterprise["fields_allowed"] == ["enterprise.name"] and enterprise["fields_masked"] == []
    status, out, _ = cli(data_dir, "subject-report", ENTERPRISE)
    assert "Accesses to" in out and "shown as Enterprise" in out and "why:" in out
    assert "fields of Enterprise: enterprise.name" in out


def test_export_jsonl_and_csv_with_a_progress_bar(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    status, _, err = cli(data_dir, "export", "--format", "csv", "--out", str(target), "--progress")
    assert status == 0
    assert "100%" in err and "records/s" in err
    with target.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and json.loads(rows[0]["records_returned"])["Person"] == [PERSON]
    status, out, err = cli(data_dir, "export", "--user", "jit.member")
    assert status == 0 and err == ""
    assert len(out.splitlines()) == 5


def test_prove_and_check_the_proof_offline(data_dir: Path, tmp_path: Path) -> None:
    _, out, _ = cli(data_dir, "search", "--json", "--limit", "3")
    target = json.loads(out.splitlines()[2])
    proof = tmp_path / "proof.json"
    status, _, err = cli(data_dir, "prove", target["request_id"], "--out", str(proof))
    assert status == 0, err
    pub = data_dir / "audit" / "keys" / "signing.pub"
    # offline: a separate process with neither the database nor the data dir
    done = jointgate("audit", "check-proof", str(proof), "--public-key", str(pub), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok: record {target['seq']}" in done.stdout
    document = json.loads(proof.read_text())
    document["body"] = document["body"].replace("jit.member", "jit.membe2")
    proof.write_text(json.dumps(document))
    out_io = io.StringIO()
    status = run(parse("check-proof", str(proof)), out_io, io.StringIO())
    out = out_io.getvalue()
    assert status == 1 and "does not hash to the leaf" in out


def test_a_proof_against_a_foreign_key_fails(data_dir: Path, tmp_path: Path) -> None:
    proof = tmp_path / "proof.json"
    _, out, _ = cli(data_dir, "search", "--json", "--limit", "1")
    cli(data_dir, "prove", json.loads(out)["request_id"], "--out", str(proof))
    make_config(tmp_path / "other")
    foreign = tmp_path / "other" / "audit" / "keys" / "signing.pub"
    out_io = io.StringIO()
    status = run(
        parse("check-proof", str(proof), "--public-key", str(foreign)), out_io, io.StringIO()
    )
    assert status == 1 and "signature does not verify" in out_io.getvalue()


def test_consistency_between_checkpoints(data_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    assert cli(data_dir, "checkpoint", "--out", str(old))[0] == 0
    config = config_of(data_dir)
    store = config.new_store()
    append_records(config, store, [record(10 + i) for i in range(7)])
    store.close()
    proof = tmp_path / "consistency.json"
    status, _, err = cli(data_dir, "consistency", "--old", str(old), "--out", str(proof))
    assert status == 0, err
    out = io.StringIO()
    assert run(parse("check-proof", str(proof)), out, io.StringIO()) == 0
    assert "is a prefix of the log" in out.getvalue()
    assert cli(data_dir, "verify", "--checkpoint", str(old))[0] == 0


def test_retention_moves_old_records_to_verifiable_archives(data_dir: Path) -> None:
    config = config_of(data_dir)
    # the fixture's records are "old": committed now, archived as if 401 days had passed
    status, out, err = cli(data_dir, "archive", "--older-than-days", "0", "--json")
    assert status == 0, err
    [moved] = [json.loads(line) for line in out.splitlines()]
    assert moved["archived"] == 6 and moved["first_seq"] == 0
    store = config.new_store()
    assert store.count(config.log_id) == 1  # only the record of the archiving itself
    store.close()
    status, out, _ = cli(data_dir, "verify")
    assert status == 0 and "(6 archived)" in out, out
    _, out, _ = cli(data_dir, "search", "--entity", OTHER, "--archived", "--json")
    assert [json.loads(x)["subject"] for x in out.splitlines()] == ["police.investigator"]
    status, _, _ = cli(data_dir, "prove", f"{config.log_id}:3")
    assert status == 0
    archive = next((data_dir / "audit" / "archive").rglob("*.jsonl.gz"))
    archive.write_bytes(archive.read_bytes()[:-8] + b"\x00" * 8)
    status, out, _ = cli(data_dir, "verify")
    assert status == 1 and "SHA-256 differs" in out
    assert now_us() > 0


def test_nothing_is_shown_when_the_read_cannot_be_recorded(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("commands.audit.common.append_records", refuse)
    status, out, err = cli(data_dir, "search", "--entity", OTHER)
    assert status == 3 and out == ""
    assert "cannot record this read" in err


def insert_behind_the_gateways_back(data_dir: Path) -> None:
    """A record forged at the next position (a copy of the last one, renumbered), inserted
    with SQL and not covered by the signed head."""
    config = config_of(data_dir)
    conn = sqlite3.connect(config.settings.path, isolation_level=None)
    try:
        [(size,)] = conn.execute("SELECT tree_size FROM heads").fetchall()
        [(last,)] = conn.execute("SELECT body FROM records WHERE seq = ?", (size - 1,)).fetchall()
        forged = last.replace(f'"seq":{size - 1},', f'"seq":{size},').encode()
        conn.execute(
            "INSERT INTO records (log_id, seq, leaf, body) VALUES (?, ?, ?, ?)",
            (config.log_id, size, leaf_hash(forged), forged.decode()),
        )
    finally:
        conn.close()


def test_verify_names_an_inserted_record_though_it_cannot_record_its_own_read(
    data_dir: Path,
) -> None:
    insert_behind_the_gateways_back(data_dir)
    status, out, err = cli(data_dir, "verify")
    assert status == 1, out + err  # tampering found, not "the store is unavailable"
    log_id = config_of(data_dir).log_id
    assert f"log {log_id}: FAILED" in out
    assert "records 6..6 are not covered by the signed head" in out
    assert "this verification could not be recorded in the audit trail" in err
    assert f"log {log_id}: records 6..6 lie past its signed head of 6 records" in err
    assert "UNIQUE" not in out + err
    assert reads(data_dir) == []
    status, out, err = cli(data_dir, "verify", "--json")
    assert status == 1 and json.loads(out)["ok"] is False


def test_verify_reports_when_its_read_cannot_be_recorded(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("commands.audit.proofs.append_records", refuse)
    status, out, err = cli(data_dir, "verify")
    assert status == 3  # nothing wrong with the log; its read is not recorded
    assert ": ok: 6 records" in out
    assert "this verification could not be recorded in the audit trail: disk full" in err


@pytest.mark.parametrize(
    "argv",
    [("search", "--entity", OTHER), ("export",), ("subject-report", OTHER), ("prove", "LOG:2")],
)
def test_a_read_refused_by_an_inserted_record_says_why(
    data_dir: Path, argv: tuple[str, ...]
) -> None:
    insert_behind_the_gateways_back(data_dir)
    log_id = config_of(data_dir).log_id
    status, out, err = cli(data_dir, *(a.replace("LOG", log_id) for a in argv))
    assert status == 3 and out == "", out  # nothing shown: the read is not recorded
    assert "cannot record this read in the audit trail, so nothing is shown" in err
    assert f"log {log_id}: records 6..6 lie past its signed head of 6 records" in err
    assert "jointgate audit verify" in err and "UNIQUE" not in err


def test_archive_moves_nothing_from_a_log_with_records_past_its_head(data_dir: Path) -> None:
    insert_behind_the_gateways_back(data_dir)
    status, out, err = cli(data_dir, "archive", "--older-than-days", "0")
    assert status == 1 and out == "", out
    assert "records 6..6 are not covered by the signed head" in err and "UNIQUE" not in err
    config = config_of(data_dir)
    store = config.new_store()
    assert store.count(config.log_id) == 7 and store.archives(config.log_id) == []
    store.close()
    assert not list((data_dir / "audit").rglob("*.jsonl.gz"))


def test_search_and_export_cite_the_policies_of_each_field(tmp_path: Path) -> None:
    config = make_config(tmp_path, log_id="")
    store = config.new_store()
    store.create_schema()
    cited = record(1)
    cited.field_policies = {"enterprise.name": ("registry-for-members",),
                            "enterprise.legalRepresentative.idNumber": ("default-deny",)}  # fmt: skip
    append_records(config, store, [cited])
    store.close()
    _, out, _ = cli(tmp_path, "search", "--user", "jit.member", "--json")
    [row] = [json.loads(line) for line in out.splitlines()]
    expected = {path: list(ids) for path, ids in cited.field_policies.items()}
    assert row["field_policies"] == expected
    target = tmp_path / "out.csv"
    export = ("export", "--format", "csv", "--user", "jit.member", "--out", str(target))
    assert cli(tmp_path, *export)[0] == 0
    with target.open() as f:
        [exported] = list(csv.DictReader(f))
    assert json.loads(exported["field_policies"]) == expected


def test_verify_fails_when_query_texts_are_deleted_archived_records_included(
    data_dir: Path,
) -> None:
    """``DELETE FROM queries`` on a copy of the trail: what every record asked is gone."""
    assert cli(data_dir, "archive", "--older-than-days", "0")[0] == 0  # records 0..5 archived
    config = config_of(data_dir)
    conn = sqlite3.connect(config.settings.path)
    conn.execute("DELETE FROM queries")
    conn.commit()
    conn.close()
    status, out, _ = cli(data_dir, "verify")
    assert status == 1, out
    assert "its text is missing (deleted?); records 0, 1, 2, 3, 4 and 1 more cite it" in out


def test_search_and_export_show_what_record_rules_withheld(tmp_path: Path) -> None:
    config = make_config(tmp_path, log_id="")
    store = config.new_store()
    store.create_schema()
    hidden = record(1, fields_allowed=["enterprise.legalRepresentative"])
    hidden.field_policies = {"enterprise.legalRepresentative": ("legal-rep", "default-deny")}
    hidden.fields_withheld = ["enterprise.legalRepresentative"]
    append_records(config, store, [hidden])
    store.close()
    _, out, _ = cli(tmp_path, "search", "--user", "jit.member", "--json")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row["fields_withheld"] == ["enterprise.legalRepresentative"]
    assert row["field_policies"] == {
        "enterprise.legalRepresentative": ["legal-rep", "default-deny"]
    }
    target = tmp_path / "out.csv"
    export = ("export", "--format", "csv", "--user", "jit.member", "--out", str(target))
    assert cli(tmp_path, *export)[0] == 0
    with target.open() as f:
        [exported] = list(csv.DictReader(f))
    assert json.loads(exported["fields_withheld"]) == ["enterprise.legalRepresentative"]
    _, out, _ = cli(tmp_path, "subject-report", PERSON, "--json")
    [report] = [json.loads(line) for line in out.splitlines()]
    assert report["fields_withheld"] == ["enterprise.legalRepresentative"]
