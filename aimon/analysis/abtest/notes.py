"""What an A/B analysis tells the reader beside its figures: the unit it counts, where
success comes from, what the metrics cover and what the data did to the comparison."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from aimon.analysis.abtest.compare import _users_note as users_note
from aimon.analysis.abtest.compare import _Values
from aimon.analysis.abtest.metrics import Metric
from aimon.analysis.abtest.results import VariantFigures


def unit_notes(rows: pl.DataFrame, unit: str, assignment: str, chosen: Sequence[Metric], source: str | None,
           variants: Sequence[VariantFigures], primary_values: _Values | None) -> list[str]:
    """What the reader should know about the unit of analysis and the metrics' coverage."""
    notes: list[str] = []
    users_total = int(rows["users"].sum())
    repeats = int(rows["repeat_requests"].sum())
    if unit == "request" and assignment == "user" and repeats:
        notes.append(f"Every user saw one variant ({users_total:,} users): assignment looks per user, "
                     "but this analysis counts requests, and one user's requests are not independent, "
                     "so p-values are too small. Leave out --by-request for one unit per user.")
    if unit == "user" and primary_values is not None:
        notes.append(users_note(primary_values, rows["variant"].to_list(), chosen[0], users_total))
    return notes + coverage_notes(chosen, source, variants, int(rows["requests"].sum()))


def coverage_notes(chosen: Sequence[Metric], source: str | None, variants: Sequence[VariantFigures],
                    requests_total: int) -> list[str]:
    """Where success comes from, and how many requests the success and cost figures cover."""
    notes: list[str] = []
    if Metric.success in chosen or source:
        outcomes = sum(v.outcomes for v in variants)
        if source == "logged":
            notes.append(f"Success comes from the logged `success` field ({outcomes:,} of "
                         f"{requests_total:,} requests carry it; the others are left out of success).")
        elif source == "thumbs":
            notes.append(f"Success comes from thumbs feedback: `success` is not logged; {outcomes:,} of "
                         f"{requests_total:,} requests were rated (success = thumbs-up without thumbs-down).")
    if Metric.cost_usd in chosen:
        priced = sum(v.cost_priced_requests for v in variants)
        if priced < requests_total:
            notes.append(f"Cost: {requests_total - priced:,} requests have no logged cost and no price; "
                         "cost figures cover the priced ones.")
    return notes


def data_notes(merged: list, users_in_several: int, overlap_requests: int, excluded: int,
                left_out_without_user: int) -> list[str]:
    """What the data did to the comparison: merged names, overlaps, requests left out."""
    notes = []
    if merged:
        spelled = "; ".join(f"{', '.join(repr(s) for s in spellings)} -> {name!r}" for name, spellings in merged)
        notes.append(f"Variant names that differ only in blanks or case are one variant: {spelled}.")
    if users_in_several:
        notes.append(f"{users_in_several:,} users saw more than one variant ({overlap_requests:,} "
                     "requests); with --by-user each (user, variant) pair is a unit.")
    if excluded:
        notes.append(f"{excluded:,} requests of the experiment carry no variant and are left out.")
    if left_out_without_user:
        notes.append(f"{left_out_without_user:,} requests without a user_id are left out of the per-user analysis.")
    return notes
