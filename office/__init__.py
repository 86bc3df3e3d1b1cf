"""The joint office's own work: its system of record for leads, verification, referral, cases
and feedback, the state machine, major events and indicators (issue 18; docs/workflows.md).

Floor 4: stands on the policies (the governance database, the case registry the cases it opens
are registered in, the Cedar decisions of who may do what) and implements the
``kernel.workflow.Desk`` the schema's resolvers call.

- ``desk.py``: :class:`OfficeDesk`, the desk (mutations; ``sweep_overdue``, ``overdue_count``);
- ``reading.py``: what a caller may read of leads and cases, lists and paging;
- ``access.py``: the caller's standing (assigned cases) and the Cedar decisions;
- ``store.py``: the tables, their numbered migrations, lead ids, idempotency keys, history;
- ``inputs.py``: checks of what a caller sends (``BAD_USER_INPUT``);
- ``major.py``, ``settings.py``: major-event rules and the ``[office]`` table;
- ``indicators.py``: period indicators.
"""
