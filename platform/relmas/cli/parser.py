"""The argparse parser every ``relmas`` command uses: one-line errors, hints, one help style.

Why a subclass and only public hooks: argparse prints the whole usage block before an error,
which buries the one line that matters in a log, and gives no hint for a typo. Both are fixed
from ``error()`` (the documented override point) and ``add_argument()`` (which records every
option string for the hints and writes the default into the help text), so nothing depends on
argparse's private methods or attributes, which change between Python versions.

Help style, for every option of every command: ``<what it does> (default: <value>)``. A default
of ``None`` means something different per option ("every core", "a fresh local Ray"), so the
author must spell it out as ``(default: ...)`` in the help. ``tests/cli/test_help.py`` walks
every command's ``--help`` and fails on an option without help or an unexplained ``None``.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import re
from typing import Any, NoReturn

from relmas.errors import did_you_mean, one_line

# "argument COMMAND: invalid choice: 'simulat' (choose from 'quickstart', 'hw', ...)" (3.11) or
# "... (choose from quickstart, hw, ...)" (3.12+)
_INVALID_CHOICE = re.compile(
    r"invalid choice: (?P<value>'.*?'|\S+) \(choose from (?P<choices>.*)\)"
)
_UNRECOGNIZED = "unrecognized arguments:"


def default_text(action: argparse.Action) -> str | None:
    """The ``(default: ...)`` text for ``action``; ``None`` when the author must write it."""
    default = action.default
    if action.nargs == 0:  # a flag: store_true / store_false / store_const
        return "on" if default else "off"
    if default is None:
        return None
    if isinstance(default, list | tuple):
        return ",".join(map(str, default)) or "none"
    return str(default)


def styled_help(action: argparse.Action) -> str | None:
    """``action.help`` with ``(default: X)`` appended in the house style.

    Left as written when the author already says ``(default: ...)``, for positionals, and for
    an option without help or with an unexplained ``None`` default: those are bugs in relmas
    that ``tests/cli/test_help.py`` reports, not reasons to break the command at run time.
    """
    text = action.help
    if not text or text is argparse.SUPPRESS or action.default is argparse.SUPPRESS:
        return text
    if not action.option_strings or "(default:" in text:
        return text
    if action.required:
        return f"{text} (required)"
    shown = default_text(action)
    return text if shown is None else f"{text} (default: {shown.replace('%', '%%')})"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like a UserError, and suggest names.

    Sub-command parsers are made by :meth:`add_subparsers` with the same class and share one
    registry of option strings, so ``relmas simulate --sheduler`` can be told ``--scheduler``.
    Exit code stays 2 (``argparse``'s ``exit``), as for every user mistake.
    """

    def __init__(self, *args: Any, option_registry: set[str] | None = None, **kwargs: Any):
        # Set before super().__init__, which adds -h through add_argument.
        self.option_registry: set[str] = set() if option_registry is None else option_registry
        self.options: list[argparse.Action] = []  # as added, for the help test
        self.subcommands: dict[str, OneLineParser] = {}
        if kwargs.get("formatter_class") is argparse.ArgumentDefaultsHelpFormatter:
            kwargs["formatter_class"] = argparse.HelpFormatter  # defaults are added here already
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """Record the option strings and put the default into the help text."""
        action = super().add_argument(*args, **kwargs)
        action.help = styled_help(action)
        self.option_registry.update(action.option_strings)
        self.options.append(action)
        return action

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Sub-command parsers of this class, sharing this parser's option registry."""
        kwargs.setdefault(
            "parser_class", functools.partial(type(self), option_registry=self.option_registry)
        )
        action = super().add_subparsers(**kwargs)
        self.subcommands = action.choices  # filled by add_parser; argparse's public attribute
        return action

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message[; did you mean ...]; see --help`` and exit 2."""
        text = one_line(" ".join(_shorter_choice_error(message).split()))  # argv may hold \n
        hint = one_line(self._hint(message))
        self.exit(2, f"{self.prog}: error: {text}; {hint}see '{self.prog} --help'\n")

    def _hint(self, message: str) -> str:
        """For ``unrecognized arguments: --sheduler x``, the closest option of any command; for
        a stray word (``--schedulers edf sjf``), that lists are one comma-separated value."""
        if not message.startswith(_UNRECOGNIZED):
            return ""
        tokens = message[len(_UNRECOGNIZED) :].split()
        if tokens and tokens[0][:1] != "-":
            return "a list is one comma-separated value, e.g. --schedulers edf,sjf; "
        options = sorted(self.option_registry)
        for token in tokens:
            others = [o for o in options if o != token]
            close = difflib.get_close_matches(token, others, n=1, cutoff=0.75)
            if token[:1] == "-" and close:
                return f"did you mean {close[0]!r}? "
        return ""


def _shorter_choice_error(message: str) -> str:
    """An invalid choice (a sub-command typo) gets a did-you-mean before the list of choices."""
    match = _INVALID_CHOICE.search(message)
    if match is None:
        return message
    value = match["value"].strip("'")
    choices = [c.strip().strip("'") for c in match["choices"].split(",")]
    head = message[: match.start()]
    return f"{head}invalid choice {value!r}; {did_you_mean(value, choices)}"
