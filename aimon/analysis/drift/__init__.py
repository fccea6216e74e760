"""Drift between a baseline and a current window: semantic (embeddings) and LLM signals."""

from aimon.analysis.drift.data import Scope, windows
from aimon.analysis.drift.report import DriftResult, Settings, TextField, run

__all__ = ["DriftResult", "Scope", "Settings", "TextField", "run", "windows"]
