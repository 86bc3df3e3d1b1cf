"""Reading the trail: search, subject reports, export. What ``jointgate audit`` and a GraphQL
``auditLog`` resolver call (the API is synchronous; from async code use ``asyncio.to_thread``).

Filters on who, agency, purpose, outcome and time use plain columns; case and entity filters
use blind-index terms (the keyed hash of the value), so the database never holds the value
itself. Every match is checked again against its body, which the Merkle tree covers, so an
edited search column cannot slip in a record that does not match.

Example::

    reader = AuditReader(config.new_store(), config.key, config.archive_dir)
    for row in reader.search(SearchFilter(entity="110105198001011234"), limit=50):
        print(row["time"], row["subject"], row["purpose"], row["case_id"])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from audit.archive import read_archive
from audit.keys import DataKey
from audit.record import decode, open_query
from audit.store import SqlStore


@dataclass(frozen=True, slots=True)
class SearchFilter:
    user: str | None = None
    agency: str | None = None
    purpose: str | None = None
    case: str | None = None
    entity: str | None = None  # a record key: USCC, resident ID, account or case number
    outcome: str | None = None
    since_us: int | None = None  # received at or after
    until_us: int | None = None  # received before
    log_id: str | None = None
    request_id: str | None = None

    def as_variables(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class AuditReader:
    def __init__(self, store: SqlStore, key: DataKey, archive_dir: Path | None = None) -> None:
        self.store = store
        self.key = key
        self.archive_dir = archive_dir

    def _where(self, f: SearchFilter) -> tuple[str, list[Any], str | None]:
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        for column, value in (
            ("subject", f.user), ("agency", f.agency), ("purpose", f.purpose),
            ("outcome", f.outcome), ("log_id", f.log_id), ("request_id", f.request_id),
        ):  # fmt: skip
            if value is not None:
                clauses.append(f"r.{column} = ?")
                params.append(value)
        if f.case is not None:
            clauses.append("r.case_term = ?")
            params.append(self.key.term(f.case))
        if f.since_us is not None:
            clauses.append("r.received_us >= ?")
            params.append(f.since_us)
        if f.until_us is not None:
            clauses.append("r.received_us < ?")
            params.append(f.until_us)
        term = self.key.term(f.entity) if f.entity is not None else None
        return " AND ".join(clauses), params, term

    def _matches(self, raw: dict[str, Any], f: SearchFilter) -> bool:
        for field, value in (
            ("subject", f.user), ("agency", f.agency), ("purpose", f.purpose),
            ("outcome", f.outcome), ("log", f.log_id), ("request_id", f.request_id),
        ):  # fmt: skip
            if value is not None and raw.get(field) != value:
                return False
        if f.case is not None and raw.get("case") != self.key.term(f.case):
            return False
        if f.entity is not None and self.key.term(f.entity) not in raw.get("entities", ()):
            return False
        if f.since_us is not None and raw["received_us"] < f.since_us:
            return False
        return f.until_us is None or raw["received_us"] < f.until_us

    def _archived(self, f: SearchFilter) -> Iterator[bytes]:
        if self.archive_dir is None:
            return
        for log_id in self.store.log_ids():
            if f.log_id is not None and log_id != f.log_id:
                continue
            for entry in self.store.archives(log_id):
                _header, bodies = read_archive(self.archive_dir / entry.file)
                yield from bodies

    def iter_search(
        self, f: SearchFilter, limit: int | None = None, archived: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Matching records, oldest first; with ``archived`` the archive files first."""
        found = 0
        if archived:
            for body in self._archived(f):
                raw = orjson.loads(body)
                if self._matches(raw, f):
                    yield decode(body, self.key)
                    found += 1
                    if limit is not None and found >= limit:
                        return
        where, params, term = self._where(f)
        remaining = None if limit is None else limit - found
        for _log, _seq, body in self.store.bodies(where, params, remaining, join_term=term):
            if self._matches(orjson.loads(body), f):
                yield decode(body, self.key)

    def search(
        self, f: SearchFilter, limit: int | None = 100, archived: bool = False
    ) -> list[dict[str, Any]]:
        return list(self.iter_search(f, limit, archived))

    def count(self, f: SearchFilter) -> int:
        """How many records in the database match (for progress bars); archives not counted."""
        where, params, term = self._where(f)
        sql = "SELECT count(*) FROM {records} r"
        if term is not None:
            sql = (
                "WITH hits AS MATERIALIZED (SELECT log_id, seq FROM {entities} WHERE term = ?) "  # noqa: S608
                + sql
                + " JOIN hits e ON e.log_id = r.log_id AND e.seq = r.seq"
            )
            params = [term, *params]
        return int(self.store.execute(f"{sql} WHERE {where}", params)[0][0])

    def query_text(self, mac: str) -> str | None:
        sealed = self.store.query_texts([mac]).get(mac)
        return open_query(sealed, mac, self.key) if sealed else None

    def subject_report(
        self, key: str, since_us: int | None = None, until_us: int | None = None,
        archived: bool = True,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Every access to one person's or enterprise's data: who, when, why, which fields."""
        wanted = key.strip().upper()
        rows = []
        f = SearchFilter(entity=key, since_us=since_us, until_us=until_us)
        for r in self.iter_search(f, None, archived):
            returned = r.get("records_returned")
            shown = sorted(
                t for t, keys in (returned.items() if isinstance(returned, dict) else ())
                if isinstance(keys, list) and any(k.strip().upper() == wanted for k in keys)
            )  # fmt: skip
            rows.append({
                "time": r["received"], "subject": r["subject"], "agency": r["agency"],
                "roles": r["roles"], "purpose": r["purpose"], "case_id": r["case_id"],
                "justification": r["justification"], "break_glass": r["break_glass"],
                "operation": r["operation_name"], "outcome": r["outcome"], "status": r["status"],
                "shown_as": shown, "looked_up": not shown,
                "fields_allowed": r["fields_allowed"], "fields_masked": r["fields_masked"],
                "fields_denied": r["fields_denied"], "request_id": r["request_id"],
                "log_id": r["log_id"], "seq": r["seq"],
            })  # fmt: skip
        return rows
