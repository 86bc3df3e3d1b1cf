"""The unified GraphQL schema over every member agency, one module per domain (see unified.py).

The domains (``enterprise``, ``person``, ``banking``, ``police``, ``court``) stand side by side
and import none of each other: a link to another domain's entity names it through ``refs``
(``-> list[BankAccount_] | None``), which Strawberry resolves when ``unified`` builds the schema
from all of them. Below them: ``base`` (how fields and types describe themselves), ``scalars``,
``paging``, ``search``, ``batch`` and ``loaders``; ``catalog`` reads only ``base``; ``audit`` is
the auditors' corner; ``office`` (types and queries) and ``office_ops`` (the mutations and the
subscription) are the joint office's own work, read and done through a ``kernel.workflow.Desk``,
its leads' subjects linking into the domains through ``refs``; ``unified`` alone imports every
domain.
"""
