"""The configuration error, and the checker that collects every problem of a configuration.

Each part of JointGate validates its own settings and raises :class:`ConfigError` with messages
that start with the key's path (``gateway.port: ...``) and say what to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

_T = TypeVar("_T")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key and what to do. One error may
    carry several problems (``problems``, a line each in the message): a configuration is
    checked whole, so that one run names every mistake (:class:`Checker`)."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems: tuple[str, ...] = problems


class Checker:
    """Every problem of one configuration, not only the first.

    ``table`` builds one table on its own. When the builder refuses keys (every message starts
    with the key's path: ``gateway.port: ...``; one error may name several), the problems are
    noted, those keys dropped so that their defaults apply, and the table built again, so the
    keys after them are checked too. A problem that names a key that was dropped, as its own
    or in its text (``auth.jwks_url: required (or auth.jwks_file)``), is one of the default's,
    not the file's, and is not noted; one with a key already named (screened out as not text,
    say) neither. An error that names no key still in the table (a required key that is
    missing) ends it: builders check their required keys last, all at once, so that by then
    every other key has been checked. A table that cannot be built contributes its fallback,
    so that the rest is checked all the same: the settings built are meant to be used only when
    no problem was found."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def note(self, *problems: str) -> None:
        self.problems.extend(p for p in problems if p not in self.problems)

    def table(
        self,
        where: str,
        table: Mapping[str, Any],
        build: Callable[[dict[str, Any]], _T],
        fallback: _T,
    ) -> _T:
        named = {_path(p) for p in self.problems}
        remaining = dict(table)
        dropped: set[str] = set()
        while True:
            try:
                return build(remaining)
            except ConfigError as exc:
                self.note(
                    *(p for p in exc.problems
                      if _path(p) not in named and not _names(p, where, dropped))
                )  # fmt: skip
                keys = {_key_in(where, p) for p in exc.problems}
                wrong = {k for k in keys if k is not None and k in remaining}
                if not wrong:
                    return fallback
                for key in wrong:
                    del remaining[key]
                dropped |= wrong

    def value(self, build: Callable[[], _T], fallback: _T) -> _T:
        try:
            return build()
        except ConfigError as exc:
            self.note(*exc.problems)
            return fallback

    def raise_problems(self) -> None:
        if self.problems:
            raise ConfigError(*self.problems)


def _path(problem: str) -> str:
    """``gateway.port`` for the problem ``gateway.port: ...``."""
    return problem.split(":", 1)[0]


def _names(problem: str, where: str, keys: Collection[str]) -> bool:
    """Whether ``problem`` names one of ``keys`` of table ``where`` (``auth.jwks_file``)."""
    return any(re.search(rf"(?<![\w.]){re.escape(f'{where}.{k}')}(?!\w)", problem) for k in keys)


def _key_in(where: str, problem: str) -> str | None:
    """``port`` for the problem ``gateway.port: ...`` of table ``gateway``; None for one that
    names no key of it."""
    path = _path(problem)
    prefix = f"{where}."
    return path[len(prefix) :].split(".")[0] or None if path.startswith(prefix) else None
