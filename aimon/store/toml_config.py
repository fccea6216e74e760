"""Reading aimon's TOML files: ``aimon.toml`` and alert rule files.

Discovery and reading live in :mod:`aimon.config` (``--config PATH``, else
``$AIMON_CONFIG``, else ``./aimon.toml``); these names stay for the modules that read an
untyped table (alert rules, ``[cost.routing]`` until it uses ``aimon.config.RoutingConfig``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aimon.config import CONFIG_NAME, read_toml
from aimon.config import discover as config_path
from aimon.errors import InputError

__all__ = ["CONFIG_NAME", "config_path", "read_section", "read_toml"]


def read_section(path: Path | None, section: str) -> dict[str, Any]:
    """The table ``[section]`` of the config file (empty when there is no file or table)."""
    if path is None:
        return {}
    value = read_toml(path).get(section, {})
    if not isinstance(value, dict):
        raise InputError(f"{path}: [{section}] must be a table")
    return value
