"""aimon's own modules parsed once per test process, for the tests that read the code
(layers, sizes, presentation, units): between them they walked every module's tree about
ten times, a few seconds of the quick loop's CPU. The trees are shared: read them only."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


@cache
def nodes(path: Path) -> tuple[ast.AST, ...]:
    """Every node of the module at ``path``, in ``ast.walk`` order."""
    return tuple(ast.walk(tree(path)))
