"""The stored form: personal data only sealed, searchable through keyed hashes, bound to its
position in the log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from audit.append import append_records
from audit.config import AuditConfig
from audit.errors import AuditKeyError
from audit.keys import DataKey
from audit.reader import AuditReader, SearchFilter
from audit.record import body_prefix, decode, normalise_query, prepare, seal
from kernel.identifiers import luhn_check_digit
from tests.audit.conftest import ENTERPRISE, PERSON, make_config, record


def test_a_copy_of_the_database_reveals_neither_who_nor_why(config: AuditConfig) -> None:
    store = config.new_store()
    store.create_schema()
    rec = record(person="11010519491231002X", case_id="J1101052026000042")
    rec.query_text = '{ person(idNumber: "11010519491231002X") { name } }'
    append_records(config, store, [rec])
    store.close()
    files = [config.settings.path, *config.settings.path.parent.glob("trail.db-*")]
    raw = b"".join(p.read_bytes() for p in files if p.exists())
    for secret in ("11010519491231002X", ENTERPRISE, "J1101052026000042", "非法吸收公众存款"):
        assert secret.encode() not in raw, secret
    assert b"jit.member" in raw  # who asked is accountability data, kept in clear


def test_decoding_needs_the_data_key(config: AuditConfig) -> None:
    rec = record()
    row = seal(prepare(rec, config.key), config.key, "log-a", 7, 1_790_000_000_000_000)
    assert row.body.startswith(body_prefix("log-a", 7))
    view = decode(row.body, config.key)
    assert view["case_id"] == "JIT-2026-001"
    assert view["records_returned"] == {"Enterprise": [ENTERPRISE], "Person": [PERSON]}
    assert view["variables"] == {"uscc": ENTERPRISE}
    assert view["time"] == "2026-09-21T14:13:20.000000Z" or view["time"].endswith("Z")
    blind = decode(row.body, None)
    assert blind["case_id"] == blind["justification"] == "<sealed>"
    assert blind["records_returned"] == {"Enterprise": "<1 sealed>", "Person": "<1 sealed>"}
    other = DataKey(b"\x01" * 32)
    assert "sealed_error" in decode(row.body, other)


def test_sealed_data_is_bound_to_its_record(config: AuditConfig) -> None:
    a = seal(prepare(record(1), config.key), config.key, "log-a", 1, 1)
    b = seal(prepare(record(2), config.key), config.key, "log-a", 2, 2)
    moved = orjson.loads(b.body)
    moved["sealed"] = orjson.loads(a.body)["sealed"]
    view = decode(orjson.dumps(moved), config.key)
    assert "does not decrypt" in view["sealed_error"]
    with pytest.raises(AuditKeyError):
        config.key.open(orjson.loads(a.body)["sealed"], moved["request_id"].encode())


def test_terms_cover_records_shown_and_strings_looked_up(config: AuditConfig) -> None:
    rec = record()
    rec.query_text = 'query { person(idNumber: "110105198001019999") { name } }'
    rec.saw("Transaction", "T1-0")
    p = prepare(rec, config.key, frozenset({"Transaction"}))
    for key in (PERSON, ENTERPRISE, "110105198001019999", "JIT-2026-001", " jit-2026-001 "):
        assert config.key.term(key) in p.terms
    assert config.key.term("T1-0") not in p.terms
    assert p.case_term == config.key.term("JIT-2026-001")


def test_query_normalisation_keeps_strings_and_drops_layout() -> None:
    a = normalise_query('query  Q {\n  enterprise(uscc: "9111  0105") { # comment\n name,  } }')
    b = normalise_query('query Q { enterprise(uscc: "9111  0105") { name } }')
    assert a == b
    assert '"9111  0105"' in a


def test_search_columns_cannot_be_edited_apart_from_the_body(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    store = config.new_store()
    store.create_schema()
    append_records(config, store, [record(1), record(2, subject="police.investigator")])
    reader = AuditReader(store, config.key)
    assert len(reader.search(SearchFilter(user="jit.member"))) == 1
    conn = sqlite3.connect(config.settings.path)
    conn.execute("DROP TRIGGER records_no_update")
    with pytest.raises(sqlite3.OperationalError, match="generated column"):
        conn.execute("UPDATE records SET subject = 'jit.member'")
    conn.close()
    store.close()


def test_blind_index_terms_and_macs_stay_what_stored_trails_hold() -> None:
    """Terms already in a trail's blind index must be found again: the keyed BLAKE2b as first
    defined (key from HKDF "blind-index", 16 bytes, personalised), on the normalised value."""
    import hashlib

    from audit.keys import DataKey, _derive

    secret = bytes(range(32))
    index = _derive(secret, b"blind-index")
    key = DataKey(secret)
    assert (
        key.term(" 91110105ma0000001x ")
        == hashlib.blake2b(
            b"91110105MA0000001X", key=index, digest_size=16, person=b"jg-audit-term"
        ).hexdigest()
    )
    assert (
        key.mac(b"query")
        == hashlib.blake2b(b"query", key=index, digest_size=16, person=b"jg-audit-mac").hexdigest()
    )


def test_each_field_cites_the_policies_that_decided_it(config: AuditConfig) -> None:
    rec = record()
    rec.field_policies = {
        "enterprise.name": ("registry-for-members",),
        "enterprise.legalRepresentative.idNumber": ("identity-masked-for-monitoring",),
        "enterprise.bankAccounts": ("default-deny",),
    }
    row = seal(prepare(rec, config.key), config.key, "log-a", 7, 1_790_000_000_000_000)
    stored = orjson.loads(row.body)["fields"]["policies"]  # in the body: under the leaf hash
    assert stored == {path: list(ids) for path, ids in sorted(rec.field_policies.items())}
    assert decode(row.body, None)["field_policies"] == stored  # not personal data: in clear


def test_trails_written_before_policies_were_cited_still_verify_and_read(
    tmp_path: Path,
) -> None:
    """Bodies stay version 1: the citation is one more key in ``fields``, absent from records
    written before it, which verify exactly as they did and read as citing nothing."""
    from audit.append import append_prepared
    from audit.verify import verify_store

    config = make_config(tmp_path)
    store = config.new_store()
    store.create_schema()
    old = prepare(record(1), config.key)
    public = orjson.loads(b"{" + old.rest)
    del public["fields"]["policies"]
    old.rest = orjson.dumps(public)[1:]
    append_prepared(config, store, [old])
    new = record(2)
    new.field_policies = {"enterprise.name": ("registry-for-members",)}
    append_records(config, store, [new])
    [report] = verify_store(store, config.signer.public, config.archive_dir)
    assert report.ok and report.records == 2, report
    rows = AuditReader(store, config.key).search(SearchFilter(entity=PERSON))
    assert [r["field_policies"] for r in rows] == [
        {},
        {"enterprise.name": ["registry-for-members"]},
    ]
    store.close()


def test_identifiers_looked_up_are_indexed_and_searched_as_their_scalars_normalise_them(
    tmp_path: Path,
) -> None:
    """An account number typed in groups, a court case number typed full-width: the record
    holds and indexes what the scalar made of them, and a search typed either way finds it."""
    config = make_config(tmp_path)
    store = config.new_store()
    store.create_schema()
    card = "622202000000000003" + luhn_check_digit("622202000000000003")
    spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    rec = record(1, variables={"number": spaced})
    rec.query_text = (
        "query ($number: AccountNumber!) { bankAccount(number: $number) { bank }"
        ' courtCase(caseNumber: "（２０２６）京０１０２执９９９９号") { stage } }'
    )
    prepared = prepare(rec, config.key)
    for value in (card, "(2026)京0102执9999号"):
        assert config.key.term(value) in prepared.terms
    append_records(config, store, [rec])
    reader = AuditReader(store, config.key)
    [row] = reader.search(SearchFilter(entity=card))
    assert {card, "(2026)京0102执9999号"} <= set(row["looked_up"])
    assert spaced not in row["looked_up"]
    for typed in (card, spaced, "(2026)京0102执9999号", "（2026）京0102执9999号"):
        assert len(reader.search(SearchFilter(entity=typed))) == 1, typed
        assert len(reader.subject_report(typed)) == 1, typed
    store.close()


def test_trails_written_before_withheld_paths_were_recorded_still_verify_and_read(
    tmp_path: Path,
) -> None:
    """``fields.withheld`` is one more key in the body (version 1 still): records without it
    verify as they did and read as withholding nothing."""
    from audit.append import append_prepared
    from audit.verify import verify_store

    config = make_config(tmp_path)
    store = config.new_store()
    store.create_schema()
    old = prepare(record(1), config.key)
    public = orjson.loads(b"{" + old.rest)
    del public["fields"]["withheld"]
    old.rest = orjson.dumps(public)[1:]
    append_prepared(config, store, [old])
    new = record(2)
    new.fields_withheld = ["enterprise.legalRepresentative"]
    append_records(config, store, [new])
    [report] = verify_store(store, config.signer.public, config.archive_dir)
    assert report.ok and report.records == 2, report
    rows = AuditReader(store, config.key).search(SearchFilter(entity=PERSON))
    assert [r["fields_withheld"] for r in rows] == [[], ["enterprise.legalRepresentative"]]
    store.close()


def test_a_mutations_changes_are_stored_their_ids_sealed_and_older_records_still_verify(
    tmp_path: Path,
) -> None:
    """``changes`` (the states a mutation moved a lead or case between) is one more key in the
    body, only in a mutation's record: a query's body is as it was, and records without it
    verify and read as changing nothing. The lead's id and the case's number are sealed, and
    found through the blind index."""
    from audit.verify import verify_store

    config = make_config(tmp_path)
    store = config.new_store()
    store.create_schema()
    query = record(1)
    assert b'"changes"' not in prepare(query, config.key).rest
    mutation = record(2)
    mutation.operation_type = "mutation"
    mutation.changes = [
        {"entity": "lead", "id": "L-2026-000042", "action": "openCase",
         "before": "REFERRED", "after": "CASE_OPENED", "replayed": False},
        {"entity": "case", "id": "J1101052026000777", "action": "openCase",
         "before": None, "after": "OPEN", "replayed": False},
    ]  # fmt: skip
    append_records(config, store, [query, mutation])
    [report] = verify_store(store, config.signer.public, config.archive_dir)
    assert report.ok and report.records == 2, report
    reader = AuditReader(store, config.key)
    rows = reader.search(SearchFilter(entity=PERSON))
    assert [r["changes"] for r in rows] == [[], mutation.changes]
    [found] = reader.search(SearchFilter(entity="L-2026-000042"))
    assert found["request_id"] == mutation.request_id
    body = next(r.body for r in [seal(prepare(mutation, config.key), config.key, "l", 1, 1)])
    assert b"L-2026-000042" not in body and b"J1101052026000777" not in body
    assert b"CASE_OPENED" in body  # the states are no secret
    blind = decode(body, None)["changes"]
    assert [(c["id"], c["before"], c["after"]) for c in blind] == [
        ("<sealed>", "REFERRED", "CASE_OPENED"), ("<sealed>", None, "OPEN")]  # fmt: skip
    store.close()
