"""``jointgate audit ...``: verify the trail, prove records, search it, report on a subject.

The parser (:mod:`~commands.audit.parser`) stands apart from what runs the commands
(:mod:`~commands.audit.run`), so that ``jointgate --help`` imports neither the trail nor the
schema. The commands: :mod:`~commands.audit.proofs` (verify, checkpoint, prove, check-proof,
consistency), :mod:`~commands.audit.reads` (search, export, subject-report),
:mod:`~commands.audit.retention` (archive); :mod:`~commands.audit.common` records each read.

Every command that reads records (search, export, subject-report, prove) takes an auditor's
token (``--token`` or ``JOINTGATE_TOKEN``, verified as the gateway verifies tokens:
commands/official.py) and first appends a record of that read to the trail itself (a governance
record: purpose ``audit``, the token's official), and prints nothing if it cannot: reading
the trail is audited like any other access. ``verify`` reports first and records its read
after; if that record cannot be appended it says so and why. ``check-proof`` needs no database
at all.

Exit status: 0 all good, 1 verification or proof failed (whether or not verify could record
its read), 2 usage or configuration error, 3 the store is unavailable (or the read could
not be recorded).
"""
