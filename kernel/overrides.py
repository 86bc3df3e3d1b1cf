"""``JOINTGATE_*`` environment overrides of ``jointgate.toml`` settings.

One variable per setting: ``JOINTGATE_`` then the TOML path in capitals, a double underscore
between levels, so that keys keep their own single underscores::

    JOINTGATE_GATEWAY__PORT=9000                  # [gateway] port = 9000
    JOINTGATE_AGENCIES__POLICE__URL=https://...   # [agencies.police] url = "https://..."
    JOINTGATE_AGENCIES__POLICE__TLS__CA_FILE=...  # [agencies.police.tls] ca_file = "..."
    JOINTGATE_GATEWAY__CORS_ALLOWED_ORIGINS='["https://a.example"]'   # or a,b

Overrides are applied to the parsed file before validation, so a value from the environment is
checked exactly like one from the file, and an error names the variable it came from. Variables
with a single underscore (``JOINTGATE_BANK_KEY``, ``JOINTGATE_AUDIT_DATA_KEY``) are not
settings: they hold secrets, and a setting names them (``key_env``, ``data_key_env``).

Which variables exist and how their text is read follows from the settings' declarations
(kernel/settings.py): :class:`Overrides` takes the tables (``agencies.*`` for each of the
names given) and the TOML type of each key.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kernel.config import ConfigError
from kernel.settings import SECRET_KEYS, Kind

PREFIX = "JOINTGATE_"
SEPARATOR = "__"

_EXAMPLES: dict[Kind, str] = {
    "str": "text",
    "int": "a whole number (digits only)",
    "float": "a number such as 2.5",
    "bool": "true or false",
    "list": 'a TOML array such as ["a", "b"], or a comma-separated list',
    "table": "a TOML inline table such as {Person = 100}",
}


@dataclass(frozen=True, slots=True)
class Override:
    """One ``JOINTGATE_*`` variable: the setting it sets and the value, already typed."""

    variable: str
    path: tuple[str, ...]  # ("agencies", "police", "url")
    value: Any

    @property
    def key(self) -> str:
        return ".".join(self.path)


def variable_name(path: tuple[str, ...]) -> str:
    """``("gateway", "port")`` -> ``JOINTGATE_GATEWAY__PORT``."""
    return PREFIX + SEPARATOR.join(part.upper() for part in path)


class Overrides:
    """The override variables of a set of tables: ``tables`` maps a table's path (``*``: any
    of ``names[prefix]``, as in ``agencies.*``) to its keys and their TOML types."""

    def __init__(
        self, tables: Mapping[str, Mapping[str, Kind]], names: Mapping[str, tuple[str, ...]]
    ) -> None:
        self.tables = tables
        self.names = names

    def all_variables(self) -> dict[str, tuple[str, ...]]:
        """Every override variable, agency tables expanded, with the setting path it sets."""
        found: dict[str, tuple[str, ...]] = {}
        for table, keys in self.tables.items():
            prefix = table.split(".")[0]
            for name in self.names.get(prefix, ("",)) if "*" in table else ("",):
                parts = tuple(name if p == "*" else p for p in table.split("."))
                for key in keys:
                    found[variable_name((*parts, key))] = (*parts, key)
        return found

    def overrides(
        self, environ: Mapping[str, str], raw: Mapping[str, Any] | None = None
    ) -> list[Override]:
        """The ``JOINTGATE_*`` setting overrides in ``environ``, typed (:func:`scan`); a ConfigError
        names every bad variable."""
        found, problems = self.scan(environ, raw)
        if problems:
            raise ConfigError(*problems)
        return found

    def scan(
        self, environ: Mapping[str, str], raw: Mapping[str, Any] | None = None
    ) -> tuple[list[Override], list[str]]:
        """The ``JOINTGATE_*`` setting overrides in ``environ``, typed, and a problem for each bad
        one: a variable that looks like one but names no setting is an error (a typo must not be
        silently ignored), unless a ``*_env`` setting of the parsed file ``raw`` names it as the
        home of a secret."""
        found, problems = [], []
        single = {name.replace(SEPARATOR, "_"): name for name in self.all_variables()}
        secrets = set(_secret_variables(raw or {}))
        for variable in sorted(environ):
            if not variable.startswith(PREFIX):
                continue
            if SEPARATOR not in variable:
                if variable in single and variable not in secrets:
                    problems.append(
                        f"{variable}: not a setting; did you mean {single[variable]}? (two"
                        " underscores between table and key, docs/configuration.md)"
                    )
                continue  # a secret named by a *_env setting, such as JOINTGATE_BANK_KEY
            path = tuple(variable[len(PREFIX) :].lower().split(SEPARATOR))
            try:
                found.append(
                    Override(variable, path, self._typed(variable, path, environ[variable]))
                )
            except ConfigError as exc:
                problems.extend(exc.problems)
        return found, problems

    def _typed(self, variable: str, path: tuple[str, ...], text: str) -> Any:
        if len(path) < 2 or not all(path):
            raise ConfigError(
                f"{variable}: not a setting; write JOINTGATE_TABLE__KEY,"
                " e.g. JOINTGATE_GATEWAY__PORT"
            )
        *table_path, key = path
        names = self.names.get(table_path[0])
        if names is not None and len(table_path) > 1 and table_path[1] not in names:
            what = "agency" if table_path[0] == "agencies" else "name"
            raise ConfigError(
                f"{variable}: unknown {what} {table_path[1]!r}; known: {', '.join(names)}"
            )
        keys = self.tables.get(self._pattern(table_path))
        if keys is None:
            if self.tables.get(self._pattern(table_path[:-1]), {}).get(table_path[-1]) == "table":
                raise ConfigError(
                    f"{variable}: not a setting; {variable_name(tuple(table_path))} takes the whole"
                    f" table, as {_EXAMPLES['table']}"
                )
            tables = ", ".join(sorted(t.replace("*", "NAME") for t in self.tables))
            raise ConfigError(f"{variable}: no table [{'.'.join(table_path)}]; tables: {tables}")
        kind = keys.get(key)
        if kind is None:
            if key in SECRET_KEYS:
                raise ConfigError(
                    f"{variable}: secrets are not settings; put the secret in a file or in a"
                    " variable of its own and name that with a *_file or *_env setting"
                    " (docs/configuration.md)"
                )
            close = difflib.get_close_matches(key, keys, n=1)
            hint = (
                f"did you mean {variable_name((*table_path, close[0]))}?"
                if close
                else f"known keys: {', '.join(keys)}"
            )
            raise ConfigError(f"{variable}: {'.'.join(path)} is not a setting; {hint}")
        try:
            return _parse(kind, text)
        except ValueError:
            raise ConfigError(f"{variable}: {'.'.join(path)} must be {_EXAMPLES[kind]}") from None

    def _pattern(self, table_path: list[str]) -> str:
        """``agencies.police.tls`` -> ``agencies.*.tls``, the key of the tables."""
        if table_path[:1] and table_path[0] in self.names and len(table_path) > 1:
            table_path = [table_path[0], "*", *table_path[2:]]
        return ".".join(table_path)


def _secret_variables(table: Mapping[str, Any]) -> list[str]:
    """The variables that ``*_env`` settings anywhere in ``table`` name."""
    names = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            names += _secret_variables(value)
        elif key.endswith("_env") and isinstance(value, str):
            names.append(value)
    return names


def merge(raw: Mapping[str, Any], found: list[Override]) -> tuple[dict[str, Any], list[str]]:
    """A copy of the parsed file with the overrides set, and a problem for each override whose
    table is a value in the file (that one is left out)."""
    merged: dict[str, Any] = copy.deepcopy(dict(raw))
    problems = []
    for override in found:
        table = merged
        for i, part in enumerate(override.path[:-1]):
            inner = table.setdefault(part, {})
            if not isinstance(inner, dict):
                where = ".".join(override.path[: i + 1])
                problems.append(f"{where}: must be a table ([{where}]) to take {override.variable}")
                break
            table = inner
        else:
            table[override.path[-1]] = override.value
    return merged, problems


def blame_problem(problem: str, found: list[Override]) -> str:
    """``problem`` naming the variable when the faulty setting came from the environment."""
    key = problem.split(":", 1)[0]
    for override in found:
        if key == override.key or key.startswith(override.key + "."):
            return f"{problem} (set by {override.variable})"
    return problem


def _parse(kind: Kind, text: str) -> Any:
    text = text.strip() if kind != "str" else text
    if kind == "str":
        return text
    if kind == "int":
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError(text)
        return int(text)
    if kind == "float":
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "list":
        if text.startswith("["):
            value = _toml_value(text)
            if not isinstance(value, list):
                raise ValueError(text)
            return value
        return [item.strip() for item in text.split(",") if item.strip()]
    value = _toml_value(text)
    if not isinstance(value, dict):
        raise ValueError(text)
    return value


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(text) from exc
