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
