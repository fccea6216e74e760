"""The one presentation path: every result type registered once, every command's formats
from the registry, one refusal text, and no render module formatting values its own way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import typer

from aimon.cli import COMMANDS, app
from aimon.errors import UsageError
from aimon.render import present
from tests.sources import nodes

AIMON = Path(__file__).parent.parent / "aimon"
RENDER = AIMON / "render"

# Commands with --format that show no analysis result: config show prints the effective
# aimon.toml (toml or json), not a result.
NOT_RESULTS = {"config show"}


def _class_names() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for path in AIMON.rglob("*.py"):
        for node in nodes(path):
            if isinstance(node, ast.ClassDef):
                names.setdefault(node.name, []).append(str(path.relative_to(AIMON)))
    return names


def test_every_registered_result_type_is_one_class_of_aimon():
    classes = _class_names()
    registered = present.load()
    assert registered
    for name in registered:
        assert len(classes.get(name, [])) == 1, f"{name}: {classes.get(name)}"


# Which types each topic module registers, and which topic modules one show imports, seen
# in a fresh interpreter (this one has imported them all).
_TOPIC_PROBE = """
import importlib, json, sys
from aimon.render import present
if sys.argv[1] == "index":
    out = {}
    for topic in present.TOPICS:
        before = set(present.PRESENTATIONS)
        importlib.import_module(f"aimon.render.{topic}")
        out[topic] = sorted(set(present.PRESENTATIONS) - before)
else:
    present.presentation_of(type(sys.argv[1], (), {})())
    out = sorted(m for m in sys.modules if m.startswith("aimon.render.") and m[13:] in present.TOPICS)
print(json.dumps(out))
"""


def _probe(arg: str):
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _TOPIC_PROBE, arg], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_topic_index_names_what_each_topic_module_registers():
    assert _probe("index") == {topic: sorted(names) for topic, names in present.TOPICS.items()}


def test_showing_a_result_imports_its_own_topic_module_only():
    assert _probe("Report") == ["aimon.render.report"]
    assert _probe("Routing") == ["aimon.render.cost"]


def _format_commands() -> dict[str, list[str]]:
    """Every command (as 'group command') that takes --format, with its choices."""
    for module in {m for modules, _ in COMMANDS.values() for m in modules}:
        __import__(module)
    out: dict[str, list[str]] = {}

    def walk(cmd, path: tuple[str, ...]) -> None:
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, (*path, name))
        for param in cmd.params:
            if "--format" in getattr(param, "opts", ()):
                # typer keeps the option's Enum; its values are the choices.
                out[" ".join(path)] = [m.value for m in param.type_descriptor.annotation]

    walk(typer.main.get_command(app), ())
    return out


def test_every_command_that_takes_format_shows_a_registered_result():
    commands = _format_commands()
    shown = {c for p in present.load().values() for c in p.commands}
    assert set(commands) - NOT_RESULTS == shown


def test_each_command_offers_exactly_the_formats_its_result_holds():
    # A format beyond them may only be one of the four every command names, which the
    # registry then refuses with its one message (a post-mortem has no CSV form).
    for command, choices in _format_commands().items():
        if command in NOT_RESULTS:
            continue
        formats = present.presentation_for(command).formats
        assert set(formats) <= set(choices), command
        assert set(choices) - set(formats) <= {"csv"}, command


def _named(name: str):
    return type(name, (), {})()


def test_a_format_the_result_cannot_hold_is_refused_with_one_message(capsys):
    with pytest.raises(UsageError, match=r"^a post-mortem cannot be written as csv; use --format table, "
                                         r"markdown or json$"):
        present.show(_named("Postmortem"), "csv", None)
    with pytest.raises(UsageError, match="cannot be written as html"):
        present.check_format("cost prices", "html")
    assert capsys.readouterr().out == ""


def test_a_context_keyword_no_presentation_takes_is_a_programming_error():
    with pytest.raises(TypeError, match="takes no nots"):
        present.show(_named("DriftResult"), "json", None, nots=["typo"])


def test_an_unregistered_result_type_is_a_programming_error():
    with pytest.raises(TypeError, match="no presentation registered for Unheard"):
        present.show(_named("Unheard"), "json", None)


# --------------------------------------------------------------------------- the guard

_FORMATTER_NAME = re.compile(r"_?(money|usd|dollars?|pct|percent|ms|format_money|format_pct)")


def _own_formatters(path: Path) -> list[str]:
    """Money or percent formatting outside aimon/render/units.py: a function named like a
    formatter, an f-string field formatted as a percentage, or "$" written before a field."""
    found = []
    for node in nodes(path):
        if isinstance(node, ast.FunctionDef) and _FORMATTER_NAME.fullmatch(node.name):
            found.append(f"{path.name}:{node.lineno} def {node.name}")
        if not isinstance(node, ast.JoinedStr):
            continue
        for before, part in zip([None, *node.values], node.values, strict=False):
            if not isinstance(part, ast.FormattedValue):
                continue
            spec = part.format_spec
            text = "".join(v.value for v in spec.values if isinstance(v, ast.Constant)) if spec else ""
            if text.endswith("%"):
                found.append(f"{path.name}:{node.lineno} percent field {{...:{text}}}")
            if isinstance(before, ast.Constant) and str(before.value).endswith("$"):
                found.append(f"{path.name}:{node.lineno} money field ${{...}}")
    return found


def test_no_render_module_formats_money_or_percentages_its_own_way():
    modules = [p for p in RENDER.glob("*.py") if p.name != "units.py"]
    assert len(modules) > 10
    found = [hit for path in modules for hit in _own_formatters(path)]
    assert not found, "format through aimon.render.units instead:\n" + "\n".join(found)


def test_the_guard_sees_a_formatter(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('def money(x):\n    return f"${x:,.2f}"\n\n\ndef share(x):\n    return f"{x:.1%}"\n',
                      encoding="utf-8")
    assert len(_own_formatters(sample)) == 3
