"""Checking the records in the database, span by span, in worker processes when the log is large.

A *span* is a range of positions checked on its own: every record is at its position (no gap),
its body starts with its log and position, and hashes to its stored leaf; the span's leaves are
folded into a Merkle frontier, kept at every size where a checkpoint must be met; and, when
asked, the blind index of every complete bucket of the span holds exactly the terms its bodies
list (in SQLite, where buckets are indexed whole, the log's open bucket at its end holds none:
see ``audit.store``; in PostgreSQL it holds its terms too). It also notes which query text
each good record cites (:class:`Citations`), so that a deleted text is found. A span stops at
its first bad record and says what it found.

Spans after the first start at multiples of a power of two (``block``), so the tree of the whole
log at a size inside a span is the tree of everything before the span (perfect subtrees of at
least ``block`` leaves) followed by the span's own frontier: :func:`audit.merkle.fold_root` of
the two is the root, and no leaf is hashed twice. The first span, from where the archives end to
the first multiple of ``block``, is checked in the calling process, on the caller's tree; the
rest in ``workers`` processes.

The blind-index check here is the fast one: per bucket, the database's list of terms for each
position against the body's own ``"entities"`` list (bodies are compared only once their leaf
hashes have matched, so they are the gateway's), and in total the number of entries. Any
difference and :meth:`audit.store.SqlStore.index_problems` is asked to locate it exactly (also
when spans are smaller than a bucket, which only tests do).
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import hashlib
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from audit.merkle import CompactRange
from audit.record import BODY_VERSION
from audit.store import SqlStore

MIN_BLOCK = 1 << 16  # records per worker span, at least
PARALLEL_MIN = 4 * MIN_BLOCK  # fewer live records than this: no worker processes
_ENTITIES = b'"entities":['
# the body's first ``,"query":`` is its own key: nothing before it holds a nested "query" key,
# and a string cannot hold ``,"`` unescaped
_QUERY = b',"query":"'
NAMED = 5  # records named for each query text found missing


@dataclass(slots=True)
class Citations:
    """Who cites each query text (by keyed hash): how many records, and the first few seqs."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, list[int]] = field(default_factory=dict)

    def scan(self, first: int, bodies: Iterable[bytes]) -> None:
        """The query each body cites (none: ``null``, a request refused before its query was
        read); records ``first``, ``first + 1`` ... whose leaf hashes matched: the gateway's.
        About 1 µs a record, most of it finding the key."""
        counts: dict[bytes, int] = {}
        size = len(_QUERY)
        for seq, body in enumerate(bodies, first):
            at = body.find(_QUERY)
            if at < 0:
                continue
            at += size
            mac = body[at : body.find(b'"', at)]
            count = counts.get(mac, 0)
            counts[mac] = count + 1
            if count < NAMED and len(named := self.first.setdefault(mac.decode(), [])) < NAMED:
                named.append(seq)
        for mac, count in counts.items():
            key = mac.decode()
            self.counts[key] = self.counts.get(key, 0) + count

    def update(self, other: Citations) -> None:
        """Add the citations of records after these (a later span)."""
        for mac, count in other.counts.items():
            named = self.first.setdefault(mac, [])
            named.extend(other.first[mac][: NAMED - len(named)])
            self.counts[mac] = self.counts.get(mac, 0) + count

    def missing(self, stored: set[str]) -> list[str]:
        """A problem for each text cited and not stored (the first NAMED texts, in log order),
        naming the records that cite it."""
        lost = sorted(self.counts.keys() - stored, key=lambda m: self.first[m][0])
        problems = []
        for mac in lost[:NAMED]:
            first, count = self.first[mac], self.counts[mac]
            named = ", ".join(str(seq) for seq in first)
            if count > len(first):
                named += f" and {count - len(first)} more"
            who = f"records {named} cite" if count > 1 else f"record {named} cites"
            problems.append(f"query {mac}: its text is missing (deleted?); {who} it")
        if len(lost) > NAMED:
            more = len(lost) - NAMED
            what = "query lost its" if more == 1 else "queries lost their"
            problems.append(f"{more} more {what} text too")
        return problems


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(slots=True)
class Span:
    start: int
    local: bool  # the frontiers are the span's own (a worker's), not the log's
    size: int = 0  # records found good from ``start``
    stops: list[tuple[int, list[bytes]]] = field(default_factory=list)  # (log size, frontier)
    nodes: list[bytes] = field(default_factory=list)  # the frontier at start + size
    problem: str = ""
    terms: int = 0  # blind-index terms the bodies of the span's complete buckets list
    index_ok: bool = True  # each bucket's entries were checked and were the bodies' terms
    citations: Citations = field(default_factory=Citations)  # of the span's good records


