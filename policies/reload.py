"""The policy set in force, replaced without restart; a set that does not validate is refused.

Two sources, one per deployment (``[policy] shared``, docs/deployment.md):

- **files** (one replica): the policy directory is checked every ``policy.reload_s`` and on
  SIGHUP, and reloaded when a file changed.
- **database** (several replicas, and the only mode with dual control): the set in force is the
  one last activated in the governance database (:class:`PolicyVersions`), files' contents and
  version hash together, so every replica loads byte-for-byte the same set. A set is proposed by
  one policy administrator and put in force by another's approval (:mod:`policies.proposals`,
  ``jointgate policy propose`` / ``approve``). Replicas re-check the
  active version on a change notification and periodically (``gateway/notify.py``). The first
  replica to start against an empty database publishes its own directory.

Either way a new set is swapped in only if it loads and validates completely with this
replica's schema; otherwise the error is logged with file and line, reported in ``/readyz``,
and the previous version stays in force.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.db import Conflict, Database, unique_violation
from policies.engine import SCHEMA_FILE, PolicyEngine, PolicyError, Problem, load_bundle
from schema.catalog import Catalog

log = logging.getLogger("jointgate.policies")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jg_policy_sets (
    version TEXT PRIMARY KEY, files TEXT NOT NULL,
    published_at DOUBLE PRECISION NOT NULL, published_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jg_policy_active (
    id INTEGER PRIMARY KEY, version TEXT NOT NULL, serial BIGINT NOT NULL,
    activated_at DOUBLE PRECISION NOT NULL, activated_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jg_policy_proposals (
    id TEXT PRIMARY KEY, version TEXT NOT NULL, files TEXT NOT NULL, base TEXT NOT NULL,
    kind TEXT NOT NULL, proposed_by TEXT NOT NULL, proposed_at DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL, state TEXT NOT NULL, decided_by TEXT, decided_at DOUBLE PRECISION,
    note TEXT);
CREATE TABLE IF NOT EXISTS jg_policy_activations (
    serial BIGINT PRIMARY KEY, version TEXT NOT NULL, proposal TEXT,
    activated_at DOUBLE PRECISION NOT NULL, activated_by TEXT NOT NULL);
"""
#: a bootstrap: the first replica to start against an empty database put its own set in force
BOOTSTRAP = "bootstrap"
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.cedar")


def policy_files(directory: Path) -> dict[str, str]:
    """The files a policy set is made of (``*.cedar`` and the Cedar schema), by name."""
    paths = sorted([*Path(directory).glob("*.cedar"), Path(directory) / SCHEMA_FILE])
    return {p.name: p.read_text() for p in paths if p.is_file()}


@dataclass(frozen=True, slots=True)
class ActiveSet:
    version: str
    serial: int  # moves with every activation, so replicas notice even a return to a version
    activated_at: float
    activated_by: str


