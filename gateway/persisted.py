"""Persisted operations: clients may send a hash instead of the document.

The request carries Apollo's ``extensions.persistedQuery = {"version": 1, "sha256Hash": ...}``:

- with no ``query``, the document is looked up among the trusted operations (a JSON file of
  ``{"<sha256>": "<query>"}`` an administrator ships) and then among the documents the same
  user sent with their hash before (automatic persisted queries); unknown:
  ``PERSISTED_QUERY_NOT_FOUND``, and the client sends the document once with its hash;
- with a ``query``, its hash must match (``PERSISTED_QUERY_HASH_MISMATCH``) and it is remembered
  for that user.

Automatic registrations are per user (the token's subject), not shared: a document may hold
literals (``enterprise(uscc: "...")``), and if a hash sent alone were answered from another
user's registration, anyone who can guess a document could learn that somebody ran it. A hash
another user registered answers exactly as one nobody ever sent: same lookup, same error.

Clients named in ``restricted_clients`` (the token's ``azp`` or ``client_id``) may run only the
trusted operations, whether they send the hash or the text (``PERSISTED_QUERY_NOT_ALLOWED``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic.dataclasses import dataclass as pydantic_dataclass

from kernel.errors import GatewayError
from kernel.lru import LRU
from kernel.settings import (
    TABLE,
    Info,
    PositiveInt,
    Refused,
    Table,
    base_of,
    check,
    setting,
    text,
)


class PersistedQueryError(GatewayError):
    status = 400


def _trusted_file(value: Any, info: Info) -> Path | None:
    """The trusted operations' file, read and checked here when the config names it."""
    if value is None or isinstance(value, Path):
        return value
    path = base_of(info) / text(value)
    try:
        PersistedOperations.from_file(path)
    except OSError as exc:
        raise Refused(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # also JSONDecodeError
        raise Refused(f"{exc}; expected a JSON object of sha256 -> query") from None
    return path


def _clients(value: Any, info: Info) -> frozenset[str]:
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(c, str) and c for c in value
    ):
        raise Refused("a list of client ids (azp / client_id)")
    if value and info.data.get("trusted_file", "") is None:  # absent: refused already
        raise Refused(
            ("<trusted_file>", "required with restricted_clients (the operations they may run)")
        )
    return frozenset(value)


@pydantic_dataclass(frozen=True, slots=True, config=TABLE)
class PersistedSettings(Table):
    """The ``[persisted_operations]`` table (docs/limits.md)."""

    NAME = "persisted_operations"

    trusted_file: Annotated[Path | None, check(_trusted_file)] = setting(
        None,
        "JSON object of `sha256 -> query`: operations clients may run by hash; every key is"
        " checked at start",
    )
    restricted_clients: Annotated[frozenset[str], check(_clients)] = setting(
        frozenset(),
        "client ids (the token's `azp` / `client_id`) that may run only the trusted operations"
        " (needs `trusted_file`)",
    )
    cache_size: Annotated[int, PositiveInt] = setting(
        10_000,
        "(user, hash) pairs remembered for automatic persisted queries, per replica; a user's"
        " registrations serve only that user",
    )


@dataclass
class PersistedOperations:
    trusted: dict[str, str] = field(default_factory=dict)
    restricted_clients: frozenset[str] = frozenset()
    cache_size: int = 10_000
    # (user, sha256) -> document, least recently used first; bounded by cache_size in all
    _seen: LRU[tuple[str, str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._seen = LRU(self.cache_size)

    @classmethod
    def from_settings(cls, settings: PersistedSettings) -> PersistedOperations:
        if settings.trusted_file is None:
            return cls(
                restricted_clients=settings.restricted_clients, cache_size=settings.cache_size
            )
        loaded = cls.from_file(settings.trusted_file, settings.restricted_clients)
        return cls(loaded.trusted, loaded.restricted_clients, settings.cache_size)

    @classmethod
    def from_file(
        cls, path: Path, restricted_clients: frozenset[str] = frozenset()
    ) -> PersistedOperations:
        """Load trusted operations; every entry's key must be the sha256 of its query."""
        entries = json.loads(path.read_text())
        if not isinstance(entries, dict):
            raise ValueError(f"{path}: expected a JSON object of sha256 -> query")
        for digest, query in entries.items():
            if not isinstance(query, str) or _sha256(query) != digest:
                raise ValueError(f"{path}: entry {digest[:12]}... is not the sha256 of its query")
        return cls(dict(entries), restricted_clients)

    def resolve(
        self,
        query: str | None,
        extensions: Mapping[str, Any] | None,
        client: str,
        user: str = "",
    ) -> str:
        """The document to run, or a PersistedQueryError saying what the client must do.

        ``client`` is the token's application (restricted clients), ``user`` its subject:
        whose automatic registrations a hash is looked up in."""
        wanted = _requested_hash(extensions)
        restricted = client in self.restricted_clients
        if query is None:
            if wanted is None:
                raise PersistedQueryError("The request has no 'query' string.", code="BAD_REQUEST")
            found = self.trusted.get(wanted) or (None if restricted else self._recall(user, wanted))
            if found is None:
                if restricted:
                    raise _not_allowed()
                raise PersistedQueryError(
                    "PersistedQueryNotFound", code="PERSISTED_QUERY_NOT_FOUND"
                )
            return found
        digest = _sha256(query)
        if wanted is not None and wanted != digest:
            raise PersistedQueryError(
                "The query's sha256 does not match extensions.persistedQuery.sha256Hash.",
                code="PERSISTED_QUERY_HASH_MISMATCH",
            )
        if restricted and digest not in self.trusted:
            raise _not_allowed()
        if wanted is not None:
            self._seen[(user, digest)] = query
        return query

    def _recall(self, user: str, digest: str) -> str | None:
        return self._seen.get((user, digest))


def _not_allowed() -> PersistedQueryError:
    return PersistedQueryError(
        "This client may only run the trusted operations registered for it.",
        code="PERSISTED_QUERY_NOT_ALLOWED",
        status=403,
    )


def _requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    if not extensions:
        return None
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            'extensions.persistedQuery must be {"version": 1, "sha256Hash": ...}.',
            code="BAD_REQUEST",
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError("sha256Hash must be 64 hex characters.", code="BAD_REQUEST")
    return digest.lower()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