def check_span(
    store: SqlStore,
    log_id: str,
    start: int,
    end: int | None,
    stops: Sequence[int],
    tree: CompactRange | None = None,
    index: bool = True,
) -> Span:
    """Records ``start`` up to ``end`` (None: to the log's end) grown onto ``tree`` (the log's
    tree of ``start`` leaves), or onto a tree of their own when ``tree`` is None."""
    span = Span(start, local=tree is None, index_ok=index)
    tree = CompactRange() if tree is None else tree
    offset = start - tree.size  # log size = tree.size + offset
    head = b'{"v":%d,"log":%s,"seq":' % (BODY_VERSION, orjson.dumps(log_id))
    sha256 = hashlib.sha256
    pending: dict[int, bytes] = {}  # position -> terms its body lists, until its bucket is done
    per_bucket = store.entity_bucket
    bucket = start // per_bucket  # the next bucket to check
    expected = start
    # the index is read on a connection of its own: a PostgreSQL one is busy streaming rows
    lookup = copy.copy(store)
    with (
        contextlib.closing(store.scan_chunks(log_id, start, end=end)) as chunks,
        contextlib.closing(lookup),
    ):
        for rows in chunks:
            n = len(rows)
            bad, problem = n, ""
            if rows[-1][0] != expected + n - 1:  # seq is unique and ascending: a gap
                bad = next(i for i, row in enumerate(rows) if row[0] != expected + i)
                problem = f"records {expected + bad}..{rows[bad][0] - 1} are missing (deleted)"
            placed = [body.startswith(b"%b%d," % (head, seq)) for seq, _, body in rows[:bad]]
            if not all(placed):
                bad = placed.index(False)
                problem = (
                    f"record {rows[bad][0]}: its body belongs to another position"
                    " (inserted or reordered)"
                )
            leaves = [sha256(b"\x00" + body).digest() for _, _, body in rows[:bad]]
            if leaves != [stored for _, stored, _ in rows[:bad]]:
                bad = next(i for i, leaf in enumerate(leaves) if leaf != rows[i][1])
                problem = (
                    f"record {rows[bad][0]}: altered (its body no longer matches its leaf hash)"
                )
                del leaves[bad:]
            _grow(tree, leaves, stops, offset, span.stops)
            span.citations.scan(expected, (body for _, _, body in rows[:bad]))
            if problem:
                span.problem = problem
                break
            expected += n
            if index:
                # from the end: past "entities" come only fixed keys, numbers, codes and the
                # sealed (base64) part, and no string holds the key unescaped
                lists = [
                    body[(i := body.rfind(_ENTITIES)) + len(_ENTITIES) : body.find(b"]", i)]
                    for _, _, body in rows
                ]
                pending.update(zip([row[0] for row in rows], lists, strict=True))
                while (bucket + 1) * per_bucket <= expected:
                    ok, terms = _bucket_check(lookup, log_id, bucket, per_bucket, pending)
                    span.index_ok &= ok
                    span.terms += terms
                    bucket += 1
        else:
            if end is not None and expected < end:  # the rows ran out before the span's end
                after = lookup.first_seq(log_id, expected)  # not on the streaming connection
                if after is not None:
                    span.problem = f"records {expected}..{after - 1} are missing (deleted)"
            if index and not span.problem and bucket * per_bucket < expected:
                if lookup.whole_buckets:  # the log's open bucket: indexed once complete
                    span.index_ok &= not lookup.bucket_terms(log_id, bucket)
                else:
                    ok, terms = _bucket_check(lookup, log_id, bucket, per_bucket, pending)
                    span.index_ok &= ok
                    span.terms += terms
    span.size = tree.size + offset - start
    span.nodes = list(tree.nodes)
    return span


