"""User-facing errors.

A ``UserError`` is a mistake the user can fix (a bad name, a bad number, a malformed file). The CLI
prints it as one line and exits with code 2, never with a traceback. Everything else is a bug and
is allowed to raise normally, so real defects are not hidden behind friendly messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake in user input: names the offending field and how to fix it."""

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = one_line(field)
        self.problem = one_line(problem)
        self.fix = one_line(fix)
        field, problem, fix = self.field, self.problem, self.fix
        message = f"{field}: {problem}"
        if fix:
            message += f"; {fix}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[UserError], tuple[str, str, str]]:
        """Pickle by fields, so the error survives the trip back from a worker process."""
        return (type(self), (self.field, self.problem, self.fix))


def one_line(text: str) -> str:
    """``text`` with newlines and other control characters escaped (``\\n``, ``\\x1b``).

    Why: names in messages come from user files (a YAML key, a CSV cell, a path); a newline
    there would break the one-line contract and a terminal escape could rewrite the screen.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return a 'did you mean ...' hint plus the valid choices, for unknown-name errors."""
    options = sorted(choices)
    close = difflib.get_close_matches(value, options, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}choose one of: {', '.join(options)}"


def unknown_name(field: str, value: str, choices: Iterable[str]) -> UserError:
    """Build the standard error for a name that is not in a registry or catalog."""
    return UserError(field, f"unknown name {value!r}", did_you_mean(value, choices))
