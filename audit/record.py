"""The stored form of an audit record: what goes into the log and what the leaf hash covers.

:class:`kernel.types.AuditRecord` holds personal data in clear. Storing it takes two steps:

- :func:`prepare` (any time, no sequence number yet): blind-index terms for every record key
  shown and every string the caller looked up (variables and query literals; an identifier in
  the form its scalar normalises it to, as searches look it up), keyed hashes of
  variables and of the normalised query, the query text sealed once per hash, and the personal
  fields serialised for sealing;
- :func:`seal` (inside the store's transaction, once the sequence number is known): the JSON
  body that starts ``{"v":1,"log":...,"seq":...`` so that the leaf hash commits to the log and
  position; the personal fields inside it are encrypted under AES-GCM bound to the record.

Personal data in the body exists only inside ``sealed``; everything else is safe to read with
the database alone. :func:`decode` turns a body back into the auditor's view, bodies of every
version-1 form alike: keys added later (``fields.policies``, ``fields.withheld``, ``changes``)
read as empty where absent, so a trail written before them still verifies and reads unchanged.
A mutation's ``changes`` (kernel.workflow.Change: entity, action, the states before and after,
whether an idempotent replay) are in the body; the ids of the leads and cases they changed are
sealed with the other keys, and blind-indexed so that a search by a lead's id finds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from audit.checkpoint import iso_us
from audit.errors import AuditKeyError
from audit.keys import DataKey
from audit.merkle import leaf_hash
from kernel.identifiers import normalize_identifier
from kernel.types import AuditRecord

BODY_VERSION = 1
MAX_TERMS = 512  # blind-index terms per record; more are still sealed, just not searchable
# a change's fields in the body (kernel.workflow.Change): states, never the lead's or case's id
CHANGE_STATES = ("entity", "action", "before", "after", "replayed")
MAX_LITERAL = 64  # longer strings in variables or the query are not taken for record keys

# a GraphQL string (block or plain) is kept; whitespace, commas and comments become one space
_QUERY_TOKENS = re.compile(
    r'("""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*")|(?:[\s,]+|#[^\n\r]*)+'
)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def normalise_query(text: str) -> str:
    """The query as hashed and stored: insignificant whitespace, commas and comments collapsed."""
    return _QUERY_TOKENS.sub(lambda m: m.group(1) if m.group(1) is not None else " ", text).strip()


def _query_literals(text: str) -> list[str]:
    out = []
    for match in _STRING.finditer(text):
        try:
            value = orjson.loads(match.group(0))
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, str):
            out.append(normalize_identifier(value))
    return out


def _strings(value: Any, out: list[str]) -> None:
    """Every string in a variables value, an identifier as its scalar normalises it (what the
    agency was asked for, and what a search for it looks up: kernel.identifiers)."""
    if isinstance(value, str):
        out.append(normalize_identifier(value))
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


@dataclass(slots=True)
class Prepared:
    """One record ready to be sealed; holds no personal data in clear except in ``secret``."""

    received_us: int
    request_id: str
    subject: str | None
    agency: str | None
    purpose: str | None
    outcome: str
    case_term: str | None
    terms: list[str]
    query_mac: str | None
    query_sealed: str | None
    rest: bytes  # the body after its position fields: everything else, personal data sealed


@dataclass(slots=True)
class Row:
    """One sealed record as the store inserts it."""

    seq: int
    received_us: int
    committed_us: int
    request_id: str
    subject: str | None
    agency: str | None
    purpose: str | None
    outcome: str
    case_term: str | None
    terms: list[str]
    leaf: bytes
    body: bytes


@dataclass(frozen=True, slots=True)
class _Query:
    mac: str
    sealed: str
    literals: tuple[str, ...]


_QUERIES: dict[tuple[str, str], _Query] = {}
_QUERIES_MAX = 1024  # distinct query texts remembered; clients mostly reuse a few


def _query(text: str, key: DataKey) -> _Query:
    """Normalise, hash, seal and scan a query text once, not once per request."""
    found = _QUERIES.get((key.key_id, text))
    if found is None:
        normalised = normalise_query(text)
        mac = key.mac(normalised.encode())
        found = _Query(
            mac, key.seal(normalised.encode(), mac.encode()), tuple(_query_literals(normalised))
        )
        if len(_QUERIES) >= _QUERIES_MAX:
            _QUERIES.clear()
        _QUERIES[(key.key_id, text)] = found
    return found


