"""Archive bookkeeping: the archive files a log's records were moved to (retention), and the
deletion of those records from the database once their file is listed."""

from __future__ import annotations

from dataclasses import dataclass

from audit.store.base import SqlBase


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    log_id: str
    first_seq: int
    end_seq: int
    file: str
    sha256: str
    prev_sha256: str
    created_us: int


class Archives(SqlBase):
    """The ``archives`` table and the records it lets go."""

    def archives(self, log_id: str) -> list[ArchiveEntry]:
        rows = self.execute(
            "SELECT log_id, first_seq, end_seq, file, sha256, prev_sha256, created_us"
            " FROM {archives} WHERE log_id = ? ORDER BY first_seq",
            (log_id,),
        )
        return [ArchiveEntry(*r) for r in rows]

    # -- retention --------------------------------------------------------------------------
    def add_archive(self, entry: ArchiveEntry, chunk: int = 20_000) -> None:
        """Record an archive file, then delete the records it holds in small transactions."""
        conn = self.connection()
        try:
            self._begin_append(conn, entry.log_id)
            conn.execute(
                self.sql(
                    "INSERT INTO {archives} (log_id, first_seq, end_seq, file, sha256,"
                    " prev_sha256, created_us) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (entry.log_id, entry.first_seq, entry.end_seq, entry.file, entry.sha256,
                 entry.prev_sha256, entry.created_us),
            )  # fmt: skip
            self._commit()
        except BaseException:
            self._rollback()
            raise
        for lo in range(entry.first_seq, entry.end_seq, chunk):
            hi = min(lo + chunk, entry.end_seq)
            try:
                conn = self.connection()
                self._begin_append(conn, entry.log_id)
                conn.execute(
                    self.sql(
                        "DELETE FROM {entities} WHERE log_id = ? AND bucket >= ? AND bucket <= ?"
                        " AND seq >= ? AND seq < ?"
                    ),
                    (
                        entry.log_id,
                        lo // self.entity_bucket,
                        (hi - 1) // self.entity_bucket,
                        lo,
                        hi,
                    ),
                )
                conn.execute(
                    self.sql("DELETE FROM {records} WHERE log_id = ? AND seq >= ? AND seq < ?"),
                    (entry.log_id, lo, hi),
                )
                self._commit()
            except BaseException:
                self._rollback()
                raise
