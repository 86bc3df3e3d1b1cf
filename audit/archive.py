"""Retention: records older than the retention period leave the database for archive files.

An archive holds a prefix of one log, ``[first_seq, end_seq)``: a header line, then each record's
body exactly as stored, one per line (gzip). The leaf hashes follow from the bodies, so
``audit verify`` recomputes the tree over archives and live records alike; the checkpoints stay
in the database. Archives are hash-linked: each header names the SHA-256 of the previous archive
of the log, the database lists every archive with its SHA-256, and moving records out appends a
record to the log itself (operation ``audit archive``) that commits to the file's hash.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from audit.append import append_records
from audit.config import AuditConfig
from audit.errors import AuditError
from audit.store import ArchiveEntry, SqlStore, now_us
from kernel.types import AuditRecord

FORMAT = "jointgate-audit-archive/v1"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def log_dir(archive_dir: Path, log_id: str) -> Path:
    digest = hashlib.sha256(log_id.encode()).hexdigest()[:8]
    return archive_dir / f"{_UNSAFE.sub('_', log_id)[:64]}-{digest}"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_archive(path: Path) -> tuple[dict[str, Any], Iterator[bytes]]:
    """The header and an iterator over the bodies of one archive file."""
    f = gzip.open(path, "rb")  # noqa: SIM115 - closed by the iterator it returns
    header = orjson.loads(f.readline())
    if header.get("format") != FORMAT:
        f.close()
        raise AuditError(f"{path}: not a {FORMAT} file")

    def bodies() -> Iterator[bytes]:
        with f:
            for line in f:
                yield line.rstrip(b"\n")

    return header, bodies()


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    log_id: str
    entry: ArchiveEntry | None
    path: Path | None

    def as_json(self) -> dict[str, Any]:
        if self.entry is None:
            return {"log_id": self.log_id, "archived": 0}
        return {
            "log_id": self.log_id,
            "archived": self.entry.end_seq - self.entry.first_seq,
            "first_seq": self.entry.first_seq,
            "end_seq": self.entry.end_seq,
            "file": str(self.path),
            "sha256": self.entry.sha256,
        }


def archive_log(
    config: AuditConfig, store: SqlStore, log_id: str, cutoff_us: int, actor: str = "retention"
) -> ArchiveResult:
    """Move the records of ``log_id`` committed before ``cutoff_us`` into one archive file."""
    previous = store.archives(log_id)
    start = previous[-1].end_seq if previous else 0
    rows = store.execute(
        "SELECT min(seq) FROM {records} WHERE log_id = ? AND seq >= ? AND committed_us >= ?",
        (log_id, start, cutoff_us),
    )
    head = store.head(log_id)
    if head is None:
        return ArchiveResult(log_id, None, None)
    if extra := store.past_head(log_id, head.tree.size):
        # the record of this archiving could not be appended after them: move nothing
        raise AuditError(
            f"log {log_id}: records {extra[0]}..{extra[1]} are not covered by the signed head"
            " (added behind the gateway's back); nothing archived; run audit verify"
        )
    end = int(rows[0][0]) if rows[0][0] is not None else head.tree.size
    if end <= start:
        return ArchiveResult(log_id, None, None)
    directory = log_dir(config.archive_dir, log_id)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{start:012d}-{end:012d}.jsonl.gz"
    created = now_us()
    header = {
        "format": FORMAT,
        "log_id": log_id,
        "first_seq": start,
        "end_seq": end,
        "prev_sha256": previous[-1].sha256 if previous else "",
        "created_us": created,
    }
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    expected = start
    with tmp.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(orjson.dumps(header) + b"\n")
        for seq, _leaf, body in store.scan(log_id, start, end):
            if seq != expected:
                raise AuditError(f"log {log_id}: record {expected} is missing; run audit verify")
            out.write(body + b"\n")
            expected += 1
        out.close()
        raw.flush()
        os.fsync(raw.fileno())
    if expected != end:
        tmp.unlink()
        raise AuditError(f"log {log_id}: records {expected}..{end - 1} are missing")
    tmp.replace(path)
    digest = file_sha256(path)
    entry = ArchiveEntry(
        log_id, start, end, str(path.relative_to(config.archive_dir)), digest,
        str(header["prev_sha256"]), created,
    )  # fmt: skip
    store.add_archive(entry)
    note = AuditRecord(
        request_id=uuid.uuid4().hex,
        subject=actor,
        purpose="audit",
        operation_name="audit archive",
        operation_type="cli",
        outcome="ok",
        variables={"log_id": log_id, "first_seq": start, "end_seq": end, "sha256": digest},
        flags=["archive"],
    )
    append_records(config, store, [note])
    return ArchiveResult(log_id, entry, path)


def archive_all(
    config: AuditConfig, store: SqlStore, now: int | None = None, actor: str = "retention"
) -> list[ArchiveResult]:
    """Archive every log's records older than the retention period."""
    cutoff = (now if now is not None else now_us()) - config.retention_days * 86_400 * 10**6
    return [archive_log(config, store, h.log_id, cutoff, actor) for h in store.heads()]
