"""aimon.toml's tables as pydantic models: what a file is validated against.

:mod:`aimon.config` finds and reads the file and re-exports these models; they live apart
so that a command run without an aimon.toml imports no pydantic (about a fifth of
``aimon report daily``'s start-up, issue 16 item 8). Every table refuses unknown keys.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    create_model,
    field_validator,
    model_validator,
)

from aimon.config import ReportSettings

# TOML has real numbers and booleans: a quoted "0.05" or `true` where a number belongs is
# a mistake to report, not a value to coerce (pydantic's lax mode would take both).
Num = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Int = Annotated[int, Strict()]
Text = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]


class _Table(BaseModel):
    # defer_build: a model's validator is built when a file is first validated against
    # it, not at import, so commands run without an aimon.toml never build one (start-up,
    # issue 16 item 8). Nested defaults are factories for the same reason.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


# --------------------------------------------------------------------------- [report]

# The keys, defaults and meanings are aimon.config.ReportSettings' (plain data, so a report
# run without an aimon.toml needs no pydantic); this model validates a file's table.
_REPORT_TYPES = {"float": Num, "int": Int, "tuple[str, ...]": tuple[Text, ...]}
ReportConfig = create_model(
    "ReportConfig", __base__=_Table, __module__=__name__, __doc__=ReportSettings.__doc__,
    **{f.name: (_REPORT_TYPES[f.type], f.default) for f in dataclasses.fields(ReportSettings)},
)


# --------------------------------------------------------------------------- [compliance]

class ComplianceConfig(_Table):
    """``[compliance]``: the retention period and the jurisdictions that need consent."""

    retention_days: Annotated[Int, Field(gt=0)] = 90
    consent_required: tuple[Text, ...] = ("EU", "EEA", "UK", "CH")


# --------------------------------------------------------------------------- [cost.routing]

class RoutingConfig(_Table):
    """``[cost.routing]``: what counts as a simple prompt for ``aimon cost routing``.

    ``aimon cost routing`` reads the table through this model, then
    ``aimon.analysis.cost.routing.routing_settings`` merges the command's options.
    """

    max_words: Annotated[Int, Field(ge=1)] | None = None
    reasoning_words: tuple[Text, ...] | None = None
    code_pattern: Text | None = None
    expensive_ratio: Annotated[Num, Field(ge=1)] | None = None
    min_share: Num | None = None

    @field_validator("code_pattern")
    @classmethod
    def _regex(cls, pattern: str | None) -> str | None:
        import re

        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class CostConfig(_Table):
    routing: RoutingConfig = Field(default_factory=RoutingConfig)


# --------------------------------------------------------------------------- [security]

class AbuseLimits(_Table):
    """``[security.abuse]``: per-user limits; a user above one is an abuse finding."""

    requests_per_minute: Annotated[Int, Field(gt=0)] = 30
    tokens_per_hour: Annotated[Int, Field(gt=0)] = 1_000_000
    cost_per_day: Annotated[Num, Field(gt=0)] = 20.0


class SecurityConfig(_Table):
    """``[security]``: allow-listed hosts, the leakage overlap and abuse limits.

    """

    allowed_hosts: tuple[Text, ...] = ()
    leak_min_words: Annotated[Int, Field(ge=3, le=200)] = 7
    # Read prompts with the fine-tuned classifier too (``--semantic``; the embeddings extra).
    semantic: Bool = False
    abuse: AbuseLimits = Field(default_factory=AbuseLimits)

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


# --------------------------------------------------------------------------- [validate]

class EndpointRules(_Table):
    """``[validate.endpoints."/path"]``: one endpoint's limits and JSON answers."""

    min_words: Annotated[Int, Field(ge=0)] | None = None
    max_words: Annotated[Int, Field(ge=1)] | None = None
    json_answer: Bool = Field(False, alias="json")
    json_schema: Path | None = None

    @model_validator(mode="after")
    def _schema_needs_json(self) -> EndpointRules:
        if self.json_schema is not None and not self.json_answer:
            raise ValueError("json_schema needs json = true")
        return self


class ValidateConfig(_Table):
    """``[validate]``: the checks of ``aimon validate``."""

    min_words: Annotated[Int, Field(ge=0)] = 3
    max_words: Annotated[Int, Field(ge=1)] = 1000
    repetition_share: Annotated[Num, Field(gt=0, le=1)] = 0.5
    off_topic_threshold: Annotated[Num, Field(ge=-1, le=1)] = 0.15
    off_topic_limit: Annotated[Int, Field(ge=0)] = 2000
    endpoints: dict[str, EndpointRules] = {}


# --------------------------------------------------------------------------- [pii]

# The jurisdiction groups of aimon.analysis.compliance.GROUPS (this layer cannot import it).
PHONE_REGION_GROUPS = ("EU", "EEA", "UK")


class PiiConfig(_Table):
    """``[pii]``: the regions whose national phone numbers (no +country code) are judged,
    beside each request's own jurisdiction: ISO 3166 codes, or EU, EEA, UK."""

    phone_regions: tuple[Text, ...] = ()

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        import phonenumbers  # only when the table is read: most commands never place a phone

        for code in codes:
            if code.strip().upper() not in (*phonenumbers.SUPPORTED_REGIONS, *PHONE_REGION_GROUPS):
                raise ValueError(f"{code!r} is not a region code (write GB, FR, JP, or EU, EEA, UK)")
        return codes


# --------------------------------------------------------------------------- [models."name"]

Price = Annotated[Num, Field(ge=0)]


class _Prices(_Table):
    input_mtok: Price | None = None
    output_mtok: Price | None = None
    cache_read_mtok: Price | None = None
    cache_write_mtok: Price | None = None
    batch_input_mtok: Price | None = None
    batch_output_mtok: Price | None = None
    batch_cache_read_mtok: Price | None = None
    batch_cache_write_mtok: Price | None = None


class PricePeriod(_Prices):
    """``[[models."name".periods]]``: a price change from ``valid_from`` on."""

    # TOML dates and times arrive as datetime objects; text is read by aimon.store.price_file.
    valid_from: Any

    @field_validator("valid_from")
    @classmethod
    def _when(cls, value: Any) -> Any:
        from datetime import date

        if not isinstance(value, (date, str)):
            raise ValueError("must be a date or time such as 2025-06-01")
        return value


class ModelPrices(_Prices):
    """``[models."name"]``: a model's prices in USD per million tokens (see docs/cost.md)."""

    provider: Text | None = None
    periods: list[PricePeriod] = []


# --------------------------------------------------------------------------- the file

class AimonConfig(_Table):
    """The whole of aimon.toml: every table optional, every key with its default."""

    report: ReportConfig = Field(default_factory=ReportConfig)
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    # `validate` would shadow BaseModel.validate: the field has another name, the key not.
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    models: dict[str, ModelPrices] = {}
