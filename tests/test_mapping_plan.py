"""A file's fixed cost: the mapping SQL stays linear in its parts.

DuckDB plans every copy of an expression (binder, expression rewriter, common
subexpressions) before it reads a record, so the mapping's size is a cost every file
pays, one record or a million. When ``extra`` was pasted into the batch mapping once per
imputed column and branch (eight copies), one batch line took 6 s and 376 MB to ingest.
Measured on the SQL text, not on a clock.
"""

from __future__ import annotations

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
