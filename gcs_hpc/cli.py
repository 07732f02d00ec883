"""What every command-line interface of gcs_hpc shares: help that shows each option's default, in plain
text (module docstrings are reStructuredText; ``--help`` shows no RST markup)."""

from __future__ import annotations

import argparse
import re

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_text(text: str) -> str:
    """``code`` -> code and :func:`name` -> name: RST markup of docstrings as plain help text."""
    return _ROLE.sub(r"\1", text).replace("``", "")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and epilogs as written, adds ``(default: ...)`` to every option that takes a
    value and is not required (unless its help already names the default), and drops RST markup."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and action.nargs != 0 and not action.required
                and action.default is not argparse.SUPPRESS and "default" not in text.lower()):
            text += " (default: not set)" if action.default is None else " (default: %(default)s)"
        return text

    def format_help(self) -> str:
        return plain_text(super().format_help())


def with_help_defaults(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give ``parser`` and its sub-command parsers the :class:`HelpFormatter`; return ``parser``."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                with_help_defaults(sub)
    return parser
