"""A user's prices file: ``--prices FILE``, or ``[models]`` in aimon.toml (``$AIMON_CONFIG``
or ``./aimon.toml``), checked and read into :class:`UserPrices`.

The file::

    [models."acme-large"]
    input_mtok = 3.0          # USD per million input tokens
    output_mtok = 15.0        # output tokens, reasoning included
    cache_read_mtok = 0.3     # replaces input_mtok for cached input tokens
    cache_write_mtok = 3.75   # replaces input_mtok for cache-write tokens
    # batch_input_mtok, batch_output_mtok, ...: prices of batch requests (optional)
    # provider = "acme"       # only for requests logged with this provider (optional)

    [[models."acme-large".periods]]
    valid_from = 2025-06-01   # a price change; keys not given keep the previous value
    input_mtok = 2.0
    output_mtok = 10.0

The entry's own prices apply before its first period (from the beginning of time);
each period applies from its ``valid_from`` (UTC midnight for a date) to the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from aimon.config import discover, problems, read_toml
from aimon.errors import InputError

PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
BATCH_KEYS = tuple(f"batch_{k}" for k in PRICE_KEYS)


@dataclass(frozen=True)
class PriceSet:
    """USD per million tokens; None where no price is known."""

    input_mtok: float | None = None
    output_mtok: float | None = None
    cache_read_mtok: float | None = None
    cache_write_mtok: float | None = None

    @property
    def priced(self) -> bool:
        return self.input_mtok is not None and self.output_mtok is not None

    def values(self) -> tuple[float | None, ...]:
        return tuple(getattr(self, k) for k in PRICE_KEYS)


@dataclass(frozen=True)
class UserModel:
    """One ``[models."name"]`` entry of a prices file."""

    name: str
    provider: str | None
    # (valid_from, standard, batch) in time order; the first may start at None.
    periods: tuple[tuple[datetime | None, PriceSet, PriceSet | None], ...]


@dataclass(frozen=True)
class UserPrices:
    """A user's prices file, parsed and checked."""

    path: str
    models: Mapping[str, UserModel] = field(default_factory=dict)

    def find(self, provider: str | None, model: str) -> UserModel | None:
        entry = self.models.get(model.lower())
        if entry is None:
            return None
        if entry.provider is not None and (provider or "").lower() != entry.provider.lower():
            return None
        return entry


_ALLOWED_KEYS = set(PRICE_KEYS) | set(BATCH_KEYS)


def _price(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: expected a number of USD per million tokens, got {value!r}")
    if value < 0 or value != value:
        raise InputError(f"{where}: a price cannot be negative or NaN ({value!r})")
    return float(value)


def _instant(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), UTC)
    if isinstance(value, str):
        try:
            return _instant(datetime.fromisoformat(value.replace("Z", "+00:00")), where)
        except ValueError:
            pass
    raise InputError(f"{where}: valid_from must be a date or time such as 2025-06-01, got {value!r}")


def _price_sets(table: Mapping[str, Any], where: str, previous: tuple[PriceSet, PriceSet | None]
                ) -> tuple[PriceSet, PriceSet | None]:
    std, batch = previous
    std_values = {k: getattr(std, k) for k in PRICE_KEYS}
    batch_values = {k: getattr(batch, k) if batch else None for k in PRICE_KEYS}
    for key, value in table.items():
        if key in PRICE_KEYS:
            std_values[key] = _price(value, f"{where}.{key}")
        elif key in BATCH_KEYS:
            batch_values[key.removeprefix("batch_")] = _price(value, f"{where}.{key}")
    new_batch = PriceSet(**batch_values) if any(v is not None for v in batch_values.values()) else None
    return PriceSet(**std_values), new_batch


def parse_user_prices(data: Mapping[str, Any], path: str) -> UserPrices:
    """Check and read the ``models`` table of a parsed prices file."""
    models = data.get("models", {})
    # Kinds, ranges and key names: the [models] model of aimon.config (with typo hints).
    found = problems({"models": models})
    if found:
        more = f" (and {len(found) - 1} more: aimon config validate lists them)" if len(found) > 1 else ""
        raise InputError(f"{path}: {found[0]}{more}")
    out: dict[str, UserModel] = {}
    for name, entry in models.items():
        where = f'{path}: [models."{name}"]'
        provider = entry.get("provider")
        periods: list[tuple[datetime | None, PriceSet, PriceSet | None]] = []
        base = _price_sets({k: v for k, v in entry.items() if k in _ALLOWED_KEYS}, where,
                           (PriceSet(), None))
        if base[0] != PriceSet() or base[1] is not None:
            periods.append((None, *base))
        dated = [(_instant(period["valid_from"], f"{where} period {i}"), period, f"{where} period {i}")
                 for i, period in enumerate(entry.get("periods", []), 1)]
        dated.sort(key=lambda d: d[0])
        for (a, _, _), (b, _, bwhere) in zip(dated, dated[1:], strict=False):
            if a == b:
                raise InputError(f"{bwhere}: two periods start at {b.isoformat()}")
        previous = base
        for start, period, pwhere in dated:
            previous = _price_sets({k: v for k, v in period.items() if k != "valid_from"}, pwhere,
                                   previous)
            periods.append((start, *previous))
        if not periods:
            raise InputError(f"{where}: no prices given")
        for start, std, _ in periods:
            if std.input_mtok is None or std.output_mtok is None:
                when = f"from {start.date().isoformat()}" if start else "before the first period"
                raise InputError(f"{where}: input_mtok and output_mtok are both needed ({when})")
        key = str(name).lower()
        if key in out:
            raise InputError(f"{where}: the model is named twice (names ignore case)")
        out[key] = UserModel(str(name), provider, tuple(periods))
    return UserPrices(path, out)


def load_user_prices(path: Path | str | None = None) -> UserPrices | None:
    """The prices file given with --prices, else the [models] of aimon.toml ($AIMON_CONFIG
    or ./aimon.toml); None when neither names a model."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"--prices {path}: no such file")
        data = read_toml(path)
        if "models" not in data:
            raise InputError(f'{path}: no [models."name"] entries; see aimon cost prices --help')
        return parse_user_prices(data, str(path))
    config = discover(None)
    if config is None:
        return None
    data = read_toml(config)
    if "models" not in data:
        return None
    return parse_user_prices(data, str(config))