def _grow(
    tree: CompactRange, leaves: list[bytes], stops: Sequence[int], offset: int,
    out: list[tuple[int, list[bytes]]],
) -> None:  # fmt: skip
    """Extend ``tree`` by ``leaves``, keeping its frontier at every log size in ``stops``
    (sorted) on the way."""
    base = tree.size
    first = bisect.bisect_right(stops, base + offset)
    last = bisect.bisect_right(stops, base + len(leaves) + offset)
    for stop in stops[first:last]:
        tree.extend(leaves[tree.size - base : stop - offset - base])
        out.append((stop, list(tree.nodes)))
    tree.extend(leaves[tree.size - base :])


def _bucket_check(
    store: SqlStore, log_id: str, bucket: int, per_bucket: int, pending: dict[int, bytes]
) -> tuple[bool, int]:
    """Whether the index's entries of ``bucket`` are the terms its bodies list, position by
    position (the sets of ``term:seq`` pairs are equal; neither side has duplicates: the
    index's primary key and the bodies' sorted sets), and how many terms the bodies list.
    ``pending`` gives the bucket's positions up."""
    lo = bucket * per_bucket
    own = [
        lists.replace(b'"', b"").replace(b",", b":%d," % seq) + b":%d" % seq
        for seq in range(lo, lo + per_bucket)
        if (lists := pending.pop(seq, b""))
    ]
    listed = store.bucket_terms(log_id, bucket)
    pairs = set(b",".join(own).split(b",")) - {b""}
    return pairs == set(listed.split(b",")) - {b""}, len(pairs)


def spans(
    store: SqlStore, log_id: str, tree: CompactRange, stops: Sequence[int], size: int,
    index: bool, workers: int, block: int | None = None,
) -> Iterator[Span]:  # fmt: skip
    """The live records from ``tree.size`` on, span by span in log order (``size``: how many
    the log should hold, to plan the spans; records beyond are checked all the same). The
    caller stops at the first span with a problem or that ends short."""
    start = tree.size
    if block is None:
        if workers < 2 or size - start < PARALLEL_MIN:
            yield check_span(store, log_id, start, None, stops, tree, index)
            return
        block = max(MIN_BLOCK, 1 << (((size - start) // (4 * workers)).bit_length() - 1))
    if block < 1 or block & (block - 1):
        raise ValueError(f"span block {block}: a power of two")
    index = index and block % store.entity_bucket == 0  # else buckets straddle spans: exact check
    first_end = -(-start // block) * block
    bounds: list[tuple[int, int | None]] = [
        (lo, lo + block) for lo in range(first_end, max(size, first_end + 1), block)
    ]
    bounds[-1] = (bounds[-1][0], None)
    pool = ProcessPoolExecutor(workers, mp_context=_context())
    try:
        futures: list[Future[Span]] = [
            pool.submit(check_span, store, log_id, lo, hi, _within(stops, lo, hi), None, index)
            for lo, hi in bounds
        ]
        if first_end > start:
            first = check_span(store, log_id, start, first_end, stops, tree, index)
            yield first
            if first.problem or first.size < first_end - start:
                return
        for (lo, hi), future in zip(bounds, futures, strict=True):
            span = future.result()
            yield span
            if span.problem or (hi is not None and span.size < hi - lo):
                return
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _within(stops: Sequence[int], lo: int, hi: int | None) -> list[int]:
    """The stops a span from ``lo`` to ``hi`` passes: sizes in (lo, hi]."""
    first = bisect.bisect_right(stops, lo)
    return list(stops[first : len(stops) if hi is None else bisect.bisect_right(stops, hi)])


def _context() -> Any:
    """Fork where it is safe (one thread: the CLI) and cheap; otherwise a fork server."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
