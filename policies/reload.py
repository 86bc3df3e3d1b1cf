"""The policy set in force, reloaded without restart when its files change or on SIGHUP.

A new set is swapped in only if it loads and validates completely; otherwise the error is
logged with file and line and the previous version stays in force.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from policies.engine import SCHEMA_FILE, PolicyEngine, PolicyError, load_bundle
from schema.catalog import Catalog

log = logging.getLogger("jointgate.policies")


class PolicyStore:
    def __init__(self, directory: Path, catalog: Catalog) -> None:
        self.directory = Path(directory)
        self.catalog = catalog
        self._stamp = self._fingerprint()
        self._engine = PolicyEngine(load_bundle(self.directory, catalog), catalog)
        self.last_error: str | None = None

    @property
    def engine(self) -> PolicyEngine:
        return self._engine

    @property
    def version(self) -> str:
        return self._engine.version

    def reload(self) -> bool:
        """Load the directory again; True if a new version is now in force."""
        self._stamp = self._fingerprint()
        try:
            bundle = load_bundle(self.directory, self.catalog)
        except PolicyError as exc:
            self.last_error = str(exc)
            log.error("policy reload refused; version %s stays in force:\n%s", self.version, exc)
            return False
        self.last_error = None
        if bundle.version == self._engine.version:
            return False
        old = self._engine.version
        self._engine = PolicyEngine(bundle, self.catalog)
        log.warning("policy version %s replaced %s", bundle.version, old)
        return True

    async def watch(self, every_s: float) -> None:
        """Poll the directory and reload when a file changed (runs until cancelled)."""
        while True:
            await asyncio.sleep(every_s)
            if self._fingerprint() != self._stamp:
                self.reload()

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        paths = sorted([*self.directory.glob("*.cedar"), self.directory / SCHEMA_FILE])
        out = []
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            out.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(out)
