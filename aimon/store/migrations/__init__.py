"""The numbered migrations of the schema, in the order they apply.

Each is a function whose ``__name__`` is recorded in ``_aimon_migrations``, so a name,
once released, is forever. The SQL each runs is a literal frozen as applied (no live
constant is formatted into it): ``tests/test_schema.py`` keeps a digest per migration.
The runner is ``aimon.store.schema``.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from aimon.store.migrations.costs import m005_request_costs, m009_stored_request_costs
from aimon.store.migrations.later import (
    m010_canonical_extra,
    m011_rewrite_owed,
    m012_security_findings,
    m013_validations,
    m014_embeddings,
    m015_nonfinite_numbers,
    m016_reject_bytes,
    m017_validation_ranges,
)
from aimon.store.migrations.tables import (
    m001_requests,
    m002_feedback,
    m003_rejects,
    m004_prices,
    m006_alert_state,
    m007_pii_findings,
    m008_audit_log,
)

MIGRATIONS: list[Callable[[duckdb.DuckDBPyConnection], None]] = [
    m001_requests,
    m002_feedback,
    m003_rejects,
    m004_prices,
    m005_request_costs,
    m006_alert_state,
    m007_pii_findings,
    m008_audit_log,
    m009_stored_request_costs,
    m010_canonical_extra,
    m011_rewrite_owed,
    m012_security_findings,
    m013_validations,
    m014_embeddings,
    m015_nonfinite_numbers,
    m016_reject_bytes,
    m017_validation_ranges,
]
