"""The evidence-grade audit trail (issue #4): every request's record, tamper-evident, provable.

    record.py      the stored form: sealed personal data, blind-index terms, the leaf hash
    merkle.py      RFC 6962 tree, compact ranges, inclusion and consistency proofs
    checkpoint.py  signed checkpoints (tree size, root, time; Ed25519)
    store.py       the SQL layout shared by sqlite.py (default) and postgres.py
    trail.py       the gateway's AuditLog: group commit, fail closed, self-recovery
    verify.py      recompute and check a log (against its witnesses too); build and check proofs
    witness.py     witnesses: every kept checkpoint outside the store, refused if inconsistent
    witness_sql.py the witness in another database (SQLite or PostgreSQL), insert-only
    publish.py     publishing checkpoints to the witnesses from a thread of their own
    reader.py      search, subject reports, export (what auditors and the auditLog query use)
    archive.py     retention: old records into hash-linked archive files
    cli.py         ``jointgate audit ...``

docs/audit.md explains the design, the threat model and the numbers.
"""
