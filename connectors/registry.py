"""The member agencies' connectors, built from settings. Adding an agency is one entry here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.banking import BankingConnector
from connectors.base import Connector
from connectors.courts import CourtsConnector
from connectors.http import TransportSettings
from connectors.market import MarketConnector
from connectors.police import PoliceConnector
from connectors.resilience import Resilience
from connectors.tls import AgencyTLS


@dataclass(frozen=True, slots=True)
class AgencySettings:
    """One ``[agencies.NAME]`` table (docs/configuration.md)."""

    url: str
    timeout_s: float = 5.0
    max_connections: int = 64
    key_id: str = "jointgate"  # banking: HMAC key id
    key: bytes = field(default=b"", repr=False)  # banking: HMAC secret; never in a repr or log
    resilience: Resilience = field(default_factory=Resilience)
    tls: AgencyTLS | None = None  # CA bundle and client certificate (https URLs)


def build_connectors(agencies: Mapping[str, AgencySettings]) -> dict[str, Connector]:
    def transport(name: str) -> TransportSettings:
        a = agencies[name]
        return TransportSettings(
            a.url,
            timeout_s=a.timeout_s,
            max_connections=a.max_connections,
            resilience=a.resilience,
            tls=a.tls,
        )

    banking = agencies["banking"]
    return {
        "police": PoliceConnector(transport("police")),
        "market": MarketConnector(transport("market")),
        "banking": BankingConnector(transport("banking"), banking.key_id, banking.key),
        "courts": CourtsConnector(transport("courts")),
    }
