"""The ``[validate]`` table of aimon.toml: word limits, JSON answers and thresholds.

```toml
[validate]
min_words = 3            # too_short below this many words (every endpoint)
max_words = 1000         # too_long above
repetition_share = 0.5   # repetition: share of 4-word sequences that repeat an earlier one
off_topic_threshold = 0.15
off_topic_limit = 2000   # responses embedded per run (newest first; the rest wait)

[validate.endpoints."/extract"]
min_words = 1
max_words = 300
json = true                             # the answer must be JSON
json_schema = "schemas/extract.json"    # and valid against this JSON Schema
```

Unknown keys are refused. Schema paths are relative to the config file; a schema
that is not valid JSON Schema is refused when the config is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from aimon.config import EndpointRules, ValidateConfig, section
from aimon.errors import InputError

__all__ = ["EndpointRules", "Loaded", "ValidateConfig", "load_config"]


class Loaded(BaseModel):
    """The configuration with each schema file read and checked."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config: ValidateConfig
    schemas: dict[str, Any] = {}  # endpoint -> parsed JSON Schema

    def digest(self, *parts: str) -> str:
        """A short digest of the named settings (what changes a check's results)."""
        c = self.config
        data = {"min_words": c.min_words, "max_words": c.max_words, "repetition_share": c.repetition_share,
                "off_topic_threshold": c.off_topic_threshold,
                "endpoints": {k: v.model_dump(mode="json") for k, v in sorted(c.endpoints.items())},
                "schemas": self.schemas}
        picked = {p: data[p] for p in parts}
        return hashlib.sha256(json.dumps(picked, sort_keys=True, default=str).encode()).hexdigest()[:12]


def load_config(path: Path | None) -> Loaded:
    """The [validate] table of ``path`` (defaults without a file), schemas loaded."""
    config = section(path, "validate", ValidateConfig)
    schemas = {}
    for endpoint, rules in config.endpoints.items():
        if rules.json_schema is not None:
            schemas[endpoint] = _schema(rules.json_schema if path is None else path.parent / rules.json_schema)
    return Loaded(config=config, schemas=schemas)


def _schema(path: Path) -> Any:
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read JSON Schema {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not JSON: {exc}") from None
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise InputError(f"{path} is not a valid JSON Schema: {exc.message}") from None
    return schema
