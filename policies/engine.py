"""The policy engine: Cedar policy files → decisions per field and per record label set.

A policy directory holds ``*.cedar`` files and ``jointgate.cedarschema``. Loading parses and
validates everything (syntax, Cedar schema, references to schema fields, annotations) and
reports every problem with file and line; a bundle that loads is identified by a hash of its
files (the policy version). Decisions are made in batches with a pre-parsed policy set, and
the gateway caches them per operation (gateway/authorize.py).

Policy annotations the engine understands:

- ``@id("name")``: required, unique; the name decisions and audit records cite.
- ``@mask`` / ``@mask("kind")``: this permit shows the field masked only (kind: the field's own
  mask, or one of kernel/masks.py). A field allowed by an unmasked permit is shown in full.
- ``@flag("break-glass")``: decisions that rely only on such permits are flagged for review.

A field of a personal-data category (``schema.base.Personal``: an account holder's ID number, a
legal representative's name ...) is decided as the ``Person`` field of that category, whichever
agency holds it: :meth:`PolicyEngine.deciding` names that field, the Cedar request is for it,
and only the mask (the policy's explicit ``@mask("kind")``, else the field's own) is the
field's. A policy naming such a field by id is refused.

Policies decide on whether a case is declared (``context.has_case``, ``context.in_team``), never
on the case id's text, which is the caller's to choose and is not in the policy context: that
keeps "which fields could this caller ever be shown" (schema visibility,
:meth:`PolicyEngine.reachable`) a finite question.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cedarpy

from kernel.masks import MASKS
from kernel.types import FieldDecision, Outcome, Principal
from policies.statements import first_bad_line, statement_starts
from schema.catalog import Catalog, FieldResource

log = logging.getLogger("jointgate.policies")

SCHEMA_FILE = "jointgate.cedarschema"
DEFAULT_DIR = Path(__file__).parent
NS = "JointGate"
_FIELD_REF = re.compile(r'JointGate::Field::"([^"]*)"')


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class PolicyError(Exception):
    """The policy directory does not load; ``problems`` says where and what to fix."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str  # the @id
    effect: str  # permit / forbid
    file: str
    line: int
    mask: str | None  # None: not a masking permit; "": the field's own mask; else a mask kind
    flag: str | None


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything about the request a policy may look at, besides principal and resource."""

    purpose: str
    case_id: str = ""
    justification: str = ""
    in_team: bool = False
    teams: tuple[str, ...] = ()
    break_glass: bool = False

    def as_cedar(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            # whether, not which: the caller chooses the id (schema visibility enumerates this)
            "has_case": bool(self.case_id),
            # whether, not what: decisions (and their cache) must not depend on free text
            "has_justification": bool(self.justification),
            "in_team": self.in_team,
            "teams": list(self.teams),
            "break_glass": self.break_glass,
        }

    @property
    def key(self) -> tuple[object, ...]:
        return (
            self.purpose,
            self.case_id,
            bool(self.justification),
            self.in_team,
            self.teams,
            self.break_glass,
        )


@dataclass(frozen=True, slots=True)
class RecordLabels:
    """A record's labels as policies see them (linked_to_case is relative to the request: in
    the declared case's scope, by the record's labels or, in a team's request, by its links to
    the case's subjects: schema/scope.py)."""

    agency: str
    handling: str
    sensitivity: int
    linked_to_case: bool


@dataclass(frozen=True, slots=True)
class RecordDecision:
    visible: bool
    policies: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyBundle:
    directory: Path
    version: str
    text: str
    schema_text: str
    policies: dict[str, Policy]  # by Cedar's generated id (policy0, policy1, ...)
    policy_set: Any = field(repr=False)  # cedarpy.PolicySet
    names_users: bool = True  # a policy names a user by id: decisions depend on the subject
    # what policies can tell fields apart by: the attributes they read (of anything), and
    # the fields they name by id; None: everything (unknown)
    attributes_read: frozenset[str] | None = None
    fields_named: frozenset[str] | None = None
    # the roles policies ask about, if all they ever ask is whether the caller has one of them
    roles_asked: frozenset[str] | None = None
    # boolean context attributes that, true, can only let more through (see _helping)
    helping: frozenset[str] = frozenset()


