"""The ``[pii]`` table of aimon.toml, and the regions that place a request's phone numbers.

```toml
[pii]
phone_regions = ["GB", "FR", "JP"]   # where national numbers (no +country code) come from
```

``phone_regions`` takes ISO 3166 region codes as libphonenumber knows them, or the
groups ``EU``, ``EEA`` and ``UK`` (as in ``[compliance]``). With the request's
``jurisdiction`` they are the countries a national number such as ``020 7946 0958`` is
judged against when no phone word stands before it. The file is ``$AIMON_CONFIG`` or
``./aimon.toml``; unknown keys and unknown regions are refused (a typo must not
silently stop detection). Findings are cached per detector version, not per setting:
run ``aimon audit pii --rescan`` after changing the list.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimon.analysis.pii.validators import phonenumbers
from aimon.config import discover as config_path
from aimon.errors import InputError

if TYPE_CHECKING:
    from aimon.config import PiiConfig

__all__ = ["PiiConfig", "configured_regions", "expand_regions", "load_config", "placing_regions"]


def __getattr__(name: str) -> Any:
    # The model is aimon.config's, imported on first use: every command masks what it
    # prints through this module, and without an aimon.toml none needs pydantic.
    if name == "PiiConfig":
        from aimon.config import PiiConfig

        return PiiConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def expand_regions(codes: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Region codes for jurisdiction codes (``UK`` -> GB, ``EU`` -> the member states),
    in order, without duplicates; codes libphonenumber does not know are left out."""
    from aimon.analysis.compliance import GROUPS

    if isinstance(codes, str):
        codes = re.split(r"[\s,;/|]+", codes)
    out: dict[str, None] = {}
    for raw in codes:
        code = raw.strip().upper()
        for region in (code, *GROUPS.get(code, ())):
            if region in phonenumbers.SUPPORTED_REGIONS:
                out[region] = None
    return tuple(out)


def load_config(path: Path | None) -> PiiConfig:
    """The [pii] table of ``path`` (defaults without a file), its phone regions expanded
    (``UK`` -> GB, ``EU`` -> the member states); InputError naming the key path when a
    value is wrong or unknown."""
    from aimon.config import PiiConfig, section

    loaded = section(path, "pii", PiiConfig)
    return loaded.model_copy(update={"phone_regions": expand_regions(loaded.phone_regions)})


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int) -> tuple[str, ...]:
    return load_config(Path(path)).phone_regions


def configured_regions() -> tuple[str, ...]:
    """``[pii] phone_regions`` of the aimon.toml in use ($AIMON_CONFIG or ./aimon.toml),
    read once per version of the file."""
    path = config_path(None)
    if path is None:
        return ()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _cached(str(path), mtime)


@lru_cache(maxsize=1024)
def placing_regions(jurisdiction: str | None, configured: tuple[str, ...]) -> tuple[str, ...]:
    """The regions that place one request's text: its jurisdiction's, then the list's."""
    own = expand_regions(jurisdiction) if jurisdiction else ()
    return tuple(dict.fromkeys((*own, *configured)))
