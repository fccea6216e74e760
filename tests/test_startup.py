"""Start-up: `aimon --help` loads no command module and no heavy library (issue 16 item 8).

The root group lists its commands from ``aimon.cli.COMMANDS`` and imports a command's
module only when that command runs or shows its own help; benchmarks/startup.py times it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
import typer.main

from aimon.cli import COMMANDS, app

HEAVY = ("duckdb", "scipy", "polars", "pyarrow", "torch", "numpy", "pandas", "sentence_transformers",
         # typer converts option values through pydantic, and its help renderer imports rich's
         # Markdown (markdown_it, pygments) and Traceback (attrs): aimon.cli avoids all four.
         "pydantic", "markdown_it", "pygments", "attr",
         # libphonenumber's metadata: the PII masker imports it only when a value may be a number.
         "phonenumbers")
# aimon.cli's own helpers, loaded with the root group (not command modules).
ROOT_HELPERS = {"aimon.cli.coercion"}

RUNNER = """
import sys
sys.argv = ["aimon", *{args!r}]
try:
    from aimon.cli import main
    main()
except SystemExit:
    pass
print("LOADED:" + ",".join(sorted(m for m in sys.modules
                                 if m.split(".")[0] in {heavy!r} or m.startswith("aimon.cli.")
                                 or m.startswith("aimon.store.shapes") or m == "typer._adapters")),
      file=sys.stderr)
