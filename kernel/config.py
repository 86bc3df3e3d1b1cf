"""The configuration error.

Each part of JointGate declares and validates its own settings (kernel/settings.py) and raises
:class:`ConfigError` with messages that start with the key's path (``gateway.port: ...``) and
say what to do.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key and what to do. One error may
    carry several problems (``problems``, a line each in the message): a configuration is
    checked whole, so that one run names every mistake."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems: tuple[str, ...] = problems
