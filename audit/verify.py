"""Checking a log, and the proofs that let others check it without the database.

:func:`verify_log` recomputes a log's Merkle tree from the records themselves (archives first,
then the database), checks each record's position and leaf hash, every stored checkpoint's
signature and root, the signed head, and any checkpoints held elsewhere. It stops at the first
broken record and says what it found: a gap (deleted), a body at the wrong position (inserted,
moved or reordered), a body that no longer matches its leaf (modified), a root that no longer
matches a checkpoint (modified together with its leaf; the record lies between the last good
checkpoint and that one), a log shorter than a checkpoint (truncated) or differing from one held
elsewhere (fork). Every query text the records found good cite (by keyed hash) must be stored:
a deleted one is named with the records that cite it (:func:`verify_queries` checks that each
stored text decrypts to one with its hash). Then it checks that the search columns and blind
index agree with the bodies.

:func:`inclusion_proof` / :func:`consistency_proof` build JSON documents that
:func:`check_proof` verifies offline: only the document and the signer's public key.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.archive import file_sha256, read_archive
from audit.checkpoint import Checkpoint, iso_us
from audit.errors import AuditError, AuditKeyError, ProofError
from audit.keys import DataKey, public_key_b64, public_key_from_b64
from audit.merkle import (
    CompactRange,
    consistency_path,
    fold_root,
    inclusion_path,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from audit.record import body_prefix, open_query
from audit.replay import Citations, spans
from audit.store import SqlStore

INCLUSION = "jointgate-audit-inclusion/v1"
CONSISTENCY = "jointgate-audit-consistency/v1"


@dataclass
class LogReport:
    log_id: str
    records: int = 0  # recomputed tree size
    archived: int = 0
    head_size: int = 0
    root: str = ""
    checkpoints: int = 0
    external: int = 0
    witnessed: int = 0  # checkpoints a witness holds, checked against the store
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "ok": self.ok,
            "records": self.records,
            "archived": self.archived,
            "signed_head_size": self.head_size,
            "root": self.root,
            "checkpoints_checked": self.checkpoints,
            "external_checkpoints_checked": self.external,
            "witnessed_checkpoints_checked": self.witnessed,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
        }


class _Targets:
    """Roots the recomputed tree must reach at given sizes, and what each claim was."""

    def __init__(self) -> None:
        self.at: dict[int, list[tuple[bytes, str]]] = {}
        self.witnessed: dict[int, Checkpoint] = {}  # what a witness saw, by size

    def add(self, size: int, root: bytes, what: str) -> None:
        self.at.setdefault(size, []).append((root, what))


def verify_log(
    store: SqlStore,
    log_id: str,
    public: Ed25519PublicKey,
    archive_dir: Path,
    external: Sequence[Checkpoint] = (),
    check_index: bool = True,
    workers: int = 1,
    block: int | None = None,
    witnessed: Sequence[Checkpoint] = (),
) -> LogReport:
    """Recompute and check one log (see the module's docstring); ``workers`` processes check
    the database's records span by span (audit.replay; ``block``: span size, for tests).
    ``witnessed``: the log's checkpoints a witness holds (signatures checked by its reader):
    the store must reproduce each one's root at its size."""
    started = time.perf_counter()
    report = LogReport(log_id)
    problems = report.problems
    targets = _Targets()
    try:
        head = store.head(log_id)
    except ValueError as exc:
        report.problems.append(f"the log's head is malformed: {exc}")
        return report
    if head is not None:
        report.head_size = head.checkpoint.tree_size
        if not head.checkpoint.verify(public):
            problems.append("the signed head's signature does not verify (forged or another key)")
        elif head.tree.root() != head.checkpoint.root:
            problems.append("the head's stored frontier does not match its signed root")
        targets.add(head.checkpoint.tree_size, head.checkpoint.root, "the signed head")
    elif witnessed:
        latest = max(witnessed, key=lambda c: c.tree_size)
        problems.append(_missing(latest, 0))
    else:
        problems.append("the log has no signed head (deleted?)")
    for cp in store.checkpoints(log_id):
        if not cp.verify(public):
            problems.append(f"checkpoint at size {cp.tree_size}: signature does not verify")
            continue
        report.checkpoints += 1
        targets.add(cp.tree_size, cp.root, f"the checkpoint at size {cp.tree_size}")
    for cp in external:
        if not cp.verify(public):
            problems.append(
                f"checkpoint held elsewhere (size {cp.tree_size}): signature does not verify"
            )
            continue
        report.external += 1
        targets.add(
            cp.tree_size, cp.root,
            f"the checkpoint held elsewhere (size {cp.tree_size}, {iso_us(cp.timestamp_us)})",
        )  # fmt: skip
    for cp in witnessed:
        report.witnessed += 1
        targets.add(cp.tree_size, cp.root, WITNESS)
        targets.witnessed[cp.tree_size] = cp
    if problems:
        report.seconds = time.perf_counter() - started
        return report

    tree = CompactRange()
    last_good = 0
    if 0 in targets.at:
        del targets.at[0]

    def reached(size: int, root: bytes) -> str | None:
        nonlocal last_good
        for expected, what in targets.at.pop(size, ()):
            if expected != root:
                if what == WITNESS:
                    cp = targets.witnessed[size]
                    return (
                        f"the witness saw log {log_id} at size {size:,} with root"
                        f" {expected.hex()} ({_second(cp)}); the store's first {size:,} records"
                        f" have root {root.hex()}: the store was rewritten or replaced since"
                    )
                if "elsewhere" in what:
                    return (
                        f"fork: the first {size} records differ from {what}; the log was"
                        f" rewritten after that checkpoint was taken"
                    )
                return (
                    f"the first {size} records no longer match {what}: a record between"
                    f" {last_good} and {size - 1} was altered, inserted or removed"
                )
        last_good = size
        return None

    citations = Citations()  # the query texts the records found good cite
    failure = _replay_archives(
        store, log_id, archive_dir, tree, targets, reached, report, citations
    )
    terms, index_ok = 0, True
    stopped: tuple[int, bytes] | None = None  # where a root did not match
    if failure is None:
        planned = max([tree.size, report.head_size, *targets.at])
        stops = sorted(targets.at)
        for span in spans(store, log_id, tree, stops, planned, check_index, workers, block):
            prefix = tree.nodes if span.local else []
            for size, nodes in span.stops:
                root = fold_root(prefix + nodes)
                if size in targets.at and (failure := reached(size, root)):
                    stopped = (size, root)
                    break
            if failure is not None:
                break
            if span.local:
                tree.append_range(span.size, span.nodes)
            citations.update(span.citations)
            if span.problem:
                failure = span.problem
                break
            terms += span.terms
            index_ok &= span.index_ok
    report.records = stopped[0] if stopped else tree.size
    report.root = (stopped[1] if stopped else tree.root()).hex()
    if failure is not None:
        problems.append(failure)
    elif head is not None and tree.size > head.checkpoint.tree_size:
        problems.append(
            f"records {head.checkpoint.tree_size}..{tree.size - 1} are not covered by the signed"
            " head (added behind the gateway's back)"
        )
    else:
        if targets.at:
            size = min(targets.at)
            what = targets.at[size][0][1]
            seen = [s for s in targets.at if s in targets.witnessed]
            if seen:
                problems.append(_missing(targets.witnessed[max(seen)], tree.size))
            else:
                problems.append(
                    f"truncated: {what} covers {size} records, only {tree.size} are there"
                )
    problems.extend(citations.missing(store.query_macs()))
    if not problems and check_index:
        if index_ok and store.count_terms(log_id) == terms:
            problems.extend(store.schema_problems())
        else:  # where and what: the exact check, in the database
            problems.extend(store.index_problems(log_id))
    report.seconds = time.perf_counter() - started
    return report


WITNESS = "the witness"


def _second(cp: Checkpoint) -> str:
    return iso_us(cp.timestamp_us)[:19] + "Z"


def _missing(cp: Checkpoint, held: int) -> str:
    """A witnessed checkpoint beyond what the store holds: a restored backup, a cut tail."""
    return (
        f"the witness saw log {cp.log_id} at size {cp.tree_size:,} ({_second(cp)}); the store"
        f" holds {held:,}: records {held:,}–{cp.tree_size - 1:,} are missing"
    )


def _replay_archives(
    store: SqlStore, log_id: str, archive_dir: Path, tree: CompactRange, targets: _Targets,
    reached: Any, report: LogReport, citations: Citations,
) -> str | None:  # fmt: skip
    previous = ""
    for entry in store.archives(log_id):
        path = archive_dir / entry.file
        if entry.first_seq != tree.size:
            return f"archive {entry.file} starts at {entry.first_seq}, expected {tree.size}"
        if not path.exists():
            return f"archive {entry.file} is missing"
        if file_sha256(path) != entry.sha256:
            return f"archive {entry.file}: its SHA-256 differs from the one recorded"
        header, bodies = read_archive(path)
        if header.get("prev_sha256", "") != previous or header.get("log_id") != log_id:
            return f"archive {entry.file}: not linked to the previous archive of the log"
        previous = entry.sha256
        for body in bodies:
            seq = tree.size
            if not body.startswith(body_prefix(log_id, seq)):
                return f"archive {entry.file}: record {seq} is not at its position"
            tree.append(leaf_hash(body))
            citations.scan(seq, (body,))
            if tree.size in targets.at and (failure := reached(tree.size, tree.root())):
                return str(failure)
        if tree.size != entry.end_seq:
            return f"archive {entry.file} ends at {tree.size}, expected {entry.end_seq}"
        report.archived = tree.size
    return None


def verify_queries(store: SqlStore, key: DataKey) -> list[str]:
    """Every stored query text decrypts and matches the keyed hash records refer to it by."""
    problems = []
    for mac, sealed in sorted(store.query_texts().items()):
        try:
            open_query(sealed, mac, key)
        except AuditKeyError as exc:
            problems.append(f"query {mac}: {exc}")
    return problems


def verify_store(
    store: SqlStore,
    public: Ed25519PublicKey,
    archive_dir: Path,
    external: Iterable[Checkpoint] = (),
    log_ids: Iterable[str] | None = None,
    check_index: bool = True,
    workers: int = 1,
    witnessed: Iterable[Checkpoint] = (),
) -> list[LogReport]:
    """Every log of the store, and every log a checkpoint held elsewhere or witnessed names
    (a log deleted whole is then missing, not absent); or only ``log_ids``."""
    held: dict[str, list[Checkpoint]] = {}
    for cp in external:
        held.setdefault(cp.log_id, []).append(cp)
    seen: dict[str, list[Checkpoint]] = {}
    for cp in witnessed:
        seen.setdefault(cp.log_id, []).append(cp)
    logs = sorted(
        set(log_ids) if log_ids is not None else set(store.log_ids()) | set(held) | set(seen)
    )
    return [
        verify_log(
            store,
            log,
            public,
            archive_dir,
            held.get(log, ()),
            check_index,
            workers,
            witnessed=seen.get(log, ()),
        )
        for log in logs
    ]


class LeafSource:
    """The leaf hashes of one log over archives and database, for building proofs."""

    def __init__(self, store: SqlStore, log_id: str, archive_dir: Path) -> None:
        self.store = store
        self.log_id = log_id
        self.archive_dir = archive_dir
        self.archives = store.archives(log_id)
        self.live_start = self.archives[-1].end_seq if self.archives else 0
        self._archived: list[bytes] | None = None

    def _archive_leaves(self) -> list[bytes]:
        if self._archived is None:
            leaves: list[bytes] = []
            for entry in self.archives:
                _header, bodies = read_archive(self.archive_dir / entry.file)
                leaves.extend(leaf_hash(b) for b in bodies)
            self._archived = leaves
        return self._archived

    def range(self, lo: int, hi: int) -> list[bytes]:
        out: list[bytes] = []
        if lo < self.live_start:
            out.extend(self._archive_leaves()[lo : min(hi, self.live_start)])
        if hi > self.live_start:
            out.extend(self.store.leaves(self.log_id, max(lo, self.live_start), hi))
        if len(out) != hi - lo:
            raise AuditError(f"log {self.log_id}: leaves {lo}..{hi - 1} are not all there")
        return out

    def subtree(self, lo: int, hi: int) -> bytes:
        return root_of(self.range(lo, hi))


def find_checkpoint(store: SqlStore, log_id: str, size: int | None) -> Checkpoint:
    """The signed head (``size`` None) or the kept checkpoint of exactly ``size`` records."""
    head = store.head(log_id)
    if head is None:
        raise AuditError(f"no log {log_id!r}")
    if size is None or size == head.checkpoint.tree_size:
        return head.checkpoint
    for cp in store.checkpoints(log_id):
        if cp.tree_size == size:
            return cp
    raise AuditError(f"log {log_id}: no signed checkpoint of {size} records is kept")


def inclusion_proof(
    store: SqlStore, log_id: str, seq: int, body: bytes, archive_dir: Path,
    public: Ed25519PublicKey, checkpoint: Checkpoint | None = None,
) -> dict[str, Any]:  # fmt: skip
    cp = checkpoint or find_checkpoint(store, log_id, None)
    if seq >= cp.tree_size:
        raise AuditError(f"record {seq} is not covered by the checkpoint of {cp.tree_size} records")
    source = LeafSource(store, log_id, archive_dir)
    path = inclusion_path(seq, cp.tree_size, source.subtree)
    leaf = leaf_hash(body)
    if not verify_inclusion(seq, cp.tree_size, leaf, path, cp.root):
        raise AuditError(
            f"log {log_id}: record {seq} does not prove against the checkpoint; run audit verify"
        )
    return {
        "type": INCLUSION,
        "log_id": log_id,
        "seq": seq,
        "request_id": orjson.loads(body)["request_id"],
        "leaf_hash": leaf.hex(),
        "body": body.decode(),
        "tree_size": cp.tree_size,
        "audit_path": [p.hex() for p in path],
        "checkpoint": cp.as_json(),
        "public_key": public_key_b64(public),
    }


def consistency_proof(
    store: SqlStore, log_id: str, old: Checkpoint, new: Checkpoint, archive_dir: Path,
    public: Ed25519PublicKey,
) -> dict[str, Any]:  # fmt: skip
    if old.tree_size > new.tree_size:
        old, new = new, old
    source = LeafSource(store, log_id, archive_dir)
    proof = consistency_path(old.tree_size, new.tree_size, source.subtree)
    if not verify_consistency(old.tree_size, new.tree_size, old.root, new.root, proof):
        raise AuditError(
            f"log {log_id}: the checkpoints are not consistent (fork); run audit verify"
        )
    return {
        "type": CONSISTENCY,
        "log_id": log_id,
        "old": old.as_json(),
        "new": new.as_json(),
        "proof": [p.hex() for p in proof],
        "public_key": public_key_b64(public),
    }


@dataclass
class ProofCheck:
    ok: bool
    problems: list[str]
    notes: list[str]


def check_proof(document: Any, public: Ed25519PublicKey | None = None) -> ProofCheck:
    """Verify an inclusion or consistency proof document offline."""
    notes: list[str] = []
    try:
        kind = document["type"]
        if public is None:
            public = public_key_from_b64(document["public_key"])
            notes.append(
                "the public key was taken from the proof itself: pass the log's public key"
                " (audit/keys/signing.pub) to make sure who signed it"
            )
        if kind == INCLUSION:
            problems = _check_inclusion(document, public)
        elif kind == CONSISTENCY:
            problems = _check_consistency(document, public)
        else:
            raise ProofError(f"unknown proof type {kind!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"not a proof document: {exc!r}") from None
    return ProofCheck(not problems, problems, notes)


def _check_inclusion(doc: Any, public: Ed25519PublicKey) -> list[str]:
    problems = []
    cp = Checkpoint.from_json(doc["checkpoint"])
    log_id, seq, size = str(doc["log_id"]), int(doc["seq"]), int(doc["tree_size"])
    body = str(doc["body"]).encode()
    leaf = leaf_hash(body)
    if leaf.hex() != doc["leaf_hash"]:
        problems.append("the record's body does not hash to the leaf in the proof")
    if not body.startswith(body_prefix(log_id, seq)):
        problems.append("the record's body names another log or position")
    if cp.log_id != log_id or cp.tree_size != size:
        problems.append("the checkpoint is for another log or tree size")
    if not cp.verify(public):
        problems.append("the checkpoint's signature does not verify with the given key")
    path = [bytes.fromhex(p) for p in doc["audit_path"]]
    if not verify_inclusion(seq, size, leaf, path, cp.root):
        problems.append("the audit path does not lead from the record to the checkpoint's root")
    return problems


def _check_consistency(doc: Any, public: Ed25519PublicKey) -> list[str]:
    problems = []
    old, new = Checkpoint.from_json(doc["old"]), Checkpoint.from_json(doc["new"])
    if old.log_id != new.log_id or old.log_id != doc["log_id"]:
        problems.append("the checkpoints are of different logs")
    for name, cp in (("old", old), ("new", new)):
        if not cp.verify(public):
            problems.append(f"the {name} checkpoint's signature does not verify with the given key")
    proof = [bytes.fromhex(p) for p in doc["proof"]]
    if not verify_consistency(old.tree_size, new.tree_size, old.root, new.root, proof):
        problems.append(
            f"the tree of {old.tree_size} records is not a prefix of the tree of"
            f" {new.tree_size} records (fork or rewrite)"
        )
    return problems
