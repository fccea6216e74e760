"""The import direction between layers, and a light start-up."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sources import nodes

PACKAGE = Path(__file__).resolve().parents[1] / "aimon"

# Which aimon layers (and third-party UI packages) each layer may import.
FORBIDDEN = {
    "store": {"aimon.cli", "aimon.render", "aimon.analysis", "typer", "rich"},
    "analysis": {"aimon.cli", "aimon.render", "typer", "rich"},
    "render": {"aimon.cli", "duckdb"},
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in nodes(path):
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


# ~4 s of CPU (every help page in a fresh interpreter); the quick loop keeps
# test_startup.py's checks that each command's own --help and an analysis (report daily)
# load no torch or sentence-transformers.
@pytest.mark.slow
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


# --------------------------------------------------------------------------- what each layer may say

def _strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant but docstrings, f-string pieces included."""
    docs = set()
    for node in nodes(path):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in nodes(path)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


# A statement: SQL's verbs, upper case, opening the text (help text that quotes a query
# in the middle of a sentence is documentation, not a query).
STATEMENT = re.compile(r"^\s*(SELECT|WITH|FROM|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|BEGIN|COMMIT|ROLLBACK|"
                       r"PRAGMA|ATTACH|DETACH|COPY|EXPORT|CHECKPOINT|SET|SUMMARIZE|DESCRIBE)\s")


def test_cli_holds_no_sql():
    """The CLI parses and renders: queries live in analysis and store."""
    bad = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        bad += [f"{rel}:{line}: {text.strip()[:60]!r}" for line, text in _strings(path) if STATEMENT.match(text)]
        bad += [f"{rel}:{n.lineno}: calls .{n.func.attr}()" for n in nodes(path)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr in ("execute", "sql", "executemany", "fetchall", "fetchone")]
    assert not bad, "\n".join(bad)


# Transaction control, as a statement of its own or after another in one text, in either
# case, and DuckDB's Python calls for it.
TRANSACTION = re.compile(r"(?i)^\s*(begin|start\s+transaction|commit|end\s+transaction|rollback|abort)\s*;?\s*$"
                         r"|(?:^|;)\s*(BEGIN|COMMIT|ROLLBACK)\b")
# The one place a transaction is opened and closed: migrations, ingest, its merge, price
# snapshots, deletes and every cache and state write go through session.transaction.
TRANSACTION_HOME = Path("aimon/store/session.py")


def test_transactions_are_opened_only_by_the_store_session():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        if rel == TRANSACTION_HOME:
            continue
        bad += [f"{rel}:{line}: {text.strip()[:60]!r}" for line, text in _strings(path) if TRANSACTION.search(text)]
        bad += [f"{rel}:{n.lineno}: calls .{n.func.attr}()" for n in nodes(path)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr in ("begin", "commit", "rollback")]
    assert not bad, "open and close transactions with aimon.store.session.transaction:\n" + "\n".join(bad)


# Which lock a command takes is the store's choice (store.session.Session, and the store
# functions that write: forget and purge delete and rewrite the file under one write lock
# in store/forget.py, so that no reader comes in between). No exception in cli.
LOCK_HELPERS = {"read_only_reason", "is_writable", "shadow_in_memory"}


def test_the_cli_never_chooses_a_write_lock():
    bad = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        for n in nodes(path):
            if isinstance(n, ast.ImportFrom):
                bad += [f"{rel}:{n.lineno}: imports {a.name}" for a in n.names if a.name in LOCK_HELPERS]
            if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == "opened":
                write = next((k.value for k in n.keywords if k.arg == "write"), None)
                if not (isinstance(write, ast.Constant) and write.value is False):
                    bad += [f"{rel}:{n.lineno}: opened() with write={ast.unparse(write) if write else '<default>'}"]
    assert not bad, "let aimon.store.session.Session take the write lock:\n" + "\n".join(bad)


# The one print in store: the lock-wait message for library callers that did not install
# a printer (the CLI swaps in its stderr console); it goes to stderr, never stdout.
PRINT_ALLOWED = {"aimon/store/lockwait.py"}


