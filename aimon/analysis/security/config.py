"""The ``[security]`` table of aimon.toml: allow-listed hosts and abuse limits.

```toml
[security]
allowed_hosts = ["acme.com", "cdn.acme.com"]   # a host and its subdomains
leak_min_words = 7                             # verbatim overlap that counts as leakage
semantic = false                               # true: as --semantic (the embeddings extra)

[security.abuse]
requests_per_minute = 30
tokens_per_hour = 1_000_000
cost_per_day = 20.0
```

Unknown keys are refused (a typo must not silently switch a limit off).
"""

from __future__ import annotations

from pathlib import Path

from aimon.config import AbuseLimits, SecurityConfig, section

__all__ = ["AbuseLimits", "SecurityConfig", "load_config"]


def load_config(path: Path | None) -> SecurityConfig:
    """The [security] table of ``path`` (defaults without a file); InputError naming the
    key path when a value is wrong or unknown."""
    return section(path, "security", SecurityConfig)
