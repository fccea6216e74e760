"""Per-token prices: resolving logged models to prices, and the snapshot in the database.

Every distinct (provider, model) in ``requests`` is resolved to the prices in force
over time, from the user's prices file when it names the model, else from the
genai-prices data installed with aimon (read offline: its update functions are never
called). The result is written to the ``prices`` table in one transaction, and the
``request_costs`` view prices each request at the row in force at its timestamp, so
history is never repriced at today's price.

The prices file is read by :mod:`aimon.store.price_file`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from aimon.store.connection import opened
from aimon.store.price_file import (
    PRICE_KEYS,
    PriceSet,
    UserModel,
    UserPrices,
    load_user_prices,  # noqa: F401 -- callers take the prices file's reader from here
    parse_user_prices,  # noqa: F401
)
from aimon.store.pricing import PRICE_PENDING_SQL
from aimon.store.schema import STORED_REQUESTS
from aimon.store.session import transaction

MAX_TOKENS = 9223372036854775807
DAY_S = 86400
# A request's price context when it was sent through a batch API (genai-prices' name).
BATCH_CONTEXT = {"processing": "batch"}


@dataclass(frozen=True)
class PriceRow:
    """The prices in force for one slice of time (and time of day, and prompt size)."""

    valid_from: datetime | None
    valid_to: datetime | None
    standard: PriceSet
    batch: PriceSet | None = None
    day_from_s: int = 0
    day_to_s: int = DAY_S
    min_input_tokens: int = 0
    max_input_tokens: int = MAX_TOKENS

    def content(self) -> tuple:
        return (self.day_from_s, self.day_to_s, self.min_input_tokens, self.max_input_tokens,
                self.standard, self.batch)


@dataclass(frozen=True)
class ModelPrices:
    """How one logged (provider, model) resolved: its price rows, or why it has none."""

    provider: str | None
    model: str
    rows: tuple[PriceRow, ...]
    source: str
    matched_provider: str | None = None
    matched_model: str | None = None
    note: str | None = None

    @property
    def priced(self) -> bool:
        return any(r.standard.priced for r in self.rows)


@dataclass(frozen=True)
class SnapshotSummary:
    """What a refresh wrote."""

    models: int
    priced: int
    unpriced: tuple[tuple[str | None, str], ...]
    rows: int
    source: str
    version: str
    snapshot_at: datetime
    repriced: int = 0  # requests whose stored cost was (re)written: new, or their prices changed


def _user_model_prices(provider: str | None, model: str, entry: UserModel, source: str) -> ModelPrices:
    rows = []
    starts = [p[0] for p in entry.periods]
    for i, (start, std, batch) in enumerate(entry.periods):
        end = starts[i + 1] if i + 1 < len(starts) else None
        rows.append(PriceRow(start, end, std, batch))
    return ModelPrices(provider, model, tuple(rows), source, matched_provider=entry.provider,
                       matched_model=entry.name)


# --------------------------------------------------------------------------- genai-prices

@functools.cache
def genai_prices_version() -> str:
    """The installed genai-prices version (its data ships with the package). Read once a
    process: each read parses the package's metadata (5 ms), and an ingest asks six times."""
    from importlib.metadata import version

    return version("genai-prices")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _price_at(value: Any, input_tokens: int) -> float | None:
    """A price value at a prompt size: plain, or tiered by total input tokens (genai-prices'
    cliff rule: every token pays the rate of the highest tier whose start it exceeds)."""
    from genai_prices.types import TieredPrices

    if isinstance(value, TieredPrices):
        applicable = value.base
        for tier in reversed(value.tiers):
            if input_tokens > tier.start:
                applicable = tier.price
                break
        return float(applicable)
    return _float(value)


