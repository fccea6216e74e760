"""How the database file and an ``aimon sql`` query read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimon import __version__
from aimon.render import Block, Figures, FrameBlock, Note
from aimon.render.present import Presentation, register

if TYPE_CHECKING:
    from aimon.store.info import DbInfo
    from aimon.store.query import QueryResult


def _tables(result: DbInfo) -> list[dict[str, Any]]:
    return [{"table": t.table, "rows": t.rows, "first": t.first, "last": t.last} for t in result.tables]


def info_blocks(result: DbInfo) -> list[Block]:
    """Row counts, time range, size and schema version."""
    blocks: list[Block] = [
        Figures([("database", result.path), ("size", f"{result.size_bytes / 1e6:,.1f} MB"),
                 ("schema version", result.schema_version), ("aimon", __version__)]),
        FrameBlock(_tables(result), title="Tables (rejects: when they were ingested)"),
    ]
    if result.by_shape:
        blocks.append(FrameBlock([{"shape": k, "requests": v} for k, v in result.by_shape.items()],
                                 title="Requests by source shape"))
    if result.reject_reasons:
        blocks.append(FrameBlock([{"reason": k, "records": v} for k, v in result.reject_reasons.items()],
                                 title="Rejected records by reason"))
    return blocks


def query_blocks(result: QueryResult) -> list[Block]:
    """The rows, and how many more a limit left out."""
    blocks: list[Block] = [FrameBlock(result.frame)]
    if result.more_rows:
        blocks.append(Note(f"… {result.more_rows:,} more rows (--limit 0 shows all)"))
    return blocks


register("DbInfo", Presentation("a database summary", ("db info",), lambda result: result, info_blocks,
                                table=_tables))
register("QueryResult", Presentation("a query result", ("sql",), lambda result: result.frame, query_blocks,
                                     table=lambda result: result.frame))
