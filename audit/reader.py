"""Reading the trail: search, subject reports, export. What ``jointgate audit`` and a GraphQL
``auditLog`` resolver call (the API is synchronous; from async code use ``asyncio.to_thread``).

Filters on who, agency, purpose, outcome and time use plain columns; case and entity filters
use blind-index terms (the keyed hash of the value), so the database never holds the value
itself; the blind index finds the records for them. Every match is checked again against its
body, which the Merkle tree covers, so an edited search column cannot slip in a record that
does not match.

Example::

    reader = AuditReader(config.new_store(), config.key, config.archive_dir)
    for row in reader.search(SearchFilter(entity="110105198001011234"), limit=50):
        print(row["time"], row["subject"], row["purpose"], row["case_id"])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from audit.archive import read_archive
from audit.keys import DataKey
from audit.record import decode, open_query
from audit.store import SqlStore
from kernel.identifiers import normalize_case_id, normalize_identifier

Position = tuple[int, str, int]  # (received_us, log_id, seq): the order searches return records in
# a field path as records hold it -> the entity type whose data it is ("" for none, such as a
# connection's count); None for a path the schema does not have (any more)
EntityOf = Callable[[str], str | None]
# a field path -> the entity types its value identifies, if it is an identifier (a court case's
# party: Person, Enterprise), so that it counts for those types' subject reports too
IdentitiesOf = Callable[[str], tuple[str, ...]]


def parse_time(value: str) -> int:
    """An ISO 8601 date or time (UTC if no zone) in µs since the epoch; ValueError if not one."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO date or time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1e6)


def position(view: dict[str, Any]) -> Position:
    """Where a decoded record stands in search order (to page on after it)."""
    return int(view["received_us"]), str(view["log_id"]), int(view["seq"])


