"""The ``aimon`` command line: thin typer commands that parse, call, render.

Only :func:`main` (and the group's ``invoke``) turn exceptions into exit codes: an
aimon error prints one line on stderr and exits with its code (see
``aimon.errors``); ``AIMON_DEBUG=1`` re-raises it with the traceback instead.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from aimon import __version__
from aimon.errors import AimonError, ExitCode
from aimon.render import err_console, visible


def _debug() -> bool:
    return os.environ.get("AIMON_DEBUG", "") not in ("", "0", "false")


def _one_line_summaries(cmd: Any) -> None:
    """Give each command a summary for the command lists: its help's first paragraph
    on one line (typer's rich lists keep the docstring's line breaks)."""
    if getattr(cmd, "short_help", "") is None and cmd.help:
        first = inspect.cleandoc(cmd.help).split("\n\n")[0]
        cmd.short_help = " ".join(first.split())
    for sub in (getattr(cmd, "commands", None) or {}).values():
        _one_line_summaries(sub)


class AimonGroup(TyperGroup):
    """The root group: every command runs inside its ``invoke``, so errors map here."""

    # The order a new user meets the commands in: load, the daily questions, then
    # compliance and housekeeping.
    ORDER = ("ingest", "report", "cost", "alerts", "incident", "abtest", "drift", "similarity", "validate",
             "audit", "redact", "forget", "purge", "sql", "db")

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (self.ORDER.index(n) if n in self.ORDER else len(self.ORDER), n))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            from aimon.cli.options import add_wait_option

            _one_line_summaries(cmd)
            add_wait_option(cmd)
        return cmd

    def invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
            # Output still buffered fails here, where it maps to an exit code, not in
            # click's own handler (which exits 1) or at interpreter exit.
            sys.stdout.flush()
            return result
        except BaseException as exc:  # noqa: BLE001 - every outcome maps to one exit code here
            if _is_cli_control(exc):
                raise  # help, --version, usage errors: the command-line library's own exits
            code = _report(exc)
            if code is None:
                raise
            raise typer.Exit(code) from None


def _is_cli_control(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("typer.", "click."))


def _masked_message(text: str) -> str:
    """An error or gate message with personal data masked: it may quote a value from the
    logs (a variant, a user in a gate line) or one the user typed."""
    try:
        from aimon.analysis.pii.scan import mask_values

        return mask_values([text])[0]
    except Exception:  # the message matters more than the mask of a message with no data
        return text


def _report(exc: BaseException) -> int | None:
    """Print the one line ``exc`` deserves and return the exit code (None: re-raise).

    1 only ever comes from a gate (GateFailed); anything that stopped a command is 2 with
    one line, never a traceback (AIMON_DEBUG=1 shows it); a closed pipe is not an error.
    """
    if isinstance(exc, SystemExit | GeneratorExit):
        return None
    if isinstance(exc, BrokenPipeError) or _closed_stdout(exc):
        # The reader (head, less) has what it wanted: stop quietly, as pipes expect.
        _silence_stdout()
        return 0
    if _debug():
        return None
    if isinstance(exc, AimonError):
        err_console.print(Text.assemble(("aimon: error: ", "bold red"), visible(_masked_message(str(exc)))),
                          soft_wrap=True)
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":
        # Commands that write say what was committed (ingest, forget, purge raise
        # Interrupted); a generic interrupt claims nothing it cannot know.
        err_console.print("aimon: interrupted", markup=False, highlight=False)
        return int(ExitCode.INTERRUPTED)
    if isinstance(exc, OSError):
        _silence_stdout()  # what stdout still buffers would fail again at exit
        where = f": {exc.filename}" if exc.filename else " (writing the output)"
        err_console.print(Text.assemble(("aimon: error: ", "bold red"),
                                        visible(f"{exc.strerror or exc}{where}")), soft_wrap=True)
        return int(ExitCode.USAGE)
    if isinstance(exc, Exception):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        err_console.print(Text.assemble(("aimon: error: ", "bold red"),
                                        visible(f"unexpected {type(exc).__name__}: {first} "
                                                "(AIMON_DEBUG=1 shows where; please report it)")), soft_wrap=True)
        return int(ExitCode.USAGE)
    return None


def _closed_stdout(exc: BaseException) -> bool:
    """A write to a pipe whose reader left can also surface as EINVAL/EPIPE OSError."""
    import errno

    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test runner's buffer): nothing will flush to a pipe


app = typer.Typer(
    cls=AimonGroup,
    name="aimon",
    help="Offline analysis of AI/LLM production logs: load JSONL or Parquet request and "
         "feedback logs into a DuckDB file, then ask what they cost, how fast and reliable "
         "they are, and what went wrong.",
    no_args_is_help=True,
    add_completion=False,
    # Locals hold prompts and responses: never print them in a traceback.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _hide_flag_metavars() -> None:
    from aimon.cli.options import hide_flag_metavars

    hide_flag_metavars()


_hide_flag_metavars()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aimon {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Offline analysis of AI/LLM production logs."""


def _register() -> None:
    # Importing the command modules attaches their commands to ``app``.
    from aimon.cli import (  # noqa: F401
        abtest,
        alerts,
        audit,
        cost,
        db,
        drift,
        forget,
        incident,
        ingest,
        redact,
        report,
        similarity,
        sql,
        validate,
    )


_register()


def main() -> None:
    """Console entry point."""
    try:
        app(prog_name="aimon")
    except SystemExit:
        raise
    except BaseException as exc:  # raised outside a command (option callbacks, rendering help)
        code = _report(exc)
        if code is None:
            raise
        raise SystemExit(code) from None


__all__ = ["app", "main", "ExitCode"]
