"""The ``aimon`` command line: thin typer commands that parse, call, render.

Only :func:`main` (and the group's ``invoke``) turn exceptions into exit codes: an
aimon error prints one line on stderr and exits with its code (see
``aimon.errors``); ``AIMON_DEBUG=1`` re-raises it with the traceback instead.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import os
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from aimon import __version__
from aimon.cli import coercion
from aimon.errors import AimonError, ExitCode

coercion.install()  # option values without importing pydantic (start-up: issue 16 item 8)


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


# Every command: the modules that register it on ``app`` and its line in `aimon --help`.
# The modules load only when their command runs (or shows its own help), so `aimon --help`
# starts without DuckDB, the shape registry or any analysis; tests/test_startup.py checks
# that each line here is the command's own summary. The order is the one a new user meets
# the commands in: load, the daily questions, then compliance and housekeeping.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "ingest": (("aimon.cli.ingest",), "Load request logs (or --feedback logs) into the database."),
    "report": (("aimon.cli.report",),
               "Daily and weekly reports: traffic, quality, cost and performance against the day "
               "before and a 7-day baseline."),
    "cost": (("aimon.cli.cost", "aimon.cli.similarity"),
             "What the logs cost: prices in effect, breakdowns, logged-vs-computed reconciliation, "
             "forecasts with intervals, spend anomalies, budget gates and routing opportunities. "
             "Unpriced requests are always their own bucket, never $0."),
    "alerts": (("aimon.cli.alerts",),
               "Alert rules over trailing windows: check now (for cron), replay history (to tune), "
               "list the rules."),
    "incident": (("aimon.cli.incident",), "Incidents: detect them in the logs and write post-mortems."),
    "abtest": (("aimon.cli.abtest",), "A/B experiments: variants, sizes and honest comparisons."),
    "drift": (("aimon.cli.drift",),
              "Did the traffic drift from a baseline window? Semantic drift with named topics, and "
              "the LLM signals."),
    "similarity": (("aimon.cli.similarity",),
                   "Answers against golden answers (--golden), and the consistency of answers to "
                   "repeated prompts (consistency)."),
    "validate": (("aimon.cli.validate",),
                 "Check every response: empty, too short or long for its endpoint, stuck in a loop, "
                 "unbalanced brackets or code fences, not the JSON its endpoint must answer "
                 "(optionally against a JSON Schema), a refusal, truncated, in another language than "
                 "the prompt, or off-topic (when the embedding layer is installed; otherwise reported "
                 "as skipped)."),
    "audit": (("aimon.cli.audit",),
              "Audit the logs: PII and secrets (pii), prompt injection and other attacks (security), "
              "compliance (compliance)."),
    "redact": (("aimon.cli.redact",),
               "Write a redacted copy of requests and feedback as Parquet, for sharing with analytics: "
               "every e-mail, phone number, card, SSN, IBAN, IP, key or token found in the text columns "
               "is replaced by a [REDACTED_EMAIL]-style marker, or by a keyed pseudonym such as "
               "[EMAIL_3f9a2c1b7d4e8a10] with --pseudonymize-key-file."),
    "forget": (("aimon.cli.forget",),
               "Remove every row of a user from every table: requests, feedback, PII findings, rejected "
               "records that mention the user or their requests, and any derived or cache table keyed "
               "by user_id or request_id."),
    "purge": (("aimon.cli.forget",),
              "Enforce a retention policy: delete requests older than the cutoff with every row tied "
              "to them (feedback, PII findings, caches), feedback older than the cutoff, and rejected "
              "records ingested before it."),
    "sql": (("aimon.cli.sql",), "Run one read-only SQL query against the database (DuckDB dialect)."),
    "db": (("aimon.cli.db",), "Inspect the database file."),
    "config": (("aimon.cli.config",), "Check aimon.toml and show the configuration in effect."),
}


def load_commands(names: Iterable[str] = COMMANDS) -> None:
    """Import the modules that attach these commands to ``app``."""
    for name in names:
        for module in COMMANDS[name][0]:
            importlib.import_module(module)


class AimonGroup(TyperGroup):
    """The root group: every command runs inside its ``invoke``, so errors map here.

    Commands load lazily: the group lists :data:`COMMANDS` and imports a command's module
    the first time it is looked up. The root help draws the list from the summaries alone.
    ``commands`` (click's dict of every command) loads them all, for code that walks it.
    """

    ORDER = tuple(COMMANDS)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, Any]:
        for name in COMMANDS:
            self._load(name)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, Any]) -> None:
        self._commands = value

    def _load(self, name: str) -> Any:
        cmd = self._commands.get(name)
        if cmd is None and name in COMMANDS:
            load_commands([name])
            import typer.main

            # Converts what ``app`` holds now: the commands loaded so far, not all of them.
            self._commands.update(typer.main.get_command(app)._commands)  # type: ignore[attr-defined]
            cmd = self._commands.get(name)
        return cmd

    def list_commands(self, ctx: Any) -> list[str]:
        names = set(self._commands) | set(COMMANDS)
        return sorted(names, key=lambda n: (self.ORDER.index(n) if n in self.ORDER else len(self.ORDER), n))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self._listing and cmd_name in COMMANDS and cmd_name not in self._commands:
            summary = COMMANDS[cmd_name][1]
            return TyperCommand(cmd_name, help=summary, short_help=summary)
        cmd = self._load(cmd_name)
        if cmd is not None:
            from aimon.cli.options import add_wait_option

            _one_line_summaries(cmd)
            add_wait_option(cmd)
        return cmd

    _listing = False

    def main(self, *args: Any, **kwargs: Any) -> Any:
        argv = kwargs.get("args", args[0] if args else None)
        argv = sys.argv[1:] if argv is None else list(argv)
        if not argv or {"--help", "-h"} & set(argv):
            _import_help_renderer()
        return super().main(*args, **kwargs)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # The command list needs each command's summary only: no module is imported for it.
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

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
    from rich.text import Text

    from aimon.render import err_console, visible

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
    """Flags take no value, so --help shows none: typer labels every flag ``<bool>``,
    which reads as if ``--show-pii true`` were expected."""
    from typer.core import TyperOption

    if getattr(TyperOption.display_type_rich, "_aimon", False):
        return
    shown = TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return shown(self, ctx)

    display_type_rich._aimon = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


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


class _Deferred(type):
    """A class that stands for another one not imported yet: using it imports it."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._real(), name)


def _import_help_renderer() -> None:
    """Import typer's help renderer without rich's Markdown and Traceback (start-up).

    typer.rich_utils imports both at the top, and with them pygments, rich.pretty and
    attrs: half of `aimon --help`'s import time, for Markdown help (aimon's is rich
    markup) and tracebacks (aimon prints one line). The renderer gets stand-ins that
    import the real class if it is ever used; every other importer gets the real module.
    """
    if "typer.rich_utils" in sys.modules:
        return
    import types

    stubs = {}
    for module, name in (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback")):
        if module in sys.modules:
            continue
        stub = types.ModuleType(module)
        def real(m: str = module, n: str = name) -> Any:
            return getattr(importlib.import_module(m), n)

        setattr(stub, name, _Deferred(name, (), {"_real": staticmethod(real)}))
        stubs[module] = stub
    sys.modules.update(stubs)
    try:
        import typer.rich_utils  # noqa: F401
    finally:
        for module, stub in stubs.items():
            if sys.modules.get(module) is stub:
                del sys.modules[module]


def main() -> None:
    """Console entry point."""
    # Start-up allocates a few hundred thousand long-lived objects (typer, rich, polars,
    # DuckDB's module): with the default threshold of 700 the collector runs about 130
    # times over them while a daily report starts, for a few hundred cycles freed. A
    # larger first generation (as mypy does) still collects young cycles, just less
    # often (issue 16 item 8: about 0.04 s of the daily report's CPU).
    gc.set_threshold(200_000, 30, 30)
    try:
        app(prog_name="aimon")
    except SystemExit:
        raise
    except BaseException as exc:  # raised outside a command (option callbacks, rendering help)
        code = _report(exc)
        if code is None:
            raise
        raise SystemExit(code) from None
    finally:
        # The command is done (its files and connections closed by their own context
        # managers; atexit handlers still run). Interpreter shutdown would run full
        # collections over every object start-up made, some 50,000 (typer, rich, polars,
        # DuckDB): about a sixth of the daily report's CPU, spent after its output
        # (issue 16 item 8). Frozen objects are left out of those collections; the
        # process's memory goes back to the system as it ends either way.
        gc.freeze()


__all__ = ["app", "main", "ExitCode"]
