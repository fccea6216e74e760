"""The ``aimon`` command line: thin typer commands that parse, call, render.

Only :func:`main` (and the group's ``invoke``) turn exceptions into exit codes: an
aimon error prints one line on stderr and exits with its code (see
``aimon.errors``); ``AIMON_DEBUG=1`` re-raises it with the traceback instead.
"""

from __future__ import annotations

import inspect
import os
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from aimon import __version__
from aimon.errors import AimonError, ExitCode
from aimon.render import err_console


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
    ORDER = ("ingest", "report", "cost", "alerts", "incident", "abtest", "drift", "similarity", "audit", "redact",
             "forget", "purge", "sql", "db")

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (self.ORDER.index(n) if n in self.ORDER else len(self.ORDER), n))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            _one_line_summaries(cmd)
        return cmd

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AimonError as exc:
            if _debug():
                raise
            err_console.print(Text.assemble(("aimon: error: ", "bold red"), str(exc)),
                              soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            err_console.print("aimon: interrupted; nothing was written")
            raise typer.Exit(130) from None


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
    )


_register()


def main() -> None:
    """Console entry point."""
    try:
        app(prog_name="aimon")
    except AimonError as exc:  # raised outside a command (option callbacks)
        if _debug():
            raise
        err_console.print(f"aimon: error: {exc}", highlight=False, markup=False)
        raise SystemExit(int(exc.exit_code)) from None
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise SystemExit(130) from None


__all__ = ["app", "main", "ExitCode"]