class PolicyVersions:
    """Policy sets published to the governance database, and which one is active."""

    def __init__(self, db: Database, *, create: bool = True) -> None:
        """``create=False``: the tables exist (a gateway made them at start); nothing is
        written, so that inside a witnessed change (gateway/governance.py ``governed``) the
        first write is the change itself."""
        self.db = db
        if not create:
            return
        db.script(SCHEMA)
        if not db.query("SELECT id FROM jg_policy_active WHERE id = 1"):
            db.query(
                "INSERT INTO jg_policy_active (id, version, serial, activated_at, activated_by) "
                "VALUES (1, '', 0, 0, '') ON CONFLICT (id) DO NOTHING"
            )

    @staticmethod
    def in_use(db: Database) -> bool:
        """Whether gateways share their policies through ``db``: the first of them to start
        publishes its directory, so a set is active. Only reads: a database no gateway shares
        policies through is left as it is."""
        exists = (
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jg_policy_active'"
            if db.dialect == "sqlite"
            else "SELECT count(*) FROM (SELECT to_regclass('jg_policy_active') AS t) x"
            " WHERE t IS NOT NULL"
        )
        if not db.query(exists)[0][0]:
            return False
        rows = db.query("SELECT version FROM jg_policy_active WHERE id = 1")
        return bool(rows and rows[0][0])

    def active(self) -> ActiveSet | None:
        rows = self.db.query(
            "SELECT version, serial, activated_at, activated_by FROM jg_policy_active WHERE id = 1"
        )
        if not rows or not rows[0][0]:
            return None
        version, serial, at, by = rows[0]
        return ActiveSet(str(version), int(serial), float(at), str(by))

    def publish(
        self,
        files: dict[str, str],
        version: str,
        by: str = "",
        *,
        proposal: str | None = None,
        then: Sequence[tuple[str, Sequence[object]]] = (),
    ) -> bool:
        """Store the set (if new) and make it the active one, in one transaction with ``then``
        (an approved proposal's own update), noted in ``jg_policy_activations``; False if it
        was active already. Operators do not call this directly: a change is proposed and
        approved by two policy administrators (:mod:`policies.proposals`); the gateway calls
        it once, to bootstrap an empty database (:meth:`bootstrap`).

        The caller has validated the set; replicas validate it again on load."""
        current = self.active()
        if current is not None and current.version == version:
            return False
        serial = self._serial() + 1
        now = time.time()
        # ``then`` first, each guarded: a proposal decided meanwhile changes no row (Conflict)
        statements = [
            *then,
            (
                "INSERT INTO jg_policy_sets (version, files, published_at, published_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (version) DO NOTHING",
                (version, json.dumps(files, sort_keys=True), now, by),
            ),
            (
                "UPDATE jg_policy_active SET version = ?, serial = ?, "
                "activated_at = ?, activated_by = ? WHERE id = 1",
                (version, serial, now, by),
            ),
            # a second activation racing for the same serial fails here, and rolls back
            (
                "INSERT INTO jg_policy_activations (serial, version, proposal, activated_at,"
                " activated_by) VALUES (?, ?, ?, ?, ?)",
                (serial, version, proposal, now, by),
            ),
        ]
        try:
            self.db.transaction(statements, guarded=range(len(then)))
        except Exception as exc:
            if unique_violation(exc):  # another activation took this serial first
                raise Conflict(
                    "another policy version was put in force at the same moment"
                ) from None
            raise
        return True

    def bootstrap(self, files: dict[str, str], version: str, by: str) -> bool:
        """The first replica to start against an empty database puts its own directory in
        force, recorded in the history as a bootstrap (no second administrator approved it)."""
        proposal = f"{BOOTSTRAP}-{version}"
        now = time.time()
        note = (
            "INSERT INTO jg_policy_proposals (id, version, files, base, kind, proposed_by,"
            " proposed_at, reason, state, decided_by, decided_at, note) VALUES"
            " (?, ?, ?, '', ?, ?, ?, ?, 'approved', ?, ?, '') ON CONFLICT (id) DO NOTHING",
            (proposal, version, json.dumps(files, sort_keys=True), BOOTSTRAP, by, now,
             "first start against an empty database: the replica's own policy directory", by,
             now),
        )  # fmt: skip
        try:
            return self.publish(files, version, by, proposal=proposal, then=[note])
        except Exception:
            if self.active() is not None:  # another replica bootstrapped first: theirs stands
                return False
            raise

    def _serial(self) -> int:
        rows = self.db.query("SELECT serial FROM jg_policy_active WHERE id = 1")
        activations = self.db.query("SELECT max(serial) FROM jg_policy_activations")
        last = activations[0][0] if activations and activations[0][0] is not None else 0
        return max(int(rows[0][0]) if rows else 0, int(last))

    def files(self, version: str) -> dict[str, str]:
        rows = self.db.query("SELECT files FROM jg_policy_sets WHERE version = ?", (version,))
        if not rows:
            raise PolicyError([Problem(f"policy set {version}", 1, "not in the database")])
        files: dict[str, str] = json.loads(str(rows[0][0]))
        return files

    def history(self) -> list[tuple[str, float, str]]:
        """(version, first published at, by) of every stored set, newest first."""
        rows = self.db.query(
            "SELECT version, published_at, published_by FROM jg_policy_sets "
            "ORDER BY published_at DESC"
        )
        return [(str(v), float(at), str(by)) for v, at, by in rows]


def publish(directory: Path, catalog: Catalog, versions: PolicyVersions, by: str = "") -> str:
    """Validate a policy directory and make it the active set; raises PolicyError if it does not
    validate (nothing is stored then). Returns the version."""
    bundle = load_bundle(directory, catalog)
    versions.publish(policy_files(directory), bundle.version, by)
    return bundle.version


def load_files(files: dict[str, str], version: str, catalog: Catalog) -> PolicyEngine:
    """An engine for a stored set: written to a scratch directory, loaded and validated exactly
    as a directory is, and checked to hash to the version it is stored under."""
    bad = [n for n in files if n != SCHEMA_FILE and not _FILE_NAME.fullmatch(n)]
    if bad:
        raise PolicyError([Problem(f"policy set {version}", 1, f"bad file name {bad[0]!r}")])
    with tempfile.TemporaryDirectory(prefix="jointgate-policy-") as scratch:
        for name, text in files.items():
            (Path(scratch) / name).write_text(text)
        try:
            bundle = load_bundle(Path(scratch), catalog)
        except PolicyError as exc:
            raise PolicyError(
                [Problem(f"{version}/{Path(p.file).name}", p.line, p.message) for p in exc.problems]
            ) from None
    if bundle.version != version:
        raise PolicyError(
            [Problem(f"policy set {version}", 1, f"its files hash to {bundle.version}")]
        )
    return PolicyEngine(bundle, catalog)