@dataclass(frozen=True, slots=True)
class SearchFilter:
    user: str | None = None
    agency: str | None = None
    purpose: str | None = None
    case: str | None = None
    entity: str | None = None  # a record key: USCC, resident ID, account or case number, typed any
    # way its scalar accepts (kernel.identifiers.normalize_identifier)
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
        self._terms: dict[str, str] = {}  # entity searched for -> its blind-index term

    def _where(
        self, f: SearchFilter, after: Position | None = None
    ) -> tuple[str, list[Any], str | None]:
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if after is not None:
            clauses.append("(r.received_us, r.log_id, r.seq) > (?, ?, ?)")
            params.extend(after)
        for column, value in (
            ("subject", f.user), ("agency", f.agency), ("purpose", f.purpose),
            ("outcome", f.outcome), ("log_id", f.log_id), ("request_id", f.request_id),
        ):  # fmt: skip
            if value is not None:
                clauses.append(f"r.{column} = ?")
                params.append(value)
        case_term = self._case_term(f)
        if case_term is not None:
            clauses.append("r.case_term = ?")
            params.append(case_term)
        if f.since_us is not None:
            clauses.append("r.received_us >= ?")
            params.append(f.since_us)
        if f.until_us is not None:
            clauses.append("r.received_us < ?")
            params.append(f.until_us)
        # the blind index finds the records: by the entity, else by the case (its term is there)
        term = self._entity_term(f) if f.entity is not None else case_term
        return " AND ".join(clauses), params, term

    def _entity_term(self, f: SearchFilter) -> str | None:
        """The entity's term, of the identifier normalised as the gateway records what was
        looked up (``6212 2661 …`` and ``6212266…`` find the same records); once per search,
        not once per record matched."""
        if f.entity is None:
            return None
        term = self._terms.get(f.entity)
        if term is None:
            term = self._terms[f.entity] = self.key.term(normalize_identifier(f.entity))
        return term

    def _case_term(self, f: SearchFilter) -> str | None:
        """The case's term, of the case id normalised as the gateway records it (X-Case-Id), so
        that the full-width and the ASCII form of a case number find the same records."""
        return None if f.case is None else self.key.term(normalize_case_id(f.case))

    def _matches(self, raw: dict[str, Any], f: SearchFilter, after: Position | None = None) -> bool:
        if after is not None and (raw["received_us"], raw["log"], raw["seq"]) <= after:
            return False
        for field, value in (
            ("subject", f.user), ("agency", f.agency), ("purpose", f.purpose),
            ("outcome", f.outcome), ("log", f.log_id), ("request_id", f.request_id),
        ):  # fmt: skip
            if value is not None and raw.get(field) != value:
                return False
        if f.case is not None and raw.get("case") != self._case_term(f):
            return False
        if f.entity is not None and self._entity_term(f) not in raw.get("entities", ()):
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
        self, f: SearchFilter, limit: int | None = None, archived: bool = False,
        after: Position | None = None,
    ) -> Iterator[dict[str, Any]]:  # fmt: skip
        """Matching records, oldest first (by time received, log, sequence); with ``archived``
        the archive files first; with ``after`` only those past that position (paging)."""
        found = 0
        if archived:
            for body in self._archived(f):
                raw = orjson.loads(body)
                if self._matches(raw, f, after):
                    yield decode(body, self.key)
                    found += 1
                    if limit is not None and found >= limit:
                        return
        where, params, term = self._where(f, after)
        remaining = None if limit is None else limit - found
        for _log, _seq, body in self.store.bodies(where, params, remaining, join_term=term):
            if self._matches(orjson.loads(body), f, after):
                yield decode(body, self.key)

    def search(
        self, f: SearchFilter, limit: int | None = 100, archived: bool = False,
        after: Position | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        return list(self.iter_search(f, limit, archived, after))

    def count(self, f: SearchFilter) -> int:
        """How many records in the database match (for progress bars); archives not counted."""
        where, params, term = self._where(f)
        sql = "SELECT count(*) FROM {records} r"
        if term is not None:
            sql = self.store.hits() + sql + " JOIN hits e ON e.log_id = r.log_id AND e.seq = r.seq"
            params = [*self.store.hits_parameters(term), *params]
        return int(self.store.execute(f"{sql} WHERE {where}", params)[0][0])

    def query_text(self, mac: str) -> str | None:
        sealed = self.store.query_texts([mac]).get(mac)
        return open_query(sealed, mac, self.key) if sealed else None

    def subject_report(
        self, key: str, since_us: int | None = None, until_us: int | None = None,
        archived: bool = True, entity_of: EntityOf | None = None,
        identities_of: IdentitiesOf | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Every access to one person's or enterprise's data: who, when, why, which fields.

        With ``entity_of`` (``schema.audit.field_entities``), the fields of a record that showed
        the subject are only those of the subject's entity types (``shown_as``): a person's
        report lists ``enterprise.legalRepresentative.idNumber``, not the enterprise's name;
        with ``identities_of`` (``schema.audit.field_identities``) also the identifiers that
        showed it inside other records (``courtCase.parties.partyId``).
        Paths the schema no longer has are kept. Records that only looked the key up, and
        every record without ``entity_of``, list all their fields (``fields_of`` says which).
        """
        wanted = normalize_identifier(key).strip().upper()
        rows = []
        f = SearchFilter(entity=key, since_us=since_us, until_us=until_us)
        for r in self.iter_search(f, None, archived):
            returned = r.get("records_returned")
            shown = sorted(
                t for t, keys in (returned.items() if isinstance(returned, dict) else ())
                if isinstance(keys, list) and any(k.strip().upper() == wanted for k in keys)
            )  # fmt: skip
            fields = {
                name: _of_types(r[f"fields_{name}"], shown, entity_of, identities_of)
                for name in ("allowed", "masked", "denied", "withheld")
            }
            decided = r["field_policies"]
            cited = {p: decided[p] for paths in fields.values() for p in paths if p in decided}
            rows.append({
                "time": r["received"], "subject": r["subject"], "agency": r["agency"],
                "roles": r["roles"], "purpose": r["purpose"], "case_id": r["case_id"],
                "justification": r["justification"], "break_glass": r["break_glass"],
                "operation": r["operation_name"], "outcome": r["outcome"], "status": r["status"],
                "shown_as": shown, "looked_up": not shown,
                "fields_of": shown if shown and entity_of is not None else "all",
                "fields_allowed": fields["allowed"], "fields_masked": fields["masked"],
                "fields_denied": fields["denied"], "fields_withheld": fields["withheld"],
                "field_policies": cited,
                "request_id": r["request_id"],
                "log_id": r["log_id"], "seq": r["seq"],
            })  # fmt: skip
        return rows


def _of_types(
    paths: list[str], types: list[str], entity_of: EntityOf | None,
    identities_of: IdentitiesOf | None,
) -> list[str]:  # fmt: skip
    if entity_of is None or not types:
        return paths
    kept = []
    for path in paths:
        owner = entity_of(path)
        if (
            owner is None
            or owner in types
            or (identities_of is not None and any(t in types for t in identities_of(path)))
        ):
            kept.append(path)
    return kept
