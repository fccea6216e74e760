"""The import direction between layers, and a light start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aimon"

# Which aimon layers (and third-party UI packages) each layer may import.
FORBIDDEN = {
    "store": {"aimon.cli", "aimon.render", "aimon.analysis", "typer", "rich"},
    "analysis": {"aimon.cli", "aimon.render", "typer", "rich"},
    "render": {"aimon.cli", "duckdb"},
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_one_way(layer):
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not bad, "\n".join(bad)


def test_cli_import_stays_light():
    code = ("import sys, aimon.cli; heavy = [m for m in ('torch', 'sentence_transformers', 'scipy', "
            "'transformers', 'polars', 'numpy') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


SEMANTIC_MODULES = ("torch", "sentence_transformers", "transformers", "openvino", "sklearn")


def test_help_and_every_non_semantic_command_never_import_torch(tmp_path):
    """`aimon --help`, every command's --help, and running the light commands leave torch,
    sentence-transformers and OpenVINO unloaded; only drift and similarity may load them."""
    code = f"""
import sys, typer
from typer.testing import CliRunner
from aimon.cli import app
runner = CliRunner()
group = typer.main.get_command(app)
def walk(g, prefix=()):
    for name, cmd in sorted((getattr(g, "commands", None) or {{}}).items()):
        yield (*prefix, name)
        yield from walk(cmd, (*prefix, name))
paths = [()] + list(walk(group))
for path in paths:
    assert runner.invoke(app, [*path, "--help"]).exit_code == 0, path
for args in (["ingest", "--help"], ["db", "info", "--db", {str(tmp_path / 'x.duckdb')!r}],
             ["sql", "SELECT 1", "--db", {str(tmp_path / 'x.duckdb')!r}]):
    runner.invoke(app, args)
print(",".join(m for m in {SEMANTIC_MODULES!r} if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout


def test_the_embedding_layer_does_not_import_torch_to_say_it_is_available():
    code = ("import sys; from aimon.analysis.toolkit import embedding; ok = embedding.available(); "
            "print(ok, ','.join(m for m in ('torch', 'sentence_transformers', 'openvino') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
