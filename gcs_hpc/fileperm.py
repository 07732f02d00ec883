"""Permissions of what the command-line tools create: one umask policy for campaign, train, evaluate and
observe.

Everything a tool writes (stores, checkpoints, nets, metrics, figures, logs) is the user's alone by default
(umask 077: files 0600, folders 0700); ``--umask 027`` lets the group read. Umasks that would leave files
world-writable are refused.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Iterator

from gcs_hpc.errors import ConfigError

#: The default umask of every CLI: owner-only files and folders.
DEFAULT_UMASK = "077"


def parse_umask(text: str, creator: str = "the campaign") -> int:
    """``"077"`` -> ``0o077``; a clear error for anything that is not an octal umask or that leaves the
    files ``creator`` creates world-writable."""
    try:
        value = int(str(text), 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o777:
        raise ConfigError(f"--umask = {text!r} is not an octal umask; allowed: 000..777, e.g. 077 or 027")
    if value & 0o002 == 0:
        raise ConfigError(f"--umask = {text!r} leaves files {creator} creates world-writable; allowed: a "
                          "umask that removes the others' write bit (e.g. 077, 027, 022)")
    return value


def add_umask_option(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--umask`` (default :data:`DEFAULT_UMASK`) to a CLI; ``what`` names what the tool creates."""
    parser.add_argument("--umask", default=DEFAULT_UMASK, metavar="OCTAL",
                        help=f"umask for everything this command creates ({what}); default {DEFAULT_UMASK}: "
                             "owner-only; 027 lets your group read")


@contextlib.contextmanager
def umask(text: str, creator: str) -> Iterator[int]:
    """Within the block, the process creates files with the umask ``text`` (validated by
    :func:`parse_umask`; ``creator`` names the command in its error); the previous umask is restored on
    exit."""
    value = parse_umask(text, creator)
    previous = os.umask(value)
    try:
        yield value
    finally:
        os.umask(previous)
