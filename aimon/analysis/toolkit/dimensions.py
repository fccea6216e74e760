"""The ways a metric can be split: by model, endpoint, prompt version, variant, user tier.

Users name a split on the command line (``--by model,endpoint``); the name maps
through :class:`Split` to a fixed SQL expression, so user text never reaches SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

# What a missing value is called in a split column: a row without a model is still
# a request and must be counted somewhere.
NONE_LABEL = "(none)"


class Split(StrEnum):
    """A column a metric can be grouped by."""

    model = "model"
    endpoint = "endpoint"
    prompt_version = "prompt_version"
    variant = "variant"
    user_tier = "user_tier"


# Fixed expressions over the requests table aliased ``r``.
_COLUMN = {
    Split.model: "r.model",
    Split.endpoint: "r.endpoint",
    Split.prompt_version: "r.prompt_version",
    Split.variant: "r.variant",
    Split.user_tier: "r.user_tier",
}


def parse_splits(text: str | Sequence[str] | None) -> tuple[Split, ...]:
    """'model,endpoint' (or a list of names) -> (Split.model, Split.endpoint); ValueError if unknown."""
    if text is None:
        return ()
    names = text.split(",") if isinstance(text, str) else [n for part in text for n in part.split(",")]
    out: list[Split] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        try:
            split = Split(name)
        except ValueError:
            known = ", ".join(s.value for s in Split)
            raise ValueError(f"cannot split by {name!r}; choose from {known}") from None
        if split not in out:
            out.append(split)
    return tuple(out)


def select_sql(by: Sequence[Split]) -> str:
    """The SELECT items for the split columns, each named after its split ('' when none)."""
    return "".join(f"coalesce({_COLUMN[s]}, '{NONE_LABEL}') AS {s.value}, " for s in by)


def key_sql(by: Sequence[Split]) -> str:
    """One text key for a row's split values ('' when not split), for alert state."""
    if not by:
        return "''"
    return " || ' / ' || ".join(f"coalesce({_COLUMN[s]}, '{NONE_LABEL}')" for s in by)


def names(by: Sequence[Split]) -> list[str]:
    """The column names :func:`select_sql` gives."""
    return [s.value for s in by]