class PolicyStore:
    def __init__(
        self,
        directory: Path,
        catalog: Catalog,
        versions: PolicyVersions | None = None,
        *,
        publisher: str = "",
    ) -> None:
        """``versions``: enforce the database's active set (shared); None: the directory's."""
        self.directory = Path(directory)
        self.catalog = catalog
        self.versions = versions
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._stamp = self._fingerprint()
        self._engine = PolicyEngine(load_bundle(self.directory, catalog), catalog)
        self._serial = -1
        self._checked_at = 0.0
        #: the version this replica put in force at start, against an empty database (the
        #: gateway records it in the audit trail as a governance record)
        self.bootstrapped: str | None = None
        if versions is not None:
            if versions.active() is None and versions.bootstrap(
                policy_files(self.directory), self.version, publisher
            ):
                self.bootstrapped = self.version
                log.warning(
                    "bootstrap: put policy version %s from %s in force (an empty database)",
                    self.version,
                    self.directory,
                )
            files_version = self.version
            self.check()
            if self.version != files_version:
                log.warning(
                    "policy version %s is in force (the governance database's); the files in %s"
                    " are version %s, not in force: propose them (`jointgate policy propose %s"
                    " --why ...`) for a second policy administrator to approve",
                    self.version, self.directory, files_version, self.directory,
                )  # fmt: skip

    @property
    def engine(self) -> PolicyEngine:
        return self._engine

    @property
    def version(self) -> str:
        return self._engine.version

    @property
    def shared(self) -> bool:
        return self.versions is not None

    def status(self) -> dict[str, Any]:
        """For /readyz: the version in force, where it comes from, the last refusal."""
        return {
            "version": self.version,
            "source": "database" if self.versions is not None else "files",
            "serial": self._serial if self.versions is not None else None,
            "checked_at": round(self._checked_at, 3) or None,
            "error": self.last_error,
        }

    def reload(self) -> bool:
        """Load the directory again (files) or the active set (database); True if a new version
        is now in force."""
        if self.versions is not None:
            return self.check()
        self._stamp = self._fingerprint()
        try:
            bundle = load_bundle(self.directory, self.catalog)
        except PolicyError as exc:
            return self._refused(str(exc))
        self.last_error = None
        if bundle.version == self._engine.version:
            return False
        self._swap(PolicyEngine(bundle, self.catalog))
        return True

    def check(self) -> bool:
        """Database mode: load the active set if it moved (one small query otherwise); True if a
        new version is now in force. Thread-safe; the gateway runs it off the event loop."""
        if self.versions is None:
            return False
        with self._lock:
            active = self.versions.active()
            self._checked_at = time.time()
            if active is None or active.serial == self._serial:
                return False
            if active.version == self.version:
                self._serial, self.last_error = active.serial, None
                return False
            files = self.versions.files(active.version)  # a database error: retried next check
            # remembered even if refused: a bad set is not validated again at every check
            self._serial = active.serial
            try:
                engine = load_files(files, active.version, self.catalog)
            except PolicyError as exc:
                return self._refused(str(exc))
            self.last_error = None
            self._swap(engine)
            return True

    async def watch(self, every_s: float) -> None:
        """Poll the directory and reload when a file changed (runs until cancelled). With a
        shared set, a changed file only warns: it takes ``jointgate policy propose`` and a second
        administrator's ``approve``."""
        while True:
            await asyncio.sleep(every_s)
            if self._fingerprint() == self._stamp:
                continue
            if self.versions is None:
                self.reload()
            else:
                self._stamp = self._fingerprint()
                log.warning(
                    "policy files in %s changed, but policies are shared through the database:"
                    " propose them (`jointgate policy propose %s --why ...`) for a second policy"
                    " administrator to approve, which puts them in force on every replica",
                    self.directory,
                    self.directory,
                )

    def _swap(self, engine: PolicyEngine) -> None:
        old, self._engine = self._engine.version, engine
        log.warning("policy version %s replaced %s", engine.version, old)

    def _refused(self, error: str) -> bool:
        self.last_error = error
        log.error("policy set refused; version %s stays in force:\n%s", self.version, error)
        return False

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
