"""Reading aimon's TOML files: ``aimon.toml`` (report thresholds) and alert rule files.

``aimon.toml`` is found at ``--config PATH``, else ``$AIMON_CONFIG``, else
``./aimon.toml`` when it exists; without one every setting has its default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from aimon.errors import InputError

CONFIG_NAME = "aimon.toml"


def config_path(explicit: Path | None = None) -> Path | None:
    """The aimon.toml to read, or None when there is none."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"no config file at {explicit}")
        return explicit
    env = os.environ.get("AIMON_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise InputError(f"$AIMON_CONFIG names {path}, which is not a file")
        return path
    local = Path(CONFIG_NAME)
    return local if local.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """The whole TOML document at ``path``; InputError with the line when it is not TOML."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_section(path: Path | None, section: str) -> dict[str, Any]:
    """The table ``[section]`` of the config file (empty when there is no file or table)."""
    if path is None:
        return {}
    value = read_toml(path).get(section, {})
    if not isinstance(value, dict):
        raise InputError(f"{path}: [{section}] must be a table")
    return value