def _tier_starts(prices: Iterable[Any]) -> list[int]:
    from genai_prices.types import TieredPrices

    starts: set[int] = set()
    for mp in prices:
        if mp is None:
            continue
        for key in PRICE_KEYS:
            value = getattr(mp, key, None)
            if isinstance(value, TieredPrices):
                starts.update(t.start for t in value.tiers)
    return sorted(starts)


def _set_at(mp: Any, input_tokens: int) -> PriceSet:
    return PriceSet(*(_price_at(getattr(mp, k, None), input_tokens) for k in PRICE_KEYS))


def _seconds(t: time) -> int:
    if t.tzinfo is not None:
        t = datetime.combine(date(2000, 1, 1), t).astimezone(UTC).time()
    return t.hour * 3600 + t.minute * 60 + t.second


def _genai_rows(provider: Any, model: Any) -> tuple[PriceRow, ...]:
    """Every price row of a genai-prices model: date periods x time-of-day slots x tiers."""
    from genai_prices.types import ModelPrice, StartDateConstraint, TimeOfDateConstraint

    conditional = [] if isinstance(model.prices, ModelPrice) else list(model.prices)
    # genai-prices applies request-context variants only to the provider's own models.
    variants = [v for v in (model.price_variants or [])
                if any(model is m for m in provider.models)
                and all(BATCH_CONTEXT.get(k) == val for k, val in v.when.items())]
    constraints = [c.constraint for c in conditional] + [v.constraint for v in variants]
    dates = sorted({c.start_date for c in constraints if isinstance(c, StartDateConstraint)})
    tods = {0, DAY_S}
    for c in constraints:
        if isinstance(c, TimeOfDateConstraint):
            tods.update({_seconds(c.start_time) % DAY_S, _seconds(c.end_time) % DAY_S})
    slots = sorted(tods)
    bounds: list[date | None] = [None, *dates, None]
    rows: list[PriceRow] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        day = lo if lo is not None else (dates[0] - timedelta(days=1) if dates else date(2000, 1, 1))
        start = datetime.combine(lo, time(0), UTC) if lo else None
        end = datetime.combine(hi, time(0), UTC) if hi else None
        for a, b in zip(slots, slots[1:], strict=False):
            at = datetime.combine(day, time(0), UTC) + timedelta(seconds=a)
            std = model.get_prices(at)
            batch = model.get_prices(at, BATCH_CONTEXT) if variants else None
            if batch is not None and batch == std:
                batch = None
            starts = _tier_starts([std, batch])
            edges = [0, *[s + 1 for s in starts]]
            for i, low in enumerate(edges):
                high = edges[i + 1] - 1 if i + 1 < len(edges) else MAX_TOKENS
                rows.append(PriceRow(start, end, _set_at(std, low),
                                     _set_at(batch, low) if batch is not None else None,
                                     a, b, low, high))
    return _merged(rows)


def _merged(rows: Sequence[PriceRow]) -> tuple[PriceRow, ...]:
    """Join adjacent time-of-day slots, then adjacent periods, whose prices are the same."""
    by_period: dict[tuple, list[PriceRow]] = {}
    for r in rows:
        by_period.setdefault((r.valid_from, r.valid_to), []).append(r)
    periods = []
    for key, group in by_period.items():
        group.sort(key=lambda r: (r.min_input_tokens, r.day_from_s))
        joined: list[PriceRow] = []
        for r in group:
            last = joined[-1] if joined else None
            if (last and last.min_input_tokens == r.min_input_tokens and last.day_to_s == r.day_from_s
                    and last.standard == r.standard and last.batch == r.batch):
                joined[-1] = replace(last, day_to_s=r.day_to_s)
            else:
                joined.append(r)
        periods.append((key, joined))
    out: list[tuple[tuple, list[PriceRow]]] = []
    for key, group in periods:
        if out and [r.content() for r in out[-1][1]] == [r.content() for r in group] \
                and out[-1][0][1] == key[0]:
            prev_key, prev = out[-1]
            out[-1] = ((prev_key[0], key[1]), [replace(r, valid_to=key[1]) for r in prev])
        else:
            out.append((key, group))
    return tuple(r for _, group in out for r in group)


