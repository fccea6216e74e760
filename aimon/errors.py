"""aimon's exceptions and the one mapping from an outcome to a process exit code.

Exit codes are part of the contract with cron jobs and CI pipelines:

- 0: the command ran.
- 1: a gate the user asked for failed (``--fail-on``, budgets, alerts).
- 2: bad usage or unusable input, or anything else that stopped the command (an OS
  error such as a full disk, an unexpected failure); one line that says what to do next.
- 130: interrupted (Ctrl-C); the line says what was and was not written.

Library code (``store``, ``analysis``) raises these; only ``aimon.cli.main`` turns
them into an exit code and a single line on stderr.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


class AimonError(Exception):
    """Base class: an error with a message meant for the user, not a traceback."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(AimonError):
    """The command line asks for something that cannot be done."""


class InputError(AimonError):
    """An input file, option value or database cannot be used."""


class DatabaseInUse(AimonError):
    """Another process holds the database file's write lock."""


class SchemaError(AimonError):
    """The database was written by another aimon (newer schema) or is not an aimon database."""


class Interrupted(AimonError):
    """Ctrl-C stopped the command; the message says what had been written by then."""

    exit_code = ExitCode.INTERRUPTED


class GateFailed(AimonError):
    """A check the user asked for failed; the message lists why, one line per breach."""

    exit_code = ExitCode.GATE_FAILED


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code a finished command should return for ``exc``."""
    if isinstance(exc, AimonError):
        return exc.exit_code
    return ExitCode.USAGE
