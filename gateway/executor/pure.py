"""Straight-line completion of built objects, for the compiled executor (``run.py``).

Most of a large answer is built objects (``schema.base.build``) whose selected fields are leaves
that serialize to themselves and lists of embedded objects of the same kind: graphql-core's
completion decides nothing for them. For such a selection (a *pure* one) the compiler writes one
function per object type of the operation, as ``dataclasses`` writes ``__init__``: it reads the
object's ``__dict__`` and returns the completed dict in one expression, with no response paths,
calls per field or awaitables::

    def complete(source):
        ...  # the class may be read through its __dict__
        get = values.get
        v0 = get('case_number', MISSING)
        if v0 is None or type(v0) is not exact_0:
            return None
        ...
        return {'caseNumber': v0, ...}

It answers None, before any side effect, wherever the full path could do anything but copy the
value (a withheld or missing attribute, a null for a non-null field, a value of another type, a
leaf to serialize): the caller then runs the full path, which completes, raises and locates
errors exactly as graphql-core does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from gateway.executor.program import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    KEEP_EXACT_TYPE,
    KEEP_FINITE_FLOAT,
    KEEP_INT32,
    MISSING,
    STEP_LEAF,
    STEP_OBJECT_LIST,
    STEP_TYPENAME,
    Completer,
    Step,
)
from schema.base import SPECS

__all__ = ["compile_completer"]


def compile_completer(
    type_name: str,
    steps: Sequence[Step],
    classes: dict[type, bool],
    readable: Callable[[type], bool],
) -> Completer:
    """The completing function of a pure selection on ``type_name``.

    ``readable(cls)`` tells whether reading the selected python names from an instance's
    ``__dict__`` is what ``getattr`` would do; ``classes`` caches its answers by class.
    """
    env: dict[str, Any] = {
        "MISSING": MISSING,
        "SPECS": SPECS,
        "MIN_INT": GRAPHQL_MIN_INT,
        "MAX_INT": GRAPHQL_MAX_INT,
        "isfinite": math.isfinite,
        "classes": classes,
        "readable": readable,
    }
    lines = [
        "def complete(source):",
        "    cls = type(source)",
        "    ok = classes.get(cls)",
        "    if ok is None:",
        "        ok = classes[cls] = readable(cls)",
        "    if not ok:",
        "        return None",
        "    values = getattr(source, '__dict__', None)",
        "    if values is None:",
        "        return None",
        "    get = values.get",
    ]
    entries = []
    for i, (step, key, python, exact, check, nullable, item) in enumerate(steps):
        v = f"v{i}"
        if step == STEP_TYPENAME:
            entries.append(f"{_literal(key)}: {_literal(type_name)}")
            continue
        entries.append(f"{_literal(key)}: {v}")
        lines.append(f"    {v} = get({_literal(python)}, MISSING)")
        if step == STEP_LEAF:
            env[f"exact_{i}"] = exact
            ok = f"type({v}) is exact_{i}"
            if check == KEEP_INT32:
                ok += f" and MIN_INT <= {v} <= MAX_INT"
            elif check == KEEP_FINITE_FLOAT:
                ok += f" and isfinite({v})"
            elif check != KEEP_EXACT_TYPE:
                raise ValueError(f"leaf check {check} of {type_name}.{key}")
            null = "is not None and" if nullable else "is None or"
            lines += [f"    if {v} {null} not ({ok}):", "        return None"]
            continue
        if step != STEP_OBJECT_LIST or item is None:
            raise ValueError(f"step {step} of {type_name}.{key}")
        env[f"item_{i}"] = item
        indent = "    "
        if nullable:
            lines.append(f"    if {v} is not None:")
            indent = "        "
        else:
            lines += [f"    if {v} is None:", "        return None"]
        lines += [
            f"{indent}if type({v}) is not list:",
            f"{indent}    return None",
            f"{indent}items = []",
            f"{indent}for each in {v}:",
            f"{indent}    if type(each) not in SPECS:",
            f"{indent}        return None",
            f"{indent}    each = item_{i}(each)",
            f"{indent}    if each is None:",
            f"{indent}        return None",
            f"{indent}    items.append(each)",
            f"{indent}{v} = items",
        ]
    lines.append("    return {" + ", ".join(entries) + "}")
    exec("\n".join(lines), env)  # noqa: S102 - every name in the code is a checked literal
    complete: Completer = env["complete"]
    return complete


def _literal(text: str) -> str:
    """A GraphQL or Python name as a string literal in the written code."""
    if type(text) is not str or not text.replace("_", "a").isalnum():
        raise ValueError(f"not a name: {text!r}")
    return repr(text)
