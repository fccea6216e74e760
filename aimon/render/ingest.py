"""How an ingest summary reads: a table per file and the reasons records were rejected."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimon.render import Block, FrameBlock, Note
from aimon.render.present import Presentation, first_table, register

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
        "skipped_files": [{"path": path, "reason": why} for path, why in summary.skipped],
        "per_file": [
            {"path": f.path, "table": f.table, "shape": f.shape, "records": f.records, "loaded": f.loaded,
             "duplicates": f.duplicates, "rejected": f.rejected, "reject_reasons": f.reject_reasons}
            for f in summary.files
        ],
    }


def _short(path: str) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _file_names(paths: list[str]) -> tuple[list[str], str | None]:
    """Short names for the table: relative to the working directory, or else to the
    files' common folder (returned, to name it once in the title)."""
    short = [_short(p) for p in paths]
    if not paths or not any(Path(s).is_absolute() for s in short):
        return short, None
    base = Path(os.path.commonpath(paths))
    if len(paths) == 1 or base == Path(paths[0]):
        base = Path(paths[0]).parent
    return [str(Path(p).relative_to(base)) for p in paths], str(base)


def summary_blocks(summary: IngestSummary) -> list[Block]:
    mixed = len({f.table for f in summary.files}) > 1
    names, folder = _file_names([f.path for f in summary.files])
    rows = [{"file": name, **({"table": f.table} if mixed else {}), "shape": f.shape,
             "records": f.records, "loaded": f.loaded, "duplicates": f.duplicates, "rejected": f.rejected}
            for name, f in zip(names, summary.files, strict=True)]
    if len(rows) > 1:
        rows.append({"file": "total", **({"table": ""} if mixed else {}), "shape": "",
                     "records": summary.records, "loaded": summary.loaded,
                     "duplicates": summary.duplicates, "rejected": summary.rejected})
    tables = " and ".join(sorted({f.table for f in summary.files})) or summary.table
    where = f" (files in {folder})" if folder else ""
    blocks: list[Block] = [FrameBlock(rows, title=f"Ingested into {tables}{where}")]
    reasons = summary.reject_reasons()
    if reasons:
        blocks.append(FrameBlock([{"reason": k, "records": v} for k, v in reasons.items()],
                                 title="Rejected records by reason"))
    elif summary.records == 0:
        blocks.append(Note("The files hold no records."))
    for path, why in summary.skipped:
        blocks.append(Note(f"Skipped {_short(path)}: {why}", style="yellow"))
    return blocks


register("IngestSummary", Presentation("an ingest summary", ("ingest",), summary_data, summary_blocks,
                                       table=lambda summary: first_table(summary_blocks(summary))))
