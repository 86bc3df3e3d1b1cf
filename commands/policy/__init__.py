"""Administrators' commands: ``jointgate policy``, ``teams``, ``cases``, ``review``.

The parser (:mod:`~commands.policy.parser`) stands apart from what runs the commands, so that
``jointgate --help`` imports neither the policies nor the schema: :mod:`~commands.policy.sets`
(policy validate, test, diff), :mod:`~commands.policy.explain` (policy explain),
:mod:`~commands.policy.changes` (policy propose, approve, reject, rollback, proposals, history:
dual control), :mod:`~commands.policy.teams` (teams, review),
:mod:`~commands.policy.case_registry` (cases). Who acts, and the record of what they did:
:mod:`commands.official`. :mod:`~commands.policy.governance` opens the governance database the
options name and tells the replicas of a change;
:mod:`~commands.policy.cases` makes principals and runs the policy tests' cases.
"""