@pytest.mark.parametrize("layer", ["analysis", "store"])
def test_analysis_and_store_never_print(layer):
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        rel = str(path.relative_to(PACKAGE.parent))
        if rel in PRINT_ALLOWED:
            continue
        bad += [f"{rel}:{n.lineno}" for n in nodes(path)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert not bad, "print( in " + ", ".join(bad)


_TEMP = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)")
# The verb and its table; a name built at run time (an f-string ending at the verb) is
# not seen here.
_WRITE = re.compile(r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|DROP\s+TABLE|TRUNCATE|ALTER\s+TABLE|"
                    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|MACRO|SEQUENCE|INDEX))"
                    r"\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?!IF\b)(\w+)")

def test_analysis_does_not_write_the_database():
    """Analyses read: a write (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER) may touch only
    a TEMP table the same module creates (scratch space that dies with the connection).
    Caches and state (PII findings, alert state) are written by the store, with no
    exception here."""
    bad = []
    for path in sorted((PACKAGE / "analysis").rglob("*.py")):
        rel = str(path.relative_to(PACKAGE.parent))
        texts = _strings(path)
        temp = {m.group(1) for _, text in texts for m in _TEMP.finditer(text)}
        for line, text in texts:
            scrubbed = _TEMP.sub("", text)
            bad += [f"{rel}:{line}: {m.group(0)}" for m in _WRITE.finditer(scrubbed) if m.group(1) not in temp]
    assert not bad, "\n".join(bad)


def test_import_linter_contracts_hold():
    """The contracts in pyproject.toml ([tool.importlinter]): the same layers, indirect
    imports included, which the direct-import test above cannot see."""
    pytest.importorskip("importlinter")
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_logo=True, cache_dir=None))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


# A gate is judged where its question is answered: the analysis compares the figures with
# the user's threshold or severity and returns the decision (toolkit/gate.py: Verdict, or
# its result's breaches); a command only turns a failed decision into exit 1 with the
# message its render module writes. So in cli: GateFailed's message is a gate_message(...)
# call, the `if` that raises it tests names and attributes only (no comparison, no call),
# and the function that raises it orders nothing (no <, <=, >, >=, no .index( of a rank).
def _gate_decisions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []

    def own_nodes(fn):  # the function's own code, not that of functions nested in it
        todo = list(ast.iter_child_nodes(fn))
        while todo:
            n = todo.pop()
            if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                todo += ast.iter_child_nodes(n)
                yield n

    def raises_gate(n) -> bool:
        return (isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call)
                and getattr(n.exc.func, "id", None) == "GateFailed")

    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = list(own_nodes(fn))
        if not any(raises_gate(n) for n in nodes):
            continue
        where = f"{path.name}:{{}} {fn.name}"
        for n in nodes:
            if raises_gate(n):
                arg = n.exc.args[0] if n.exc.args else None
                if not (isinstance(arg, ast.Call) and getattr(arg.func, "id", getattr(arg.func, "attr", None))
                        == "gate_message"):
                    bad.append(where.format(n.lineno) + ": GateFailed's message is not render's gate_message()")
            if isinstance(n, ast.If) and any(raises_gate(b) for b in n.body):
                bad += [where.format(n.lineno) + f": the gate's if decides: {ast.unparse(n.test)[:60]}"
                        for t in ast.walk(n.test) if isinstance(t, (ast.Compare, ast.Call))]
            if isinstance(n, ast.Compare) and any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in n.ops):
                bad.append(where.format(n.lineno) + f": compares {ast.unparse(n)[:60]}")
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "index":
                bad.append(where.format(n.lineno) + f": ranks with {ast.unparse(n)[:60]}")
    return bad


def test_the_cli_decides_no_gate():
    bad = [b for path in sorted((PACKAGE / "cli").rglob("*.py")) for b in _gate_decisions(path)]
    assert not bad, "judge the gate in the analysis and let render write its message:\n" + "\n".join(bad)


def test_the_gate_guard_sees_a_decision(tmp_path):
    sample = tmp_path / "gate.py"
    sample.write_text("def check(result, level, breaches):\n"
                      "    hits = [i for i in result if ORDER.index(i.severity) <= ORDER.index(level)]\n"
                      "    if hits:\n        raise GateFailed('\\n'.join(hits))\n"
                      "    if len(breaches):\n        raise GateFailed(gate_message(breaches))\n",
                      encoding="utf-8")
    found = _gate_decisions(sample)
    assert len(found) == 5, found  # two ranks, one comparison, a message made here, a call in the if
