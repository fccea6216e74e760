"""aimon config: check aimon.toml and show the configuration every command sees."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from aimon.cli import app
from aimon.cli.options import OutputOption

config_app = typer.Typer(help="Check aimon.toml and show the configuration in effect.", no_args_is_help=True)
app.add_typer(config_app, name="config")

ConfigPathOption = Annotated[
    Path | None,
    typer.Option("--config", help="The aimon.toml to read.", show_default="$AIMON_CONFIG, else ./aimon.toml",
                 dir_okay=False),
]


class ConfigFormat(StrEnum):
    toml = "toml"
    json = "json"


@config_app.command("validate")
def validate(config: ConfigPathOption = None) -> None:
    """Check aimon.toml: every table and key, with the types and ranges each command expects.

    Prints one line per problem on stderr, each naming its key path (report.error_rate),
    with the nearest known key for a misspelt one, and exits 2; exits 0 when the file is
    valid (or when there is none: every setting has its default).

    Example: [bold]aimon config validate --config ops/aimon.toml[/]
    """
    from rich.text import Text

    from aimon.config import discover, problems, read_toml
    from aimon.render import err_console, visible

    path = discover(config)
    if path is None:
        err_console.print("no aimon.toml (--config, $AIMON_CONFIG or ./aimon.toml): every setting has its default",
                          markup=False, highlight=False, soft_wrap=True)
        return
    found = problems(read_toml(path))
    for problem in found:
        err_console.print(Text(visible(f"{path}: {problem}")), soft_wrap=True)
    if found:
        raise typer.Exit(2)
    err_console.print(Text(visible(f"{path}: valid")), soft_wrap=True)


@config_app.command("show")
def show(
    config: ConfigPathOption = None,
    fmt: Annotated[ConfigFormat, typer.Option("--format", "-f", help="toml (to edit) or json (to read in scripts).",
                                              case_sensitive=False)] = ConfigFormat.toml,
    output: OutputOption = None,
) -> None:
    """The configuration in effect: every table of aimon.toml with the file's values and the
    defaults of the keys it leaves out. Settings with no default (unset) are omitted from
    TOML and null in JSON.

    Example: [bold]aimon config show -f json[/]
    """
    import json

    from aimon.config import discover, load
    from aimon.render import write

    path = discover(config)
    effective = load(path).model_dump(mode="json", by_alias=True)
    if fmt is ConfigFormat.json:
        text = json.dumps({"source": None if path is None else str(path), "config": effective}, indent=2)
    else:
        import tomli_w

        where = "defaults only (no aimon.toml)" if path is None else str(path)
        text = f"# aimon configuration in effect: {where}\n\n" + tomli_w.dumps(_without_none(effective))
    write(text.rstrip("\n") + "\n", output)


def _without_none(value: Any) -> Any:
    """TOML has no null: an unset key is left out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
