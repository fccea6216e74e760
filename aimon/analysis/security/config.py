"""The ``[security]`` table of aimon.toml: allow-listed hosts and abuse limits.

```toml
[security]
allowed_hosts = ["acme.com", "cdn.acme.com"]   # a host and its subdomains
leak_min_words = 7                             # verbatim overlap that counts as leakage

[security.abuse]
requests_per_minute = 30
tokens_per_hour = 1_000_000
cost_per_day = 20.0
```

Unknown keys are refused (a typo must not silently switch a limit off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aimon.errors import InputError
from aimon.store.toml_config import read_section


class AbuseLimits(BaseModel):
    """Per-user limits; a user above one is an abuse finding (when, and by how much)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: Annotated[int, Field(gt=0)] = 30
    tokens_per_hour: Annotated[int, Field(gt=0)] = 1_000_000
    cost_per_day: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 20.0


class SecurityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_hosts: tuple[str, ...] = ()
    leak_min_words: Annotated[int, Field(ge=3, le=200)] = 7
    abuse: AbuseLimits = AbuseLimits()

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for host in hosts:
            name = host.strip().lower().rstrip(".")
            if not name or "/" in name or " " in name:
                raise ValueError(f"{host!r} is not a host name (write acme.com, not a URL)")
            out.append(name.removeprefix("*."))
        return tuple(out)


def load_config(path: Path | None) -> SecurityConfig:
    """The [security] table of ``path`` (defaults without a file); InputError naming the
    key when a value is wrong or unknown."""
    section = read_section(path, "security")
    try:
        return SecurityConfig.model_validate(section)
    except ValidationError as exc:
        raise InputError(f"{path}: [security] {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "table"
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    return f"{where}: {err['msg']}"
