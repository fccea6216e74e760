"""How an ingest summary reads: a table per file and the reasons records were rejected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimon.render import Block, FrameBlock, Note

if TYPE_CHECKING:
    from aimon.store.ingest import IngestSummary


def summary_data(summary: IngestSummary) -> dict[str, Any]:
    """The JSON contract of `aimon ingest --format json`."""
    return {
        "table": summary.table,
        "files": len(summary.files),
        "records": summary.records,
        "loaded": summary.loaded,
        "duplicates": summary.duplicates,
        "rejected": summary.rejected,
        "by_shape": summary.by_shape(),
        "reject_reasons": summary.reject_reasons(),
        "per_file": [
            {"path": f.path, "shape": f.shape, "records": f.records, "loaded": f.loaded,
             "duplicates": f.duplicates, "rejected": f.rejected, "reject_reasons": f.reject_reasons}
            for f in summary.files
        ],
    }


def summary_blocks(summary: IngestSummary) -> list[Block]:
    rows = [{"file": f.path, "shape": f.shape, "records": f.records, "loaded": f.loaded,
             "duplicates": f.duplicates, "rejected": f.rejected} for f in summary.files]
    if len(rows) > 1:
        rows.append({"file": "total", "shape": "", "records": summary.records, "loaded": summary.loaded,
                     "duplicates": summary.duplicates, "rejected": summary.rejected})
    blocks: list[Block] = [FrameBlock(rows, title=f"Ingested into {summary.table}")]
    reasons = summary.reject_reasons()
    if reasons:
        blocks.append(FrameBlock([{"reason": k, "records": v} for k, v in reasons.items()],
                                 title="Rejected records by reason"))
    elif summary.records == 0:
        blocks.append(Note("The files hold no records."))
    return blocks
