"""Witnesses: every kept checkpoint of the trail, published outside the audit store.

A store can be replaced by an older copy of itself (a restored backup) or have its tail deleted
and its head set back to an earlier signed checkpoint: both are consistent with themselves, so
the store alone cannot show them. A witness keeps what the trail signed somewhere the store's
writer cannot reach, and refuses what does not extend it:

    file     an append-only JSON Lines file in a directory of its own (``file:PATH``, or a bare
             path; ``{log}`` in the name gives each log its own file): one line per checkpoint,
             each linked to the line before it by its SHA-256, written with O_APPEND under an
             exclusive lock, fsynced, never rewritten
    sqlite / postgresql   a table in another database (audit/witness_sql.py), insert-only

Each entry is a signed checkpoint plus the Merkle frontier of its tree (the roots of the perfect
subtrees that make it up). With that frontier and the store's leaves since, the publisher builds
the RFC 6962 consistency proof from the witness's last checkpoint of the log to the new one and
checks it (:func:`judge`): a new checkpoint that is smaller and not a prefix of what the witness
saw, or larger but not an extension of it, is refused (:class:`WitnessRefused`), so a rollback is
loud when the gateway writes, not only when someone runs ``audit verify``. ``audit verify``
checks the store against every checkpoint a witness holds (audit/verify.py).

Publishing runs off the request path, in its own thread (audit/publish.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.checkpoint import Checkpoint, iso_us
from audit.errors import AuditError, redacted
from audit.merkle import consistency_path, fold_root, root_of, verify_consistency

log = logging.getLogger("jointgate.audit")
Leaves = Callable[[int, int], list[bytes]]  # the store's leaf hashes of positions [lo, hi)

ENTRY_VERSION = 1
KINDS = ("file", "sqlite", "postgresql")
_SAFE = re.compile(r"[A-Za-z0-9_.-]")


class WitnessError(AuditError):
    """A witness cannot be reached, read or written (it is retried)."""


class WitnessRefused(AuditError):
    """A checkpoint that is not consistent with what the witness holds for its log."""


@dataclass(frozen=True, slots=True)
class WitnessEntry:
    """A checkpoint as a witness holds it: signed, with the frontier of its tree."""

    checkpoint: Checkpoint
    frontier: tuple[bytes, ...]
    witnessed_us: int = 0

    @property
    def log_id(self) -> str:
        return self.checkpoint.log_id

    @property
    def size(self) -> int:
        return self.checkpoint.tree_size

    @property
    def when(self) -> str:
        """When the checkpoint was signed, to the second: 2026-12-07T15:02:11Z."""
        return iso_us(self.checkpoint.timestamp_us)[:19] + "Z"

    def as_json(self) -> dict[str, Any]:
        return {
            "v": ENTRY_VERSION,
            "checkpoint": self.checkpoint.as_json(),
            "frontier": [node.hex() for node in self.frontier],
            "witnessed_us": self.witnessed_us,
        }

    @classmethod
    def from_json(cls, data: Any) -> WitnessEntry:
        try:
            if data["v"] != ENTRY_VERSION:
                raise ValueError(f"version {data['v']!r}")
            frontier = tuple(bytes.fromhex(node) for node in data["frontier"])
            checkpoint = Checkpoint.from_json(data["checkpoint"])
            entry = cls(checkpoint, frontier, int(data["witnessed_us"]))
        except (KeyError, TypeError, ValueError, AuditError) as exc:
            raise ValueError(f"not a witnessed checkpoint: {exc}") from None
        if len(frontier) != entry.size.bit_count() or any(len(n) != 32 for n in frontier):
            raise ValueError(f"not a witnessed checkpoint: a frontier of {entry.size} leaves")
        return entry


def group(num: int) -> str:
    return f"{num:,}"


# -- the consistency check every witness applies --------------------------------------------------
def judge(last: WitnessEntry | None, new: WitnessEntry, leaves: Leaves) -> bool:
    """Whether ``new`` is to be appended after ``last`` (the witness's latest of the log):
    True if it extends it, False if it is already covered (the same checkpoint, or a smaller one
    that is a prefix of it: another worker of the same log got there first); WitnessRefused if
    it is consistent with neither. ``leaves`` reads the store's leaf hashes for the proof."""
    if last is None:
        return True
    if fold_root(list(last.frontier)) != last.checkpoint.root:
        raise WitnessError(
            f"log {last.log_id}: the witness's checkpoint of {group(last.size)} records does not"
            " match its own frontier (the witness was edited)"
        )
    m, n = last.size, new.size
    log_id = new.log_id
    if n == m:
        if new.checkpoint.root == last.checkpoint.root:
            return False
        raise WitnessRefused(
            f"log {log_id}: a checkpoint of {group(n)} records with root"
            f" {new.checkpoint.root.hex()} differs from the one the witness saw at that size"
            f" ({last.checkpoint.root.hex()}, {last.when}): the log was rewritten"
        )
    old, young = (last, new) if n > m else (new, last)
    try:
        proof = consistency_path(old.size, young.size, _subtree(old, leaves))
        ok = verify_consistency(
            old.size, young.size, old.checkpoint.root, young.checkpoint.root, proof
        )
    except _Missing:
        ok = False
    if n > m:
        if ok:
            return True
        raise WitnessRefused(
            f"log {log_id}: the checkpoint of {group(n)} records does not extend the one the"
            f" witness saw at {group(m)} records ({last.when}): the store's first {group(m)}"
            " records are not the ones the witness saw (restored from a backup, or rewritten)"
        )
    if ok:
        return False
    raise WitnessRefused(
        f"log {log_id}: a checkpoint of {group(n)} records after the witness saw"
        f" {group(m)} ({last.when}): the store was rolled back; records"
        f" {group(n)}–{group(m - 1)} are missing or differ"
    )


class _Missing(Exception):
    pass


def _subtree(old: WitnessEntry, leaves: Leaves) -> Callable[[int, int], bytes]:
    """Subtree roots for a consistency proof from ``old``: inside its tree, the nodes of its
    frontier (the only ones RFC 6962's proof asks for there); after it, from the store."""
    nodes: dict[tuple[int, int], bytes] = {}
    start = 0
    heights = [h for h in range(old.size.bit_length() - 1, -1, -1) if old.size >> h & 1]
    for node, height in zip(old.frontier, heights, strict=True):
        nodes[(start, start + (1 << height))] = node
        start += 1 << height

    def subtree(lo: int, hi: int) -> bytes:
        if (lo, hi) in nodes:
            return nodes[(lo, hi)]
        if lo < old.size:
            raise _Missing  # pragma: no cover - RFC 6962 asks only for frontier nodes here
        got = leaves(lo, hi)
        if len(got) != hi - lo:
            raise _Missing
        return root_of(got)

    return subtree


# -- what every witness does --------------------------------------------------------------------
@dataclass
class WitnessReading:
    """Everything a witness holds, checked on its own: entries, and what is wrong with it."""

    shown: str
    entries: list[WitnessEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def latest(self) -> dict[str, WitnessEntry]:
        out: dict[str, WitnessEntry] = {}
        for entry in self.entries:
            if entry.log_id not in out or entry.size > out[entry.log_id].size:
                out[entry.log_id] = entry
        return out


class Witness(Protocol):
    shown: str  # where it is, as reports show it (no password)

    def publish(self, entry: WitnessEntry, leaves: Leaves) -> bool:
        """Append ``entry`` if :func:`judge` says so (True), under the witness's lock."""

    def read(self, public: Ed25519PublicKey) -> WitnessReading:
        """Every entry, each signature checked against ``public``."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class WitnessSpec:
    kind: str  # file, sqlite, postgresql
    target: str  # a path (file, sqlite) or a libpq URL
    shown: str

    def resolved(self, data_dir: Path) -> WitnessSpec:
        if self.kind == "postgresql" or Path(self.target).is_absolute():
            return self
        return WitnessSpec(self.kind, str(data_dir / self.target), self.shown)

    @property
    def directory(self) -> Path | None:
        return Path(self.target).parent if self.kind != "postgresql" else None


def parse_witness(text: str) -> WitnessSpec:
    """``file:PATH`` / ``file:///abs/path`` / a bare path, ``sqlite:///path``,
    ``postgresql://user@host/db``; ValueError saying what is accepted."""
    text = text.strip()
    if not text:
        raise ValueError("an empty witness")
    scheme, colon, rest = text.partition(":")
    if not colon or len(scheme) == 1 or "/" in scheme:  # a bare path (or C:\ ...)
        return WitnessSpec("file", text, text)
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(text)
        if parts.password:
            raise ValueError(
                f"{redacted(text)}: no password in the witness URL (use PGPASSFILE, or"
                " passfile= in the URL)"
            )
        return WitnessSpec("postgresql", text, redacted(text))
    if scheme in ("file", "sqlite"):
        path = unquote(rest[2:] if rest.startswith("//") else rest)
        if not path:
            raise ValueError(f"{text}: no path")
        if path.startswith("/") and rest.startswith("///"):
            path = "/" + path.lstrip("/")
        return WitnessSpec(scheme, path, text)
    raise ValueError(
        f"{text!r}: a witness is file:PATH (or a path), sqlite:///PATH or postgresql://..."
    )


# -- the file witness -----------------------------------------------------------------------------
def log_file_name(log_id: str) -> str:
    """A log id as part of a file name: ``[A-Za-z0-9_.-]`` kept, the rest %XX (and a leading
    dot), so that two logs never share a name and none names another directory."""
    out = []
    for i, char in enumerate(log_id):
        if _SAFE.fullmatch(char) and not (i == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"%{b:02X}" for b in char.encode())
    return "".join(out) or "%"


@dataclass
class _FileState:
    """What the publisher last read of one witness file (read on from ``offset`` next time)."""

    inode: tuple[int, int] = (0, 0)
    offset: int = 0
    last_hash: str = ""  # SHA-256 of the last complete line: the next line's ``prev``
    latest: dict[str, WitnessEntry] = field(default_factory=dict)


class FileWitness:
    """One JSON line per checkpoint: ``{"v": 1, "prev": ..., "checkpoint": ..., "frontier":
    ..., "witnessed_us": ...}``, ``prev`` the SHA-256 of the line before (``""`` for the first)."""

    def __init__(self, template: str, shown: str = "") -> None:
        self.template = template
        self.shown = shown or template
        self._states: dict[str, _FileState] = {}

    def path_for(self, log_id: str) -> Path:
        return Path(self.template.replace("{log}", log_file_name(log_id)))

    def paths(self) -> list[Path]:
        if "{log}" not in self.template:
            path = Path(self.template)
            return [path] if path.exists() else []
        pattern = glob.escape(self.template).replace(glob.escape("{log}"), "*")
        return sorted(Path(p) for p in glob.glob(pattern))

    def publish(self, entry: WitnessEntry, leaves: Leaves) -> bool:
        path = self.path_for(entry.log_id)
        try:
            new_dir = not path.parent.exists()
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise WitnessError(f"{self.shown}: cannot open {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # workers of one log take turns; released by close
            state = self._read_on(path, fd)
            if not judge(state.latest.get(entry.log_id), entry, leaves):
                return False
            data = {"v": ENTRY_VERSION, "prev": state.last_hash, **entry.as_json()}
            data["witnessed_us"] = time.time_ns() // 1000
            line = orjson.dumps(data) + b"\n"
            if os.fstat(fd).st_size > state.offset:  # a torn line at the end: end it first
                line = b"\n" + line
            _write_all(fd, line)
            os.fsync(fd)
            if new_dir:
                _fsync_dir(path.parent.parent)
            _fsync_dir(path.parent)
            state.offset = os.fstat(fd).st_size
            state.last_hash = hashlib.sha256(line.lstrip(b"\n")).hexdigest()
            state.latest[entry.log_id] = entry
            return True
        except OSError as exc:
            raise WitnessError(f"{self.shown}: cannot write {path}: {exc.strerror}") from None
        finally:
            os.close(fd)

    def _read_on(self, path: Path, fd: int) -> _FileState:
        """The file's state, reading only what was appended since the last time (by another
        worker); from the start if the file is another or shorter than what was read."""
        st = os.fstat(fd)
        state = self._states.get(str(path))
        if state is None or state.inode != (st.st_dev, st.st_ino) or st.st_size < state.offset:
            if state is not None:  # not the file this process appended to: say so
                log.warning("audit witness %s: %s was replaced or cut short", self.shown, path)
            state = _FileState(inode=(st.st_dev, st.st_ino))
            self._states[str(path)] = state
        if st.st_size == state.offset:
            return state
        with path.open("rb") as f:
            f.seek(state.offset)
            data = f.read(st.st_size - state.offset)
        complete = data[: data.rfind(b"\n") + 1]
        for raw in complete.splitlines(keepends=True):
            body = raw.rstrip(b"\n")
            if not body.strip():
                continue
            try:
                entry = WitnessEntry.from_json(orjson.loads(body))
            except (ValueError, orjson.JSONDecodeError):
                if not _torn(body):  # the chain goes on from the line before a torn one
                    state.last_hash = hashlib.sha256(raw).hexdigest()
                continue
            state.last_hash = hashlib.sha256(raw).hexdigest()
            held = state.latest.get(entry.log_id)
            if held is None or entry.size >= held.size:
                state.latest[entry.log_id] = entry
        state.offset += len(complete)
        return state

    def read(self, public: Ed25519PublicKey) -> WitnessReading:
        reading = WitnessReading(self.shown)
        paths = self.paths()
        if not paths:
            reading.notes.append(f"{self.shown}: no witness file yet (nothing witnessed)")
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                reading.problems.append(f"{path}: cannot be read: {exc.strerror}")
                continue
            _check_lines(str(path), data, public, reading)
        return reading

    def close(self) -> None:
        self._states.clear()


def _check_lines(name: str, data: bytes, public: Ed25519PublicKey, out: WitnessReading) -> None:
    """Each line parsed, linked to the line before it, its checkpoint's signature checked and
    sizes per log never going back; a torn line (a write cut short) noted, or a problem at the
    end (the file was cut there)."""
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    previous = ""
    sizes: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            document = orjson.loads(raw)
            entry = WitnessEntry.from_json(document)
            prev = document["prev"]
        except (ValueError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            if _torn(raw):
                out.notes.append(f"{name}: line {number} is a write cut short (a crash?)")
                continue
            out.problems.append(f"{name}: line {number} is not a witnessed checkpoint ({exc})")
            previous = hashlib.sha256(raw + b"\n").hexdigest()
            continue
        if prev != previous:
            out.problems.append(
                f"{name}: line {number} does not follow the line before it (a line was"
                " removed, inserted or edited before it)"
            )
        previous = hashlib.sha256(raw + b"\n").hexdigest()
        cp = entry.checkpoint
        if not cp.verify(public):
            out.problems.append(
                f"{name}: line {number} (log {cp.log_id}, size {group(cp.tree_size)}): the"
                " checkpoint's signature does not verify (edited, or another key)"
            )
            continue
        if fold_root(list(entry.frontier)) != cp.root:
            out.problems.append(f"{name}: line {number}: its frontier does not match its root")
            continue
        if cp.tree_size < sizes.get(cp.log_id, 0):
            out.problems.append(
                f"{name}: line {number}: log {cp.log_id} goes back from"
                f" {group(sizes[cp.log_id])} to {group(cp.tree_size)} records"
            )
        sizes[cp.log_id] = max(cp.tree_size, sizes.get(cp.log_id, 0))
        out.entries.append(entry)
    if tail.strip():
        out.problems.append(
            f"{name}: ends in an incomplete line (line {len(lines) + 1}): the file was"
            " truncated, or its last write cut short"
        )


def _torn(raw: bytes) -> bool:
    """A line that is the start of an entry cut short (then followed by a newline and a whole
    entry, as the next write ends it): not valid JSON, and a prefix of what an entry looks like."""
    return raw.startswith(b'{"v":') and not raw.rstrip().endswith(b"}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be fsynced
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_witnesses(
    witnesses: Sequence[Witness], public: Ed25519PublicKey
) -> Iterator[WitnessReading]:
    """Each witness read and checked; one that cannot be read is a problem of its reading."""
    for witness in witnesses:
        try:
            yield witness.read(public)
        except WitnessError as exc:
            yield WitnessReading(witness.shown, problems=[str(exc)])
