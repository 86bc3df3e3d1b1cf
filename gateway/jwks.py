"""Where the token-signing keys come from: a JWKS file, or the identity provider's JWKS URL."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import cast

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

log = logging.getLogger("jointgate.jwks")


def public_key_set(data: object) -> KeySet:
    """The public keys of a parsed JWKS document: only public parameters are kept, even if it
    holds private keys. ValueError if it holds no key, or one that does not load (also checked
    by ``jointgate config check``, gateway/config_check.py)."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise ValueError('no "keys"')
    try:
        document = cast(KeySetSerialization, data)
        return KeySet.import_key_set(KeySet.import_key_set(document).as_dict(private=False))
    except (JoseError, TypeError, AttributeError) as exc:
        raise ValueError(f"a key does not load: {exc}") from None


class KeySource:
    """Holds the current public key set; ``refresh`` reloads it (file or URL)."""

    def __init__(
        self,
        *,
        file: Path | None = None,
        url: str | None = None,
        min_refetch_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if (file is None) == (url is None):
            raise ValueError("give exactly one of file or url")
        self.file = file
        self.url = url
        self.min_refetch_s = min_refetch_s
        self.refreshes = 0
        self._transport = transport
        self._keys: KeySet | None = None
        self._last_unknown_kid_refetch = float("-inf")

    def __call__(self) -> KeySet:
        if self._keys is None:
            raise RuntimeError("keys not loaded yet: await refresh() at start-up")
        return self._keys

    @property
    def loaded(self) -> bool:
        return self._keys is not None

    async def refresh(self) -> None:
        if self.file is not None:
            data = json.loads(self.file.read_text())
        else:
            assert self.url is not None
            async with httpx.AsyncClient(
                timeout=10.0, trust_env=False, transport=self._transport
            ) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                data = response.json()
        self._keys = public_key_set(data)
        self.refreshes += 1

    def knows(self, kid: str) -> bool:
        return self._keys is not None and any(k.kid == kid for k in self._keys.keys)

    async def refetch_for(self, kid: str) -> bool:
        """A token names a key we do not have: the issuer may have rotated its keys.

        Fetch the key set again, at most once per ``min_refetch_s`` whatever the kids, so a
        flood of tokens with made-up kids cannot turn the gateway against the issuer.
        """
        now = time.monotonic()
        if now - self._last_unknown_kid_refetch < self.min_refetch_s:
            return False
        self._last_unknown_kid_refetch = now
        try:
            await self.refresh()
        except (OSError, ValueError, httpx.HTTPError):
            log.warning("could not refetch the JWKS for an unknown key id")
            return False
        return self.knows(kid)

    async def refresh_forever(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.refresh()
            except (OSError, ValueError, httpx.HTTPError):
                log.warning("could not refresh the JWKS; keeping the previous keys")