def prepare(
    record: AuditRecord, key: DataKey, unindexed_types: frozenset[str] = frozenset()
) -> Prepared:
    query = _query(record.query_text, key) if record.query_text else None
    query_mac = query.mac if query else None
    looked_up: list[str] = []
    _strings(record.variables, looked_up)
    if query:
        looked_up.extend(query.literals)
    indexed: set[str] = set()  # each value hashed once, even if both shown and looked up
    for type_name, keys in record.records_returned.items():
        if type_name not in unindexed_types:
            indexed.update(keys)
    indexed.update(s for s in looked_up if 0 < len(s) <= MAX_LITERAL)
    # what a mutation changed (kernel.workflow.Change): the states in the body, the ids of the
    # leads and cases sealed with the other keys and searchable through the blind index
    changes = [dict(c) for c in getattr(record, "changes", ())]
    indexed.update(str(c["id"]) for c in changes if c.get("id"))
    term = key.term
    terms = {term(value) for value in indexed}
    case_term = term(record.case_id) if record.case_id else None
    if case_term:
        terms.add(case_term)
    returned = {t: sorted(keys) for t, keys in sorted(record.records_returned.items())}
    hidden: dict[str, Any] = {
        "case_id": record.case_id,
        "justification": record.justification,
        "variables": record.variables,
        "records_returned": returned,
        "looked_up": sorted(set(looked_up)),
    }
    if changes:
        hidden["changes"] = changes
    secret = orjson.dumps(hidden, default=str)
    public: dict[str, Any] = {
        "received_us": int(record.received_at * 1e6),
        "request_id": record.request_id,
        "trace_id": record.trace_id,
        "client": record.client,
        "subject": record.subject,
        "agency": record.agency,
        "roles": list(record.roles),
        "purpose": record.purpose,
        "case": case_term,
        "break_glass": record.break_glass,
        "operation": {"name": record.operation_name, "type": record.operation_type},
        "query": query_mac,
        "variables": {
            name: key.mac(orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str))
            for name, value in sorted(record.variables.items())
        },
        "fields": {
            "requested": record.fields_requested,
            "allowed": record.fields_allowed,
            "masked": record.fields_masked,
            "denied": record.fields_denied,
            # where record-level rules hid records (their @ids are in "policies"): added
            # later, like "policies", so read as [] where absent
            "withheld": list(getattr(record, "fields_withheld", ())),
            # the @ids that decided each path; bodies written before it was added lack the key
            # and read as citing nothing (an added key: the body version stays 1)
            "policies": {
                path: list(ids)
                for path, ids in sorted(getattr(record, "field_policies", {}).items())
            },
        },
        "flags": record.flags,
        "returned": {t: len(keys) for t, keys in returned.items()},
        "withheld": dict(sorted(getattr(record, "records_withheld", {}).items())),
        "entities": _searchable(terms, case_term),
        "agency_calls": [
            {
                "agency": c.agency,
                "operation": c.operation,
                "keys": c.keys,
                "status": c.status,
                "latency_ms": round(c.latency_ms, 3),
            }
            for c in record.agency_calls
        ],
        "policy_version": record.policy_version,
        "status": record.status,
        "outcome": record.outcome,
        "error_codes": record.error_codes,
        "response": {"size": record.response_size, "sha256": record.response_hash},
        "latency_ms": round(record.latency_ms, 3),
    }
    if changes:  # an added key, only in a mutation's record: the body version stays 1
        public["changes"] = [{k: c.get(k) for k in CHANGE_STATES} for c in changes]
    public["sealed"] = key.seal(secret, _aad(record.request_id))
    return Prepared(
        received_us=public["received_us"],
        request_id=record.request_id,
        subject=record.subject,
        agency=record.agency,
        purpose=record.purpose,
        outcome=record.outcome,
        case_term=case_term,
        terms=public["entities"],
        query_mac=query_mac,
        query_sealed=query.sealed if query else None,
        rest=orjson.dumps(public)[1:],
    )


