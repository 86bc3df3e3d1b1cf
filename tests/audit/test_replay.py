"""Verify's spans (audit.replay): a log split at aligned positions, checked in worker
processes, gives the frontiers and roots of the whole log; a start inside a span (where the
archives end) is checked in this process first."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from audit import replay
from audit.append import append_records
from audit.merkle import CompactRange, fold_root, root_of
from audit.replay import check_span, spans
from tests.audit.conftest import make_config, record


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_spans_in_workers_fold_to_the_roots_of_the_whole_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    """Workers are forked from a process with one thread (the CLI), else started by a fork
    server: the same spans either way."""
    context = multiprocessing.get_context(start_method)
    monkeypatch.setattr(replay, "_context", lambda: context)
    config = make_config(tmp_path, checkpoint_every=10)
    store = config.new_store()
    store.create_schema()
    append_records(config, store, [record(i) for i in range(45)])
    leaves = store.leaves(config.log_id, 0, 45)
    stops = [7, 10, 16, 23, 45]
    try:
        tree = CompactRange()
        tree.extend(leaves[:5])  # as if records 0..4 were archived
        found = list(spans(store, config.log_id, tree, stops, 45, True, workers=2, block=8))
        assert [(s.start, s.local, s.size) for s in found] == [
            (5, False, 3), (8, True, 8), (16, True, 8), (24, True, 8), (32, True, 8),
            (40, True, 5),
        ]  # fmt: skip
        assert not any(s.problem for s in found)
        roots = {}
        for span in found:
            prefix = tree.nodes if span.local else []
            roots.update({size: fold_root(prefix + nodes) for size, nodes in span.stops})
            if span.local:
                tree.append_range(span.size, span.nodes)
        assert roots == {size: root_of(leaves[:size]) for size in stops}
        assert tree.size == 45 and tree.root() == root_of(leaves)
        # smaller than a bucket, spans cannot check the index: the exact check is left to do
        assert not any(s.index_ok for s in found)
        [whole] = spans(store, config.log_id, CompactRange(), stops, 45, True, workers=1)
        # one process: 45 records are the log's open bucket, not indexed yet (nothing to count)
        assert whole.index_ok and whole.size == 45 and whole.terms == 0
        with pytest.raises(ValueError, match="a power of two"):
            list(spans(store, config.log_id, CompactRange(), stops, 45, True, 2, block=12))
    finally:
        store.close()


def test_a_span_that_ends_early_says_whether_records_follow(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    store = config.new_store()
    store.create_schema()
    append_records(config, store, [record(i) for i in range(20)])
    try:
        span = check_span(store, config.log_id, 16, 32, [])
        assert (span.size, span.problem) == (4, "")  # the log ends there
        store.execute("DELETE FROM {entities}")
        store.connection().execute("DROP TRIGGER records_no_delete")
        store.execute("DELETE FROM {records} WHERE seq >= 4 AND seq < 8")
        span = check_span(store, config.log_id, 0, 6, [])
        assert (span.size, span.problem) == (4, "records 4..7 are missing (deleted)")
    finally:
        store.close()