"""


def loaded_by(*args: str) -> set[str]:
    """The heavy modules, command modules and shapes a fresh `aimon ARGS` imported."""
    out = subprocess.run([sys.executable, "-c", RUNNER.format(args=list(args), heavy=HEAVY)],
                         capture_output=True, text=True, check=True)
    line = [x for x in out.stderr.splitlines() if x.startswith("LOADED:")][-1]
    return {m for m in line.removeprefix("LOADED:").split(",") if m} - ROOT_HELPERS


@pytest.mark.parametrize("args", [("--help",), ()], ids=["--help", "no-args"])
def test_root_help_imports_no_heavy_library_and_no_command_module(args):
    loaded = loaded_by(*args)
    assert loaded == set(), f"`aimon {' '.join(args)}` imported {sorted(loaded)}"


def test_a_group_help_imports_only_its_own_module_and_no_database():
    loaded = loaded_by("report", "--help")
    # options and output are the shared CLI helpers every command module imports.
    assert loaded - {"aimon.cli.options", "aimon.cli.output"} == {"aimon.cli.report"}, sorted(loaded)


@pytest.mark.slow
def test_the_shape_registry_loads_for_ingest_only():
    assert not any(m.startswith("aimon.store.shapes") for m in loaded_by("sql", "--help"))
    assert "aimon.store.shapes" in loaded_by("ingest", "--help")


def test_each_listed_summary_is_the_commands_own():
    """COMMANDS repeats each command's first help paragraph so the list needs no import:
    they must not drift apart (the root help's golden shows the list itself)."""
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    assert group.list_commands(ctx) == list(COMMANDS)
    for name, (_modules, summary) in COMMANDS.items():
        cmd = group.get_command(ctx, name)
        assert cmd.short_help == summary, name


def test_an_unknown_command_is_a_usage_error(cli):
    result = cli("reprot")
    assert result.exit_code == 2
    assert "No such command" in result.output


@pytest.mark.slow
def test_no_command_help_but_ingests_imports_a_heavy_library():
    """Each command's own --help (all in one process, so any import would show) loads no
    DuckDB or analysis library: the modules import them inside the commands. ingest's
    help lists the log shapes, so it alone loads the shape registry (and DuckDB)."""
    code = f"""
import sys
from typer.testing import CliRunner
from aimon.cli import COMMANDS, app
for name in COMMANDS:
    if name != "ingest":
        assert CliRunner().invoke(app, [name, "--help"]).exit_code == 0, name
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.slow
@pytest.mark.parametrize("args", [("report", "daily"), ("alerts", "scan", "--since", "7d"), ("cost", "routing")],
                         ids=["report daily", "alerts scan", "cost routing"])
def test_analyses_load_duckdb_and_polars_only(cli, write_jsonl, db_path, args):
    """An analysis needs DuckDB and polars (and pydantic for aimon.toml's tables, but the
    daily report without one); not
    pyarrow or numpy (frames come through the Arrow C stream, not .pl()), not scipy (the
    daily report's drift line loads it only with cached embeddings to test), not typer's
    pydantic adapters for option values, not torch."""
    from tests.conftest import request

    records = [request(request_id=f"r{i}", timestamp=f"2026-11-{1 + i % 9:02d}T{i % 24:02d}:00:00.000Z",
                       model=("gpt-4o", "gpt-4o-mini")[i % 2])
               for i in range(60)]
    assert cli("ingest", write_jsonl("r.jsonl", records), "--db", db_path).exit_code == 0
    loaded = loaded_by(*args, "--db", str(db_path))
    # Option values never go through typer's pydantic adapters (aimon.cli.coercion) ...
    assert "typer._adapters" not in loaded
    heavy = {m.split(".")[0] for m in loaded if not m.startswith(("aimon.", "typer."))}
    # ... but aimon.toml's typed tables (aimon.config) are pydantic models ...
    assert heavy - {"pydantic"} == {"duckdb", "polars"}, sorted(heavy)
    if args == ("report", "daily"):
        # ... which the daily report, without an aimon.toml, does without: its defaults
        # are plain data, and its masking reads no [pii] table (pydantic was about a fifth
        # of its start-up).
        assert "pydantic" not in heavy, sorted(heavy)


def _outcome(runtime, value, param, ctx):
    """What converting ``value`` gives: the value, or the error and its message."""
    import typer._click.exceptions

    try:
        return "ok", runtime.coerce(value, param=param, ctx=ctx)
    except (typer._click.exceptions.ClickException, ValueError) as exc:
        return type(exc).__name__, str(getattr(exc, "message", exc))


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _walk(sub, (*path, name))


SAMPLES = ("1", "-3", "+4", "2.5", "1e3", " 7", "07", "abc", "", "true", "no", "0", "100000", "0.5", "1.0",
           "x.json", "7d",
           "2026-11-10", "/nonexistent/dir/file.duckdb", ".")


@pytest.mark.slow
def test_fast_option_conversion_equals_typers_pydantic_conversion(tmp_path):
    """aimon.cli.coercion converts option values without pydantic; on every option of
    every command, for the defaults, every choice and a spread of text, it gives what
    typer's pydantic path gives: the same value, or the same error word for word."""
    from enum import Enum

    from typer import _coercion

    from aimon.cli import coercion

    group = typer.main.get_command(app)
    checked = fast_taken = 0
    for path, command in _walk(group):
        ctx = typer.Context(command, info_name=" ".join(path) or "aimon")
        for param in command.params:
            desc = getattr(param, "type_descriptor", None)
            if desc is None or desc.file_annotation is not None:
                continue
            fast = coercion.build_runtime_param(desc)
            slow = coercion._ORIGINAL(_coercion.resolve_type_descriptor(desc.annotation, desc.parameter_info))
            values = [*SAMPLES, str(tmp_path)]
            annotation = desc.annotation
            if isinstance(annotation, type) and issubclass(annotation, Enum):
                values += [m for m in annotation] + [m.value for m in annotation] + [m.value.upper() for m in annotation]
            if param.default is not None:
                values.append(param.default)
            multi = param.multiple or param.nargs == -1
            for value in values:
                value = (value, value) if multi and isinstance(value, str) else value
                got, want = _outcome(fast, value, param, ctx), _outcome(slow, value, param, ctx)
                assert got == want, (path, param.name, value)
                checked += 1
            fast_taken += not fast.slow  # never needed typer's pydantic path
    assert checked > 500
    assert fast_taken > 50  # the fast path does serve most options


def test_help_renderer_stand_ins_import_the_real_classes_when_used():
    """typer's help renderer gets stand-ins for rich's Markdown and Traceback (start-up);
    used (a traceback under AIMON_DEBUG, Markdown help), they give the real objects, and
    anyone else importing rich.markdown gets the real module."""
    code = """
import sys
import aimon.cli
aimon.cli._import_help_renderer()
import typer.rich_utils as r
assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
try:
    1 / 0
except ZeroDivisionError as exc:
    tb = r.Traceback.from_exception(type(exc), exc, exc.__traceback__)
import rich.markdown, rich.traceback
assert type(tb) is rich.traceback.Traceback
assert type(r.Markdown("# x")) is rich.markdown.Markdown
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_entry_point_leaves_shutdown_no_collection_over_start_ups_objects():
    """Interpreter shutdown ran full collections over the tens of thousands of objects
    start-up made (typer, rich, polars, DuckDB): about a sixth of the daily report's CPU,
    after its output. main() freezes them once the command is done, on success as on
    an error; atexit handlers still run."""
    code = """
import atexit, gc, sys
atexit.register(lambda: print("atexit ran", file=sys.stderr))
from aimon.cli import main
for argv in (["aimon", "--version"], ["aimon", "report", "daily", "--db", "/nonexistent/x.duckdb"]):
    sys.argv = argv
    try:
        main()
    except SystemExit as exc:
        print(argv[1], exc.code, gc.get_freeze_count() > 10_000)
    gc.unfreeze()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split("\n")[-3:] == ["--version 0 True", "report 2 True", ""], out.stdout + out.stderr
    assert "atexit ran" in out.stderr