def _searchable(terms: set[str], case_term: str | None) -> list[str]:
    """The blind-index terms kept (at most MAX_TERMS); the case's is always among them, since
    searches by case go through the blind index."""
    kept = sorted(terms)[:MAX_TERMS]
    if case_term is not None and case_term not in kept:
        kept = sorted([*kept[: MAX_TERMS - 1], case_term])
    return kept


def body_prefix(log_id: str, seq: int) -> bytes:
    """How every body of record ``seq`` in log ``log_id`` starts (checked by verify)."""
    return b'{"v":%d,"log":%s,"seq":%d,' % (BODY_VERSION, orjson.dumps(log_id), seq)


def _aad(request_id: str) -> bytes:
    """Sealed data is bound to its record: it does not decrypt inside another one."""
    return b"jointgate-audit-record\x1f" + request_id.encode()


def seal(
    prepared: Prepared, key: DataKey, log_id: str, seq: int, committed_us: int, time: str = ""
) -> Row:
    """The body: position fields first (what the leaf hash must commit to), then the rest,
    serialised and sealed by :func:`prepare` outside the store's transaction."""
    body = b'%s"time":"%s","committed_us":%d,%s' % (
        body_prefix(log_id, seq), (time or iso_us(committed_us)).encode(), committed_us,
        prepared.rest,
    )  # fmt: skip
    return Row(
        seq=seq,
        received_us=prepared.received_us,
        committed_us=committed_us,
        request_id=prepared.request_id,
        subject=prepared.subject,
        agency=prepared.agency,
        purpose=prepared.purpose,
        outcome=prepared.outcome,
        case_term=prepared.case_term,
        terms=prepared.terms,
        leaf=leaf_hash(body),
        body=body,
    )


def decode(body: bytes, key: DataKey | None) -> dict[str, Any]:
    """The auditor's view of a stored body; personal fields are decrypted when ``key`` is given
    (``"<sealed>"`` otherwise)."""
    raw = orjson.loads(body)
    view: dict[str, Any] = {
        "log_id": raw["log"],
        "seq": raw["seq"],
        "time": raw["time"],
        "received": iso_us(raw["received_us"]),
        "received_us": raw["received_us"],
        "request_id": raw["request_id"],
        "trace_id": raw["trace_id"],
        "client": raw["client"],
        "subject": raw["subject"],
        "agency": raw["agency"],
        "roles": raw["roles"],
        "purpose": raw["purpose"],
        "case_id": "<sealed>" if raw["case"] else None,
        "justification": "<sealed>",
        "break_glass": raw["break_glass"],
        "operation_name": raw["operation"]["name"],
        "operation_type": raw["operation"]["type"],
        "query_hash": raw["query"],
        "variables": {name: "<sealed>" for name in raw["variables"]},
        "fields_requested": raw["fields"]["requested"],
        "fields_allowed": raw["fields"]["allowed"],
        "fields_masked": raw["fields"]["masked"],
        "fields_denied": raw["fields"]["denied"],
        "fields_withheld": raw["fields"].get("withheld", []),
        "field_policies": raw["fields"].get("policies", {}),
        "flags": raw["flags"],
        "records_returned": {t: f"<{n} sealed>" for t, n in raw["returned"].items()},
        "returned_counts": dict(raw["returned"]),
        "records_withheld": raw.get("withheld", {}),
        "looked_up": "<sealed>",
        "agency_calls": raw["agency_calls"],
        "policy_version": raw["policy_version"],
        "status": raw["status"],
        "outcome": raw["outcome"],
        "error_codes": raw["error_codes"],
        # a mutation's changes (absent from older bodies and from queries': none), their ids
        # sealed
        "changes": [{**c, "id": "<sealed>"} for c in raw.get("changes", ())],
        "response_size": raw["response"]["size"],
        "response_sha256": raw["response"]["sha256"],
        "latency_ms": raw["latency_ms"],
    }
    if key is not None:
        try:
            secret = orjson.loads(key.open(raw["sealed"], _aad(raw["request_id"])))
        except AuditKeyError as exc:
            view["sealed_error"] = str(exc)
        else:
            view.update(secret)
    return view


def open_query(sealed: str, mac: str, key: DataKey) -> str:
    text = key.open(sealed, mac.encode()).decode()
    if key.mac(text.encode()) != mac:
        raise AuditKeyError(f"the stored text of query {mac} does not match its hash")
    return text
