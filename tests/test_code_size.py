"""Modules stay under 500 lines and functions under 80.

Every physical line counts: blank lines, comments, docstrings and SQL text too. A module
whose size is SQL text or data (a query, the report page's CSS and JavaScript, a table
of shapes) may be named in ``TEXT_HEAVY`` with the reason; there, the lines of a string
constant that spans several lines and is not a docstring do not count. Run as a script
to list every module and function over the limits:

    python tests/test_code_size.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests import sources

PACKAGE = Path(__file__).resolve().parents[1] / "aimon"
MODULE_LIMIT = 500
FUNCTION_LIMIT = 80

# path below aimon/ -> why its multi-line string constants do not count. Empty: every
# module and function fits with its SQL text counted.
TEXT_HEAVY: dict[str, str] = {}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def _string_lines(tree: ast.AST) -> set[int]:
    """Lines of multi-line string constants other than docstrings (SQL, CSS, JS)."""
    docs = _docstrings(tree)
    out: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in docs:
            continue
        text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if (text or isinstance(node, ast.JoinedStr)) and node.end_lineno and node.end_lineno > node.lineno:
            out.update(range(node.lineno, node.end_lineno + 1))
    return out


def _counted_lines(first: int, last: int, strings: set[int]) -> int:
    return sum(1 for n in range(first, last + 1) if n not in strings)


def offenders() -> list[tuple[str, str, int]]:
    """(path, what, counted lines) for every module and function over its limit."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = sources.tree(path)
        rel = path.relative_to(PACKAGE).as_posix()
        strings = _string_lines(tree) if rel in TEXT_HEAVY else set()
        size = _counted_lines(1, len(lines), strings)
        if size > MODULE_LIMIT:
            out.append((rel, "module", size))
        for node in sources.nodes(path):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = _counted_lines(node.lineno, node.end_lineno or node.lineno, strings)
                if size > FUNCTION_LIMIT:
                    out.append((rel, f"{node.name}()", size))
    return out


def test_modules_and_functions_stay_small():
    over = offenders()
    assert not over, "\n".join(f"{p}: {what} has {n} lines" for p, what, n in over)


def test_text_heavy_names_only_modules_that_exist():
    assert all((PACKAGE / rel).is_file() for rel in TEXT_HEAVY)


if __name__ == "__main__":
    for rel, what, n in offenders():
        print(f"{rel}: {what} {n} lines")
    sys.exit(0)
