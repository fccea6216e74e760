"""aimon report: the daily and weekly dashboards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, OutputOption, TzOption
from aimon.cli.output import ShowPiiOption, show
from aimon.errors import InputError
from aimon.render import ReportFormat

report_app = typer.Typer(help="Daily and weekly reports: traffic, quality, cost and performance "
                              "against the day before and a 7-day baseline.", no_args_is_help=True)
app.add_typer(report_app, name="report")

ReportFormatOption = Annotated[
    ReportFormat,
    typer.Option("--format", "-f", help="table (terminal, with sparklines), markdown (GitHub, with Mermaid "
                                        "charts), json (for scripts), csv (the headline figures) or html (one self-contained file "
                                        "with interactive charts).", case_sensitive=False),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="aimon.toml with a \\[report] table of thresholds for highlights, "
                                  "concerns and recommendations.", show_default="$AIMON_CONFIG, else ./aimon.toml",
                 dir_okay=False),
]


def _run(kind: str, day: str | None, fmt: ReportFormat, output: Path | None, config: Path | None,
         tz: str, db: Path, show_pii: bool) -> None:
    from aimon.analysis.report.daily import build_report, default_day
    from aimon.analysis.report.findings import Thresholds
    from aimon.analysis.toolkit.window import parse_day
    from aimon.config import discover
    from aimon.store.connection import opened

    thresholds = Thresholds.read(discover(config))
    with opened(db, write=False, tz=tz) as con:
        last_day = parse_day(day, lambda: default_day(con, tz))
        if last_day is None:
            raise InputError(f"{db} holds no requests; load logs first with 'aimon ingest FILE'")
        report = build_report(con, last_day, kind=kind, tz=tz, thresholds=thresholds)
        # Shown while the (read-only) connection is open: the masking runs on it.
        show(report, fmt, output, show_pii=show_pii, tz=tz, con=con)


@report_app.command("daily")
def daily(
    day: Annotated[str | None, typer.Option(
        "--date", help="The day to report: an ISO date, 'latest', or days back from the newest "
                       "request's day such as 1d. Default: the day of the newest request.")] = None,
    show_pii: ShowPiiOption = False,
    fmt: ReportFormatOption = ReportFormat.table,
    output: OutputOption = None,
    config: ConfigOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """One day's dashboard: overview, quality, cost and performance.

    Every headline figure shows its change against the day before and against the
    median of the 7 days before (the baseline), then Highlights, Concerns and
    Recommendations from the thresholds in aimon.toml. A day with no requests says so.

    Example: [bold]aimon report daily --date 2026-11-10 --format html -o daily.html[/]
    """
    _run("daily", day, fmt, output, config, tz, db, show_pii)


@report_app.command("weekly")
def weekly(
    day: Annotated[str | None, typer.Option(
        "--date", help="The last day of the 7-day week to report: an ISO date, 'latest', or days back "
                       "from the newest request's day. Default: the day of the newest request.")] = None,
    show_pii: ShowPiiOption = False,
    fmt: ReportFormatOption = ReportFormat.table,
    output: OutputOption = None,
    config: ConfigOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Seven days' dashboard, compared with the week before and the median of the 4 weeks before.

    Example: [bold]aimon report weekly --format markdown -o week.md[/]
    """
    _run("weekly", day, fmt, output, config, tz, db, show_pii)
