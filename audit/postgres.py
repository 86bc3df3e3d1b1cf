"""PostgreSQL: the store for replicated gateways; every table in one schema of its own.

Appends take a transaction-scoped advisory lock on the log, so writers that share a log wait
for each other instead of forking it; each replica normally writes its own log (docs/audit.md).
Connections are psycopg 3 in autocommit mode with explicit transactions; long reads stream. A
connection that broke (a server restart, ``pg_terminate_backend``) shows as ``broken`` after the
error it caused: the append that met it connects again and runs once more (``SqlStore.append``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from audit.errors import AuditConfigError
from audit.store import GENERATED, SqlStore

_APPEND_ONLY = """CREATE OR REPLACE FUNCTION "SCHEMA".append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'records' AND OLD.seq < COALESCE(
      (SELECT max(end_seq) FROM "SCHEMA".archives WHERE log_id = OLD.log_id), 0) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the audit trail is append-only';
END $$"""
_BODY_JSON_SOURCE = "SELECT convert_from($1, 'UTF8')::jsonb"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresStore(SqlStore):
    name = "postgres"
    param = "%s"
    blob = "BYTEA"
    body_type = "BYTEA"

    def __init__(self, dsn: str, schema: str = "jointgate_audit") -> None:
        super().__init__()
        if not _IDENTIFIER.match(schema):
            raise AuditConfigError(
                f"audit.postgres_schema: {schema!r} is not a plain lower-case SQL identifier"
            )
        self.dsn = dsn
        self.schema = schema

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r})"

    def _table(self, name: str) -> str:
        return f'"{self.schema}".{name}'

    def _connect(self) -> Any:
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)

    def _disconnected(self, exc: BaseException) -> bool:
        conn = self._conn
        return isinstance(exc, psycopg.OperationalError) and conn is not None and conn.broken

    def secrets(self) -> list[str]:
        try:
            password = conninfo_to_dict(self.dsn).get("password")
        except psycopg.ProgrammingError:  # not a DSN psycopg can parse: connecting says so
            return []
        return [str(password)] if password else []

    def _begin_append(self, conn: Any, log_id: str) -> None:
        conn.execute("BEGIN")
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{self.schema}/{log_id}",)
        )

    def _insert_many(
        self, cur: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        with cur.copy(f"COPY {self._table(table)} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _begin_schema(self, conn: Any) -> None:
        conn.execute("BEGIN")  # replicas starting together create the schema one at a time
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (self.schema,))

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        with self.connection().cursor() as cur:
            yield from cur.stream(sql, params, binary=True, size=2000)  # chunked: libpq >= 17

    def schema_statements(self) -> list[str]:
        return [
            f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"',
            # convert_from is only STABLE; with the encoding named it cannot vary
            f'CREATE OR REPLACE FUNCTION "{self.schema}".body_json(bytea) RETURNS jsonb'
            f" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ {_BODY_JSON_SOURCE} $$",
            *super().schema_statements(),
        ]

    def _extra_schema(self) -> list[str]:
        s = self.schema
        return [
            _APPEND_ONLY.replace("SCHEMA", s),
            f"CREATE OR REPLACE TRIGGER records_append_only BEFORE UPDATE OR DELETE"
            f' ON {{records}} FOR EACH ROW EXECUTE FUNCTION "{s}".append_only()',
            f"CREATE OR REPLACE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE"
            f' ON {{checkpoints}} FOR EACH ROW EXECUTE FUNCTION "{s}".append_only()',
        ]

    def drop_schema(self) -> None:
        self.connection().execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def _generated(self, key: str, sql_type: str) -> str:
        cast = "::bigint" if sql_type == "BIGINT" else ""
        return f"(\"{self.schema}\".body_json(body) ->> '{key}'){cast}"

    def _terms_join(self) -> str:
        return (
            f'CROSS JOIN LATERAL jsonb_array_elements_text("{self.schema}".body_json(r.body)'
            " -> 'entities') AS j(value)"
        )

    def _aggregate_terms(self) -> str:
        return "convert_to(string_agg(term || ':' || seq, ','), 'UTF8')"

    def _body_contains(self) -> str:
        return "position(convert_to(?, 'UTF8') in r.body) > 0"

    def _bucket_probe(self) -> str:
        return (
            "SELECT b.log_id, e.seq FROM buckets b CROSS JOIN LATERAL (SELECT seq FROM"
            " {entities} x WHERE x.log_id = b.log_id AND x.bucket = b.bucket AND x.term = ?) e"
        )

    def _index(self, name: str) -> str:
        return f'"{self.schema}".{name}'

    def _columns(self, table: str) -> set[str]:
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ?",
            (self.schema, table),
        )
        return {str(r[0]) for r in rows}

    def schema_problems(self) -> list[str]:
        problems = []
        source = self.execute(
            "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = ? AND p.proname = 'body_json'",
            (self.schema,),
        )
        if [r[0].strip() for r in source] != [_BODY_JSON_SOURCE]:
            problems.append("the function that derives search columns from bodies was changed")
        columns = {
            name: (generated, expression or "")
            for name, generated, expression in self.execute(
                "SELECT column_name, is_generated, generation_expression"
                " FROM information_schema.columns"
                " WHERE table_schema = ? AND table_name = 'records'",
                (self.schema,),
            )
        }
        for column, key, _type in GENERATED:
            generated, expression = columns.get(column, ("NEVER", ""))
            if (
                generated != "ALWAYS"
                or "body_json(body)" not in expression
                or f"'{key}'" not in expression
            ):
                problems.append(f"records.{column} is no longer generated from the body")
        return problems