def load_bundle(directory: Path, catalog: Catalog) -> PolicyBundle:
    """Load and validate a policy directory; raises PolicyError listing every problem."""
    directory = Path(directory)
    schema_path = directory / SCHEMA_FILE
    files = sorted(directory.glob("*.cedar"))
    problems: list[Problem] = []
    if not schema_path.exists():
        problems.append(Problem(str(schema_path), 1, "missing: the Cedar schema for the policies"))
    if not files:
        problems.append(Problem(str(directory), 1, "no *.cedar policy files"))
    if problems:
        raise PolicyError(problems)
    schema_text = schema_path.read_text()
    texts = {path: path.read_text() for path in files}
    for path, text in texts.items():
        problems.extend(_syntax_problems(path, text))
    if problems:
        raise PolicyError(problems)

    combined = "\n".join(texts.values())
    starts = statement_starts(texts)  # Cedar id (policyN) -> (file, line)
    parsed = json.loads(cedarpy.policies_to_json_str(combined))["staticPolicies"]
    policies: dict[str, Policy] = {}
    seen: dict[str, str] = {}
    for cedar_id, body in parsed.items():
        file, line = starts[cedar_id]
        notes = body.get("annotations") or {}
        name = notes.get("id")
        if not name:
            problems.append(Problem(file, line, 'policy has no @id("...") annotation; add one'))
            continue
        if name in seen:
            problems.append(Problem(file, line, f"@id {name!r} is used twice (also {seen[name]})"))
        seen[name] = f"{file}:{line}"
        mask = (notes["mask"] or "") if "mask" in notes else None
        if mask and mask != "default" and mask not in MASKS:
            known = ", ".join(sorted(MASKS))
            problems.append(Problem(file, line, f"@mask({mask!r}) is not a mask; known: {known}"))
        policies[cedar_id] = Policy(
            name, body["effect"], file, line, "" if mask == "default" else mask, notes.get("flag")
        )

    try:
        validation = cedarpy.validate_policies(combined, schema_text)
    except ValueError as exc:
        raise PolicyError([Problem(str(schema_path), 1, f"schema does not parse: {exc}")]) from None
    for error in validation.errors:
        file, line = starts.get(error.policy_id, (str(directory), 1))
        name = policies[error.policy_id].name if error.policy_id in policies else error.policy_id
        problems.append(
            Problem(file, line, error.error.replace(f"`{error.policy_id}`", f"`{name}`"))
        )

    for path, text in texts.items():
        for number, line_text in enumerate(text.splitlines(), 1):
            for ref in _FIELD_REF.findall(line_text):
                type_name, _, field_name = ref.partition(".")
                resource = catalog.get((type_name, field_name))
                if resource is None:
                    problems.append(
                        Problem(str(path), number, f"{ref} is not a field of the GraphQL schema")
                    )
                elif resource.decided_as is not None:
                    problems.append(Problem(str(path), number, _tagged(resource)))
    if problems:
        raise PolicyError(problems)

    digest = hashlib.sha256(schema_text.encode())
    for path, text in texts.items():
        digest.update(f"\0{path.name}\0".encode() + text.encode())
    return PolicyBundle(
        directory=directory,
        version=digest.hexdigest()[:16],
        text=combined,
        schema_text=schema_text,
        policies=policies,
        policy_set=cedarpy.PolicySet.from_str(combined),
        names_users=bool(_named(parsed, f"{NS}::User")),
        attributes_read=frozenset(
            access["attr"]
            for node in _nodes(parsed)
            for access in (node.get("."), node.get("has"))
            if isinstance(access, dict) and "attr" in access
        ),
        fields_named=frozenset(_named(parsed, f"{NS}::Field")),
        roles_asked=_roles_asked(parsed),
        helping=_helping(parsed),
    )


