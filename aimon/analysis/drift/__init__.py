"""Drift between a baseline and a current window: semantic (embeddings) and LLM signals.

The names below load on first use (PEP 562), so importing a submodule such as
``aimon.analysis.drift.cached`` (the daily report's drift line) does not load numpy and
the whole test.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aimon.analysis.drift.data import Scope, windows
    from aimon.analysis.drift.report import DriftResult, Settings, TextField, run

_HOME = {"Scope": "data", "windows": "data", "DriftResult": "report", "Settings": "report",
         "TextField": "report", "run": "report"}

__all__ = ["DriftResult", "Scope", "Settings", "TextField", "run", "windows"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"aimon.analysis.drift.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