def _genai_lookup(provider: str | None, model: str) -> tuple[Any, Any]:
    """The genai-prices (provider, model) for a logged pair, resolved as genai-prices does:
    the logged provider first, then the model name alone, then a ``provider/`` prefix."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    attempts: list[str | None] = [provider] if provider else []
    attempts.append(None)
    if "/" in model:
        attempts.append("litellm")  # genai-prices splits "openai/gpt-4o" for this provider id
    error: LookupError | None = None
    for provider_id in attempts:
        try:
            return snapshot.find_provider_model(model, None, provider_id, None)
        except LookupError as exc:
            error = error or exc
    raise LookupError(str(error) if error else f"no price for {model!r}")


def resolve_model(provider: str | None, model: str, user: UserPrices | None = None) -> ModelPrices:
    """The prices of one logged (provider, model): the user's file first, then genai-prices."""
    if user is not None and (entry := user.find(provider, model)) is not None:
        return _user_model_prices(provider, model, entry, f"prices file {user.path}")
    source = f"genai-prices {genai_prices_version()}"
    try:
        gp_provider, gp_model = _genai_lookup(provider, model)
    except LookupError:
        return ModelPrices(provider, model, (), source,
                           note="no price: genai-prices does not know this model; add it to "
                                "aimon.toml or a --prices file")
    rows = _genai_rows(gp_provider, gp_model)
    notes = []
    if not any(r.standard.priced for r in rows):
        notes.append("no price: genai-prices has no per-token input and output price for it")
    extra = _unmodelled_prices(gp_model)
    if extra:
        notes.append("not included: " + ", ".join(extra))
    if any(r.day_to_s - r.day_from_s < DAY_S for r in rows):
        notes.append("price depends on the time of day (UTC)")
    if any(r.min_input_tokens > 0 for r in rows):
        notes.append("long-context tier: a larger prompt pays a higher rate")
    return ModelPrices(provider, model, rows, source, matched_provider=gp_provider.id,
                       matched_model=gp_model.id, note="; ".join(notes) or None)


# Price keys aimon's columns cannot carry, and how a note names them.
_UNMODELLED = {"cache_write_1h_mtok": "1-hour cache writes (priced as 5-minute writes)",
               "requests_kcount": "per-request fee",
               "output_reasoning_mtok": "separate reasoning price (priced as output)"}


def _unmodelled_prices(model: Any) -> list[str]:
    from genai_prices.types import ModelPrice

    sets = [model.prices] if isinstance(model.prices, ModelPrice) else [c.prices for c in model.prices]
    return [label for key, label in _UNMODELLED.items()
            if any(getattr(s, key, None) not in (None, Decimal(0)) for s in sets)]


# --------------------------------------------------------------------------- snapshot

# Every (provider, requested model, answering model) logged: the snapshot prices both names.
PRICED_NAMES_SQL = """
SELECT provider, model, model_version FROM requests
WHERE model IS NOT NULL OR model_version IS NOT NULL GROUP BY ALL
"""

Names = tuple[str | None, str | None, str | None]  # (provider, model, model_version)


def _sort_key(pair: tuple[str | None, str]) -> tuple[str, str]:
    return pair[1], pair[0] or ""