def _tagged(resource: FieldResource) -> str:
    """Why a policy may not name ``resource``, a field of a personal-data category."""
    assert resource.decided_as is not None
    person = ".".join(resource.decided_as)
    return (
        f"{resource.path} is {resource.personal} data, decided as {person} wherever it"
        f' appears: name {person} instead (docs/policies.md, "Fields are decided by data'
        ' category")'
    )


def _nodes(tree: Any) -> Iterable[dict[str, Any]]:
    """Every JSON object in a policy's JSON form (Cedar's EST), depth first."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _helping(policies: dict[str, Any]) -> frozenset[str]:
    """Context attributes that only ever help: read in permits only where true makes the
    permit hold more often, in forbids only where true makes them hold less often, and only
    through ``&&``, ``||``, ``!`` (no ``==``, no ``if``). Decisions are monotone in them, so a
    context with one of them true decides at least as much as the same context with it false.
    """
    seen: dict[str, set[bool | None]] = {}

    def walk(node: Any, helps: bool | None) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, None)
            return
        if not isinstance(node, dict):
            return
        access = node.get(".")
        if isinstance(access, dict) and access.get("left") == {"Var": "context"}:
            seen.setdefault(str(access.get("attr")), set()).add(helps)
            return
        operands = node.get("&&", node.get("||"))
        if isinstance(operands, dict):
            walk(operands.get("left"), helps)
            walk(operands.get("right"), helps)
        elif "!" in node:
            walk(node["!"].get("arg"), None if helps is None else not helps)
        else:
            for value in node.values():
                walk(value, None)

    for policy in policies.values():
        permit = policy.get("effect") == "permit"
        for condition in policy.get("conditions") or ():
            holds = condition.get("kind") == "when"
            walk(condition.get("body"), permit == holds)
    return frozenset(name for name, ways in seen.items() if ways == {True})


def _undominated(
    contexts: Sequence[DecisionContext], helping: frozenset[str]
) -> list[DecisionContext]:
    """``contexts`` less those another decides at least as much as: the same in everything
    but ``helping`` attributes, and true in every one of those it has true."""
    views = [c.as_cedar() for c in contexts]

    def covers(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return a != b and all(
            (a[k] or not b[k]) if k in helping else a[k] == b[k] for k in a.keys() | b.keys()
        )

    return [c for c, b in zip(contexts, views, strict=True) if not any(covers(a, b) for a in views)]


_ROLES = {".": {"left": {"Var": "principal"}, "attr": "roles"}}


def _roles_asked(policies: Any) -> frozenset[str] | None:
    """The role names policies test the caller for, if every use of ``principal.roles`` is
    ``contains`` / ``containsAny`` / ``containsAll`` of literal names; else None (roles may
    matter in other ways, e.g. ``isEmpty()``)."""
    asked: set[str] = set()
    tests = 0
    for node in _nodes(policies):
        for method in ("contains", "containsAny", "containsAll"):
            call = node.get(method)
            if isinstance(call, dict) and call.get("left") == _ROLES:
                names = _literal_strings(call.get("right"))
                if names is None:
                    return None
                asked |= names
                tests += 1
    uses = sum(1 for node in _nodes(policies) if node.get(".", {}).get("attr") == "roles")
    return frozenset(asked) if uses == tests else None


def _literal_strings(expression: Any) -> set[str] | None:
    if isinstance(expression, dict) and isinstance(expression.get("Value"), str):
        return {expression["Value"]}
    if isinstance(expression, dict) and isinstance(expression.get("Set"), list):
        names: set[str] = set()
        for item in expression["Set"]:
            found = _literal_strings(item)
            if found is None:
                return None
            names |= found
        return names
    return None


def _named(policies: Any, entity_type: str) -> set[str]:
    """The ids of the entities of ``entity_type`` policies name (``User::"alice"``)."""
    return {
        str(node["id"])
        for node in _nodes(policies)
        if node.get("type") == entity_type and "id" in node
    }


def _syntax_problems(path: Path, text: str) -> list[Problem]:
    try:
        cedarpy.PolicySet.from_str(text)
    except ValueError as exc:
        return [Problem(str(path), first_bad_line(text), f"does not parse: {exc}")]
    return []


class PolicyEngine:
    """Decides fields and records for one loaded bundle."""

    def __init__(self, bundle: PolicyBundle, catalog: Catalog) -> None:
        self.bundle = bundle
        self.catalog = catalog
        self._fields = cedarpy.Entities.from_json_str(
            json.dumps([_field_entity(r) for r in catalog.values()])
        )
        self._alike = _alike(catalog.values(), bundle, self.deciding)

    @property
    def version(self) -> str:
        return self.bundle.version

    def deciding(self, resource: FieldResource) -> FieldResource:
        """The field whose decision ``resource`` gets: the ``Person`` field of its personal-data
        category (``BankAccount.holderId``: ``Person.idNumber``), else itself."""
        if resource.decided_as is None:
            return resource
        return self.catalog[resource.decided_as]

    def decide(
        self, principal: Principal, context: DecisionContext, resources: Sequence[FieldResource]
    ) -> list[FieldDecision]:
        if not resources:
            return []
        entities = self._fields.with_added_json_str(json.dumps([_user_entity(principal)]))
        ctx = context.as_cedar()
        requests = [
            _request(principal, "read", "Field", self.deciding(r).path, ctx) for r in resources
        ]
        results = cedarpy.is_authorized_batch(requests, self.bundle.policy_set, entities)
        return [self._field_decision(r, res) for r, res in zip(resources, results, strict=True)]

    def principal_key(self, principal: Principal) -> tuple[object, ...]:
        """Everything of ``principal`` a decision can depend on: the attributes
        :func:`_user_entity` gives Cedar (of the roles, those policies ask about), and the
        subject only if a policy names users. Principals with the same key are decided alike."""
        bundle = self.bundle
        subject = principal.subject if bundle.names_users else ""
        asked = bundle.roles_asked
        roles = principal.roles if asked is None else principal.roles & asked
        return (subject, principal.agency, roles, principal.clearance)

    def reachable(
        self, principal: Principal, contexts: Sequence[DecisionContext]
    ) -> frozenset[tuple[str, str]]:
        """The (type, field) pairs allowed or masked in at least one of ``contexts``.

        One batch of decisions, in every context no other context decides at least as much
        as, of one field of each set of fields that no policy can tell apart (the same decision
        for all of them; a field of a personal-data category is in its ``Person`` field's set).
        """
        alike = self._alike
        contexts = _undominated(contexts, self.bundle.helping)
        if not alike or not contexts:
            return frozenset()
        entities = self._fields.with_added_json_str(json.dumps([_user_entity(principal)]))
        requests = [
            _request(principal, "read", "Field", self.deciding(fields[0]).path, ctx)
            for ctx in (c.as_cedar() for c in contexts)
            for fields in alike
        ]
        results = cedarpy.is_authorized_batch(requests, self.bundle.policy_set, entities)
        found: set[tuple[str, str]] = set()
        for i, result in enumerate(results):
            fields = alike[i % len(alike)]
            if not result.allowed:
                continue
            if self._field_decision(fields[0], result).outcome is not Outcome.DENY:
                found.update((r.type_name, r.field_name) for r in fields)
        return frozenset(found)

    def decide_records(
        self, principal: Principal, context: DecisionContext, labels: Sequence[RecordLabels]
    ) -> list[RecordDecision]:
        if not labels:
            return []
        records = [_record_entity(i, lab) for i, lab in enumerate(labels)]
        entities = [_user_entity(principal), *records]
        ctx = context.as_cedar()
        requests = [
            _request(principal, "readRecord", "Record", str(i), ctx) for i in range(len(labels))
        ]
        results = cedarpy.is_authorized_batch(requests, self.bundle.policy_set, entities)
        out = []
        for res in results:
            permits = self._policies(res)
            if not res.allowed:
                out.append(RecordDecision(False, tuple(p.name for p in permits)))
                continue
            out.append(RecordDecision(True, tuple(p.name for p in permits), _flags(permits)))
        return out

    def _policies(self, result: Any) -> list[Policy]:
        for error in result.diagnostics.errors:
            log.warning("policy evaluation error: %s", error)
        # by @id: the order Cedar gives is not stable, and audit records cite them in this one
        return sorted((self.bundle.policies[r] for r in result.diagnostics.reasons), key=_name)

    def _field_decision(self, resource: FieldResource, result: Any) -> FieldDecision:
        deciding = self._policies(result)
        names = tuple(p.name for p in deciding)
        if not result.allowed:
            return FieldDecision(Outcome.DENY, policies=names or ("default-deny",))
        full = [p for p in deciding if p.mask is None]
        if full:
            return FieldDecision(
                Outcome.ALLOW, policies=tuple(p.name for p in full), flags=_flags(full)
            )
        explicit = next((p.mask for p in deciding if p.mask), None)
        kind = explicit or resource.mask
        if kind is None:
            return FieldDecision(Outcome.DENY, policies=(*names, "field-cannot-be-masked"))
        return FieldDecision(Outcome.MASK, mask=kind, policies=names, flags=_flags(deciding))


def _name(policy: Policy) -> str:
    return policy.name


def _alike(
    resources: Iterable[FieldResource],
    bundle: PolicyBundle,
    deciding: Callable[[FieldResource], FieldResource],
) -> list[list[FieldResource]]:
    """Fields grouped so that no policy of ``bundle`` can tell two of a group apart: none is
    named by id, they agree on every attribute any policy reads, and on whether they have a
    mask (which decides a masked-only permit). A field is described by the one ``deciding``
    names (a tagged field by its ``Person`` field, whose mask it has exactly when that does:
    schema.catalog checks it), so it is grouped with that field."""
    groups: dict[tuple[object, ...], list[FieldResource]] = {}
    for tagged in resources:
        resource = deciding(tagged)
        attributes = _field_entity(resource)["attrs"]
        named, read = bundle.fields_named, bundle.attributes_read
        key = (
            resource.path if named is None or resource.path in named else "",
            tuple(v for k, v in sorted(attributes.items()) if read is None or k in read),
            resource.mask is None,
        )
        groups.setdefault(key, []).append(tagged)
    return list(groups.values())


def _flags(policies: Iterable[Policy]) -> tuple[str, ...]:
    """A flag counts only if every deciding policy carries it (nothing else would allow)."""
    flags = [p.flag for p in policies]
    if flags and all(flags) and len(set(flags)) == 1:
        return (str(flags[0]),)
    return ()


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"{NS}::{kind}", "id": ident}


def _request(
    principal: Principal, action: str, kind: str, ident: str, ctx: dict[str, Any]
) -> dict[str, Any]:
    return {
        "principal": _uid("User", principal.subject),
        "action": _uid("Action", action),
        "resource": _uid(kind, ident),
        "context": ctx,
    }


def _user_entity(principal: Principal) -> dict[str, Any]:
    # every attribute given here must be in PolicyEngine.principal_key (the visibility cache)
    return {
        "uid": _uid("User", principal.subject),
        "attrs": {
            "agency": principal.agency,
            "roles": sorted(principal.roles),
            "clearance": principal.clearance,
        },
        "parents": [],
    }


def _field_entity(resource: FieldResource) -> dict[str, Any]:
    return {
        "uid": _uid("Field", resource.path),
        "attrs": {
            "type_name": resource.type_name,
            "field_name": resource.field_name,
            "agency": resource.agency,
            "category": resource.category.value,
            "sensitivity": resource.sensitivity,
            "maskable": resource.mask is not None,
        },
        "parents": [],
    }


def _record_entity(index: int, labels: RecordLabels) -> dict[str, Any]:
    return {
        "uid": _uid("Record", str(index)),
        "attrs": {
            "agency": labels.agency,
            "handling": labels.handling,
            "sensitivity": labels.sensitivity,
            "linked_to_case": labels.linked_to_case,
        },
        "parents": [],
    }
