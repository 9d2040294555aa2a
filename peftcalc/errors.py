"""The only exceptions peftcalc raises on purpose.

    PeftcalcError (ValueError)      anything the user can fix
     └── InputError                 one bad value: names the field, echoes the value, says what is allowed

The CLI turns a ``PeftcalcError`` into one line on stderr and exit code 2; anything else is a bug
(exit code 1).
"""

from __future__ import annotations

from typing import Any


class PeftcalcError(ValueError):
    """Raised when a request cannot be answered because of what the user asked."""


class InputError(PeftcalcError):
    """Raised when one input value is out of bounds, malformed or unknown.

    ``str(err)`` reads: `` `--r` must be a positive integer ≤ 4096, got -1 ``.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = self.value if isinstance(self.value, str) else repr(self.value)
        if isinstance(self.value, str) and len(shown) > 80:
            shown = shown[:77] + "..."
        return f"`{self.field}` must be {self.allowed}, got {shown}"
