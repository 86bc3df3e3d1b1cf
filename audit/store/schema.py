"""The store's tables: creating them, bringing an earlier layout to the current one, and checking
that the live definitions and the blind index are still ours (``audit verify``)."""

from __future__ import annotations

from typing import Any

from audit.store.base import GENERATED, SqlBase


class Schema(SqlBase):
    """Tables, migrations and the checks of their definitions."""

    def schema_problems(self) -> list[str]:
        """Differences between the live table definitions and ours (generated columns)."""
        raise NotImplementedError

    def _begin_schema(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _extra_schema(self) -> list[str]:
        return []

    def index_problems(self, log_id: str) -> list[str]:
        """The table definitions are ours and the blind index holds exactly the terms of the
        bodies in complete buckets (none of the open one): counted in the database, located
        record by record only when counts differ."""
        problems = self.schema_problems()
        end = self.indexed_end(log_id)
        listed = self.execute(
            "SELECT count(*) FROM {records} r {terms} WHERE r.log_id = ? AND r.seq < ?",
            (log_id, end),
        )
        indexed = self.execute("SELECT count(*) FROM {entities} WHERE log_id = ?", (log_id,))
        matched = self.execute(
            "SELECT count(*) FROM {records} r {terms} JOIN {entities} e ON e.log_id = r.log_id"
            " AND e.bucket = r.seq / {bucket} AND e.term = j.value AND e.seq = r.seq"
            " WHERE r.log_id = ? AND r.seq < ?",
            (log_id, end),
        )
        if matched != listed:
            rows = self.execute(
                "SELECT r.seq, j.value FROM {records} r {terms} WHERE r.log_id = ?"
                " AND r.seq < ? AND NOT EXISTS (SELECT 1 FROM {entities} e"
                " WHERE e.log_id = r.log_id AND e.bucket = r.seq / {bucket}"
                " AND e.term = j.value AND e.seq = r.seq) ORDER BY r.seq LIMIT 1",
                (log_id, end),
            )
            seq, term = rows[0] if rows else ("?", "?")
            problems.append(f"record {seq}: blind-index entry {term} is missing")
        if indexed != matched:
            rows = self.execute(
                "SELECT e.seq, e.term, e.bucket <> e.seq / {bucket} FROM {entities} e"
                " WHERE e.log_id = ? AND (e.bucket <> e.seq / {bucket} OR e.seq >= ?"
                " OR NOT EXISTS (SELECT 1 FROM {records} r {terms} WHERE r.log_id = e.log_id"
                " AND r.seq = e.seq AND j.value = e.term)) ORDER BY e.seq LIMIT 1",
                (log_id, end),
            )
            seq, term, misplaced = rows[0] if rows else ("?", "?", False)
            where = "is in another bucket" if misplaced else "is not in it"
            if not misplaced and isinstance(seq, int) and seq >= end:
                where = "is in the open bucket (indexed before its bucket was complete)"
            problems.append(f"record {seq}: blind-index entry {term} {where}")
        return problems

    def schema_statements(self) -> list[str]:
        b = self.blob
        return [
            self.records_table(),
            "CREATE INDEX IF NOT EXISTS records_request ON {records} (request_id)",
            "CREATE INDEX IF NOT EXISTS records_received ON {records} (received_us)",
            "CREATE INDEX IF NOT EXISTS records_subject ON {records} (subject, received_us)",
            # searches by case go through the blind index, which holds the case's term
            f"DROP INDEX IF EXISTS {self._index('records_case')}",
            self.entities_table(),
            "CREATE TABLE IF NOT EXISTS {queries} (mac TEXT PRIMARY KEY, sealed TEXT NOT NULL)",
            f"""CREATE TABLE IF NOT EXISTS {{heads}} (
                log_id TEXT PRIMARY KEY, tree_size BIGINT NOT NULL, frontier {b} NOT NULL,
                root {b} NOT NULL, timestamp_us BIGINT NOT NULL, key_id TEXT NOT NULL,
                signature {b} NOT NULL, kept_us BIGINT NOT NULL)""",
            f"""CREATE TABLE IF NOT EXISTS {{checkpoints}} (
                log_id TEXT NOT NULL, tree_size BIGINT NOT NULL, root {b} NOT NULL,
                timestamp_us BIGINT NOT NULL, key_id TEXT NOT NULL, signature {b} NOT NULL,
                PRIMARY KEY (log_id, tree_size))""",
            """CREATE TABLE IF NOT EXISTS {archives} (
                log_id TEXT NOT NULL, first_seq BIGINT NOT NULL, end_seq BIGINT NOT NULL,
                file TEXT NOT NULL, sha256 TEXT NOT NULL, prev_sha256 TEXT NOT NULL,
                created_us BIGINT NOT NULL, PRIMARY KEY (log_id, first_seq))""",
            """CREATE TABLE IF NOT EXISTS {heartbeats} (
                log_id TEXT PRIMARY KEY, written_us BIGINT NOT NULL)""",
            *self._extra_schema(),
        ]

    def entities_table(self, name: str = "{entities}") -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {name} (term TEXT NOT NULL, log_id TEXT NOT NULL,"
            " seq BIGINT NOT NULL, bucket BIGINT NOT NULL,"
            f" PRIMARY KEY (log_id, bucket, term, seq)){self.index_table_options}"
        )

    def _index(self, name: str) -> str:
        """An index's name as DROP INDEX wants it."""
        return name

    def _columns(self, table: str) -> set[str]:
        """The columns of one of our tables (empty if it does not exist)."""
        raise NotImplementedError

    def _migrate(self, conn: Any) -> None:
        """Bring tables written by an earlier version to the current layout (in the schema
        transaction). The first layout of the blind index had no buckets: it is rebuilt."""
        columns = self._columns("entities")
        if columns and "bucket" not in columns:
            old = self._table("entities_unbucketed")
            conn.execute(f"ALTER TABLE {self._table('entities')} RENAME TO entities_unbucketed")
            conn.execute(self.sql(self.entities_table()))
            conn.execute(
                self.sql(
                    "INSERT INTO {entities} (term, log_id, seq, bucket)"  # noqa: S608
                    f" SELECT term, log_id, seq, seq / {{bucket}} FROM {old}"
                    " ORDER BY log_id, seq / {bucket}, term, seq"
                )
            )
            conn.execute(f"DROP TABLE {old}")

    def records_table(self) -> str:
        generated = ", ".join(
            f"{column} {sql_type} GENERATED ALWAYS AS ({self._generated(key, sql_type)}) STORED"
            for column, key, sql_type in GENERATED
        )
        return (
            "CREATE TABLE IF NOT EXISTS {records} (log_id TEXT NOT NULL, seq BIGINT NOT NULL,"
            f" leaf {self.blob} NOT NULL, body {self.body_type} NOT NULL, {generated},"
            " PRIMARY KEY (log_id, seq))"
        )

    def create_schema(self) -> None:
        conn = self.connection()
        self._begin_schema(conn)
        try:
            self._migrate(conn)
            for statement in self.schema_statements():
                conn.execute(self.sql(statement))
            # trails written before buckets were indexed whole have entries in the open bucket
            if self.whole_buckets:
                heads = conn.execute(self.sql("SELECT log_id, tree_size FROM {heads}"))
                for log_id, size in heads.fetchall():
                    conn.execute(
                        self.sql("DELETE FROM {entities} WHERE log_id = ? AND bucket >= ?"),
                        (log_id, size // self.entity_bucket),
                    )
            self._commit()
        except BaseException:
            self._rollback()
            raise

    def indexed_end(self, log_id: str) -> int:
        """Where the records the blind index holds end: with ``whole_buckets``, where the log's
        open bucket starts (records from there on are found by scanning their bodies)."""
        rows = self.execute("SELECT tree_size FROM {heads} WHERE log_id = ?", (log_id,))
        size = int(rows[0][0]) if rows else 0
        return size - size % self.entity_bucket if self.whole_buckets else size