def _snapshot_models(names: Iterable[Names], user: UserPrices | None
                     ) -> tuple[list[ModelPrices], list[ModelPrices], set[tuple[str | None, str]]]:
    """(each requested model resolved; the answering models whose own price differs
    from the one they were asked by; the requested models that some answering model
    prices instead). A request is priced by its answering model first (DESIGN: a dated
    snapshot can cost more than its alias), unless the user's prices file names the
    alias and not the snapshot: the user's word wins over genai-prices."""
    names = list(names)  # read twice below
    asked_by: dict[tuple[str | None, str], set[str | None]] = {}
    for provider, model, version in names:
        if version is not None and version != model:
            asked_by.setdefault((provider, version), set()).add(model)
    aliases = {(p, m) for p, m, _ in names if m is not None}
    resolved = {pair: resolve_model(*pair, user) for pair in sorted(aliases, key=_sort_key)}
    own, covered = [], set()
    for (provider, version), asked in sorted(asked_by.items(), key=lambda kv: _sort_key(kv[0])):
        if (provider, version) in resolved:
            continue  # also logged as a requested model: already in the snapshot
        mv = resolve_model(provider, version, user)
        askers = [resolved[(provider, a)] for a in asked if a is not None]
        if mv.priced and _prices_on_its_own(mv, askers, user):
            own.append(mv)
            covered.update((provider, a) for a in asked if a is not None)
    return list(resolved.values()), own, covered


def _prices_on_its_own(version: ModelPrices, askers: Sequence[ModelPrices], user: UserPrices | None) -> bool:
    """Whether an answering model's price replaces the prices of the models it was
    asked by: yes when the user's file names it; no when the user's file prices an
    alias and not the snapshot; else when genai-prices knows it as another entry than
    some alias (or no alias has a price)."""
    if user is not None and user.find(version.provider, version.model) is not None:
        return True
    if any(a.priced and a.source.startswith("prices file") for a in askers):
        return False
    entry = (version.matched_provider, version.matched_model)
    return not all(a.priced and (a.matched_provider, a.matched_model) == entry for a in askers)


INSERT_PRICE_SQL = """
INSERT INTO prices (provider, model, valid_from, valid_to, day_from_s, day_to_s,
                    min_input_tokens, max_input_tokens, input_mtok, output_mtok, cache_read_mtok,
                    cache_write_mtok, batch_input_mtok, batch_output_mtok, batch_cache_read_mtok,
                    batch_cache_write_mtok, matched_provider, matched_model, source, note, version,
                    snapshot_at)
VALUES ($1, $2, $3::TIMESTAMPTZ, $4::TIMESTAMPTZ, $5, $6, $7, $8, $9, $10, $11, $12,
        $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
"""


def _records(mp: ModelPrices) -> list[tuple]:
    """The snapshot rows of one model, without the version and time of the snapshot."""
    rows = mp.rows or (PriceRow(None, None, PriceSet()),)
    out = []
    for r in rows:
        batch = r.batch.values() if r.batch else (None,) * 4
        out.append((mp.provider, mp.model, r.valid_from, r.valid_to, r.day_from_s, r.day_to_s,
                    r.min_input_tokens, r.max_input_tokens, *r.standard.values(), *batch,
                    mp.matched_provider, mp.matched_model, mp.source, mp.note))
    return out


def snapshot_version(records: Sequence[tuple]) -> str:
    """A short digest of a snapshot's content: the same prices give the same version, on
    any machine and day; any changed price, period or model gives another."""
    import hashlib

    def text(v: Any) -> str:
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat()
        return repr(float(v)) if isinstance(v, Decimal) else repr(v)

    lines = sorted("|".join(text(v) for v in rec) for rec in records)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return f"p-{digest[:12]}"


# Requests whose (provider, model) has any price row added, removed or changed since the
# last snapshot lose their stored cost, to be priced again (NULLs compare equal in EXCEPT).
UNPRICE_CHANGED_SQL = f"""
UPDATE {STORED_REQUESTS} AS r SET cost_source = NULL
FROM (SELECT DISTINCT provider, model FROM (
        (SELECT * EXCLUDE (version, snapshot_at) FROM _old_prices
         EXCEPT ALL SELECT * EXCLUDE (version, snapshot_at) FROM prices)
        UNION ALL
        (SELECT * EXCLUDE (version, snapshot_at) FROM prices
         EXCEPT ALL SELECT * EXCLUDE (version, snapshot_at) FROM _old_prices))) AS c
WHERE r.cost_source IS NOT NULL AND (r.model = c.model OR r.model_version = c.model)
  AND r.provider IS NOT DISTINCT FROM c.provider
"""


