"""``audit verify``, ``checkpoint``, ``prove``, ``check-proof``, ``consistency``: the evidence
that the trail is whole, and proofs that a record is in it or an old head is a prefix of a new."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO

import orjson

from audit.append import append_records
from audit.archive import read_archive
from audit.checkpoint import Checkpoint
from audit.config import AuditConfig
from audit.inspection import verify_trail
from audit.keys import load_public_key
from audit.replay import default_workers
from audit.store import SqlStore
from audit.verify import (
    check_proof as check_proof_document,
)
from audit.verify import (
    consistency_proof,
    find_checkpoint,
    inclusion_proof,
)
from audit.witness import WitnessSpec, parse_witness
from commands.audit.common import CliError, dumps, read_note, record_read, write_json


def verify(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    """Verify, report, then record the read. Unlike the other reads, the report is shown even
    when its record cannot be appended: it holds no personal data, and the tampering it finds
    (records inserted past the signed head) is exactly what makes the append fail.

    Against the witnesses (``audit.witnesses``, or ``--witness``; ``--no-witness`` none, said
    on standard error): each is read and checked on its own (its lines linked and signed), then
    every checkpoint it holds must be reproduced by the store. Exit 1 for tampering found in
    the store or a witness, 3 if a witness or the record of this read could not be written or
    read (and nothing was found)."""
    public = load_public_key(args.public_key) if args.public_key else config.signer.public
    held = [_checkpoint_file(p) for p in args.checkpoint]
    specs = _witness_specs(args, config, err)
    workers = args.workers or default_workers()
    found = verify_trail(
        store, public, config.key, config.archive_dir, specs, held, args.log, not args.no_index,
        workers,
    )  # fmt: skip
    for gone in found.unreadable:
        print(f"jointgate audit verify: witness {gone.shown}: cannot be read: {gone.error}",
              file=err)  # fmt: skip
    reports, query_problems, readings = found.reports, found.query_problems, found.readings
    unreachable = bool(found.unreadable)
    witnesses = found.witnesses()
    for report in reports:
        if args.json:  # one object per log; the witnesses' own checks in each
            out.write(dumps({**report.as_json(), "witnesses": witnesses}) + "\n")
            continue
        rate = report.records / report.seconds if report.seconds else 0.0
        status = "ok" if report.ok else "FAILED"
        out.write(
            f"log {report.log_id}: {status}: {report.records} records"
            f" ({report.archived} archived), {report.checkpoints} checkpoints"
            f" + {report.external} held elsewhere + {report.witnessed} witnessed,"
            f" root {report.root[:16]}…, {report.seconds:.2f} s ({rate:,.0f} records/s)\n"
        )
        for problem in report.problems:
            out.write(f"  first problem: {problem}\n")
    for reading in readings if not args.json else ():
        status = "ok" if not reading.problems else "FAILED"
        out.write(f"witness {reading.shown}: {status}: {len(reading.entries)} checkpoints\n")
        for problem in reading.problems:
            out.write(f"  problem: {problem}\n")
        for remark in reading.notes:
            out.write(f"  note: {remark}\n")
    for problem in query_problems:
        out.write(f"queries: {problem}\n")
    if not reports:
        out.write("no logs\n")
    out.flush()
    total = sum(r.records for r in reports)
    note = read_note(args, {"logs": ",".join(r.log_id for r in reports)}, count=total)
    recorded = True
    try:
        append_records(config, store, [note])
    except Exception as exc:
        recorded = False
        print(
            f"jointgate audit verify: this verification could not be recorded in the audit"
            f" trail: {exc}",
            file=err,
        )
    if not all(r.ok for r in reports) or query_problems or any(r.problems for r in readings):
        return 1
    return 0 if recorded and not unreachable else 3


def _witness_specs(
    args: argparse.Namespace, config: AuditConfig, err: IO[str]
) -> list[WitnessSpec]:
    """The witnesses verify checks against (``--witness``, else the configured ones)."""
    if args.no_witness and args.witness:
        raise CliError("--witness and --no-witness: give one or the other")
    if args.no_witness:
        print(
            "jointgate audit verify: --no-witness: the store is checked only against itself;"
            " a restored backup or a rolled-back log would verify",
            file=err,
        )
        return []
    try:
        specs = (
            [parse_witness(url) for url in args.witness]  # relative: to the current directory
            if args.witness
            else list(config.witnesses)
        )
    except ValueError as exc:
        raise CliError(f"--witness: {exc}") from None
    if not specs:
        print(
            "jointgate audit verify: WARNING: no witness configured (audit.witnesses = []):"
            " a restored backup or a rolled-back log would verify",
            file=err,
        )
    return specs


def _checkpoint_file(path: Path) -> Checkpoint:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CliError(f"{path}: cannot read a checkpoint: {exc}") from None
    return Checkpoint.from_json(data.get("checkpoint", data) if isinstance(data, dict) else data)


def checkpoint(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    cp = find_checkpoint(store, args.log or config.log_id, None)
    write_json(cp.as_json(), args.out, out)
    return 0


def _locate(store: SqlStore, record: str) -> tuple[str, int, bytes]:
    log_id, _, seq = record.rpartition(":")
    if log_id and seq.isdigit():
        rows = list(store.bodies("r.log_id = ? AND r.seq = ?", [log_id, int(seq)], 1))
    else:
        rows = list(store.bodies("r.request_id = ?", [record], 2))
    if not rows:
        raise CliError(f"no record {record!r} in the database (archived records: use LOG:SEQ)", 1)
    if len(rows) > 1:
        raise CliError(f"several records have request id {record!r}; use LOG:SEQ", 1)
    return rows[0]


def _locate_archived(store: SqlStore, config: AuditConfig, record: str) -> tuple[str, int, bytes]:
    log_id, _, seq_text = record.rpartition(":")
    seq = int(seq_text)
    for entry in store.archives(log_id):
        if entry.first_seq <= seq < entry.end_seq:
            _header, bodies = read_archive(config.archive_dir / entry.file)
            for i, body in enumerate(bodies, start=entry.first_seq):
                if i == seq:
                    return log_id, seq, body
    raise CliError(f"no record {record!r}", 1)


def prove(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    try:
        log_id, seq, body = _locate(store, args.record)
    except CliError:
        log_id, _, seq_text = args.record.rpartition(":")
        if not (log_id and seq_text.isdigit()):
            raise
        log_id, seq, body = _locate_archived(store, config, args.record)
    against = find_checkpoint(store, log_id, args.size)
    proof = inclusion_proof(
        store, log_id, seq, body, config.archive_dir, config.signer.public, against
    )
    record_read(args, config, store, {"record": args.record}, [{"log_id": log_id, "seq": seq}])
    write_json(proof, args.out, out)
    return 0


def check_proof(args: argparse.Namespace, out: IO[str]) -> int:
    try:
        document = orjson.loads(args.file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CliError(f"{args.file}: cannot read a proof: {exc}") from None
    public = load_public_key(args.public_key) if args.public_key else None
    result = check_proof_document(document, public)
    for note in result.notes:
        out.write(f"note: {note}\n")
    if result.ok:
        if document["type"].endswith("inclusion/v1"):
            cp = document["checkpoint"]
            out.write(
                f"ok: record {document['seq']} (request {document['request_id']}) is in log"
                f" {document['log_id']} as signed at {cp['time']} over {cp['tree_size']} records\n"
            )
        else:
            out.write(
                f"ok: log {document['log_id']} at {document['old']['tree_size']} records is a"
                f" prefix of the log at {document['new']['tree_size']} records\n"
            )
        return 0
    for problem in result.problems:
        out.write(f"FAILED: {problem}\n")
    return 1


def _size_or_file(store: SqlStore, log_id: str, value: str | None) -> Checkpoint:
    if value is None:
        return find_checkpoint(store, log_id, None)
    if value.isdigit():
        return find_checkpoint(store, log_id, int(value))
    return _checkpoint_file(Path(value))


def consistency(
    args: argparse.Namespace, config: AuditConfig, store: SqlStore, out: IO[str], err: IO[str]
) -> int:
    log_id = args.log
    if log_id is None:
        log_id = config.log_id
        if not args.old.isdigit():
            log_id = _checkpoint_file(Path(args.old)).log_id
    old = _size_or_file(store, log_id, args.old)
    new = _size_or_file(store, log_id, args.new)
    if old.log_id != log_id or new.log_id != log_id:
        raise CliError("both checkpoints must be of the same log")
    proof = consistency_proof(store, log_id, old, new, config.archive_dir, config.signer.public)
    write_json(proof, args.out, out)
    return 0
