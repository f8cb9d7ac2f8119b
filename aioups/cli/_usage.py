"""Exit codes and the usage error every sub-command shares."""

from __future__ import annotations

#: Exit codes: distinct for usage, connection, association and DIMSE failures.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_ASSOCIATION = 4
EXIT_DIMSE = 5


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""