def price_pending(con: duckdb.DuckDBPyConnection) -> int:
    """Store the effective cost of every request not priced yet (just loaded, or whose
    prices changed), at the prices of the current snapshot. Returns how many."""
    # Usually none is: planning the pricing UPDATE costs ~10 ms, an ingest asks five
    # times, and counting the unpriced rows reads one column.
    if not con.execute(f"SELECT count(*) FROM {STORED_REQUESTS} WHERE cost_source IS NULL").fetchone()[0]:
        return 0
    return con.execute(PRICE_PENDING_SQL).fetchall()[0][0]


def ensure_priced(con: duckdb.DuckDBPyConnection, names: Iterable[Names],
                  user: UserPrices | None = None) -> None:
    """Inside an ingest's transaction, before it loads requests of these (provider,
    model, model_version) names: take them into the price snapshot if they are not in
    it, so the load stores each request's cost as it writes the row."""
    known = set(con.execute("SELECT DISTINCT provider, model FROM prices").fetchall())
    names = [tuple(n) for n in names]
    resolved, own, _ = _snapshot_models(names, user)
    if any((mp.provider, mp.model) not in known for mp in (*resolved, *own)):
        # What the snapshot covers stays covered (the models of an earlier file's rejected
        # records too): the run's snapshot then depends on what it read, not on the order
        # of its files, and a staged run (aimon.store.ingest_staging) takes the same one.
        refresh_prices(con, user, in_transaction=True, also=[*((p, m, None) for p, m in known), *names])


def refresh_database(db: Path, user: UserPrices | None, tz: str = "UTC") -> SnapshotSummary:
    """:func:`refresh_prices` on the database at ``db``, holding its write lock only for
    the refresh: the command then reads the costs under a read-only connection."""
    with opened(db, write=True, tz=tz) as con:
        return refresh_prices(con, user)


def refresh_prices(con: duckdb.DuckDBPyConnection, user: UserPrices | None = None, *,
                   in_transaction: bool = False,
                   also: Iterable[Names] = ()) -> SnapshotSummary:
    """Resolve every (provider, model) in ``requests`` and every answering model with a
    price of its own, replace the price snapshot and store the cost of every request it
    prices differently, in one transaction (the caller's, with ``in_transaction``).
    ``also``: (provider, model, model_version) about to be loaded. Needs a write
    connection; never touches the network."""
    names = set(con.execute(PRICED_NAMES_SQL).fetchall()) | {tuple(n) for n in also}
    resolved, own, covered = _snapshot_models(names, user)
    snapshot_at = datetime.now(UTC)
    records = [rec for mp in (*resolved, *own) for rec in _records(mp)]
    version = snapshot_version(records)
    source = f"genai-prices {genai_prices_version()}" + (f" + prices file {user.path}" if user else "")
    with contextlib.nullcontext() if in_transaction else transaction(con):
        con.execute("CREATE OR REPLACE TEMP TABLE _old_prices AS SELECT * FROM prices")
        con.execute("DELETE FROM prices")
        if records:
            con.executemany(INSERT_PRICE_SQL, [(*rec, version, snapshot_at) for rec in records])
        con.execute(UNPRICE_CHANGED_SQL)
        con.execute("DROP TABLE _old_prices")
        repriced = price_pending(con)
    return SnapshotSummary(
        models=len(resolved) + len(own),
        priced=sum(1 for mp in resolved if mp.priced) + len(own),
        unpriced=tuple((mp.provider, mp.model) for mp in resolved
                       if not mp.priced and (mp.provider, mp.model) not in covered),
        rows=len(records),
        source=source,
        version=version,
        snapshot_at=snapshot_at,
        repriced=repriced,
    )
