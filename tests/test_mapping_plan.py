"""A file's fixed cost: the mapping SQL stays linear in its parts.

DuckDB plans every copy of an expression (binder, expression rewriter, common
subexpressions) before it reads a record, so the mapping's size is a cost every file
pays, one record or a million. When ``extra`` was pasted into the batch mapping once per
imputed column and branch (eight copies), one batch line took 6 s and 376 MB to ingest.
Measured on the SQL text, not on a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aimon.store.mapping import Source, extra_sql, parsed_sql
from aimon.store.shapes import all_shapes, compile_shape

# What the mapping may add around extra_sql's expressions: the marks, the canonical form,
# and the notes of the imputed columns (whose branches name a column, not an expression).
WRAPPING = 4000


def test_extra_is_in_each_mapping_once():
    too_big = []
    for shape in all_shapes():
        compiled = compile_shape(shape)
        top, finish = extra_sql(compiled, "doc", None)
        for numbered in (True, False) if not shape.impute else (True,):
            for default_time in (None, datetime(2026, 1, 1, tzinfo=UTC)):
                source = Source("SELECT * FROM t", numbered)
                full = parsed_sql(compiled, source, shape.table, default_time)
                bare = parsed_sql(compiled, source, shape.table, default_time, with_extra=False)
                added = len(full) - len(bare)
                if added > len(top) + len(finish) + WRAPPING:
                    too_big.append(f"{shape.name} (numbered={numbered}, default_time={default_time}): "
                                   f"extra adds {added:,} characters for an expression of "
                                   f"{len(top) + len(finish):,}")
    assert not too_big, "\n".join(too_big)


def test_batch_mapping_holds_extra_once():
    # The shape that imputes three columns and marks its rows: the case that blew up.
    batch = next(s for s in all_shapes() if s.name == "openai_batch")
    assert batch.impute and batch.marks
    compiled = compile_shape(batch)
    _, finish = extra_sql(compiled, "doc", None)
    sql = parsed_sql(compiled, Source("SELECT * FROM t", True), "requests", None)
    assert sql.count(finish) == 1


def test_span_messages_are_parsed_once():
    # The prompt and the system prompt each parsed gen_ai.input.messages, the largest
    # value of a span (the whole conversation), and every message in it: two parses of
    # each chunk of conversations held at once (issue 14: 100,000 spans peaked at 1.16 GB).
    # A slot passed first to a function is a parse of it (aimon_json_value(vj[5]));
    # elsewhere a slot is tested (IS NOT NULL) or passed on as a fallback.
    span = next(s for s in all_shapes() if s.name == "otel_span")
    compiled = compile_shape(span)
    sql = parsed_sql(compiled, Source("SELECT * FROM t", False), "requests", None)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "ai.prompt.messages"):
        path = f'$.attributes."{key}"'
        slots = [f"v[{compiled.text_paths.index(path) + 1}]"] if path in compiled.text_paths else []
        slots += [f"vj[{compiled.json_paths.index(path) + 1}]"] if path in compiled.json_paths else []
        parses = re.findall(r"\b\w+\(\s*(?:" + "|".join(re.escape(s) for s in slots) + r")[,)]", sql)
        assert len(parses) == 1, f"{key}: {parses}"
