"""The entity types a domain's links lead to in another domain, by name: so that no domain
module imports another.

The domains link to each other's entities both ways (``Enterprise.bankAccounts`` to
``BankAccount``, ``BankAccount.holderEnterprise`` back to ``Enterprise``, ``Person.policeCases``
to ``PoliceCase``, ``PoliceCase.suspects`` back to ``Person``, ...). Were each domain module to
import the classes it links to, even for the type checker alone, the domain modules would form
one import cycle. A link to another domain's entity names it here instead, with a trailing
underscore (``BankAccount_`` is the ``BankAccount`` of ``schema.banking``)::

    @link("banking", "financial", 2)
    async def bank_accounts(self, info: Info) -> list[BankAccount_] | None: ...

Strawberry finds the class in its domain module when the schema is built (``strawberry.lazy``;
by then ``schema/unified.py`` has imported every domain), so the GraphQL types, the field
catalog and ``SPECS`` get the real class, exactly as from a direct reference; a wrong name
fails that build (tests/schema/test_refs.py checks each one). To the type checker a target is
what the loaders build: they make objects by GraphQL type name and are typed ``Any``
(schema/loaders.py), so a direct import gave a link's return type no more checking than this.

Rather than a module of link declarations over every domain (a type's links would be read
away from the type, and a Strawberry type takes no fields after it is declared but through a
subclass) or builders moved down (none is shared: the loaders build objects by type name), the
links stay in their type's module and only the target's name comes from here.

They are imported by name: Strawberry follows a plain name to a lazy reference
(``BankAccount_``), not an attribute (``refs.BankAccount``). Types of the same domain refer to
each other directly (``BankAccount.transactions`` to ``Transaction``). This module imports no
domain module, and must not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry


def _lazy(name: str, module: str) -> Any:
    """The entity type ``name`` of ``module``, found there when the schema is built."""
    return Annotated[name, strawberry.lazy(module)]


if TYPE_CHECKING:
    Enterprise_: TypeAlias = Any
    Person_: TypeAlias = Any
    BankAccount_: TypeAlias = Any
    PoliceCase_: TypeAlias = Any
    CourtCase_: TypeAlias = Any
    DefaulterEntry_: TypeAlias = Any
    CreditReport_: TypeAlias = Any
else:
    Enterprise_ = _lazy("Enterprise", "schema.enterprise")
    Person_ = _lazy("Person", "schema.person")
    BankAccount_ = _lazy("BankAccount", "schema.banking")
    PoliceCase_ = _lazy("PoliceCase", "schema.police")
    CourtCase_ = _lazy("CourtCase", "schema.court")
    DefaulterEntry_ = _lazy("DefaulterEntry", "schema.court")
    CreditReport_ = _lazy("CreditReport", "schema.credit")
