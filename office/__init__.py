"""The joint office's own work: its system of record for leads, verification, referral, cases
and feedback, the state machine, major events and indicators (issue 18; docs/workflows.md).

Floor 4: stands on the policies (the governance database, the case registry the cases it opens
are registered in, the Cedar decisions of who may do what) and implements the
``kernel.workflow.Desk`` the schema's resolvers call.
"""
