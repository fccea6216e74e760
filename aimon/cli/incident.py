"""aimon incident: find incident windows, and write their post-mortems."""

from __future__ import annotations

from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import (
    DEFAULT_DB,
    DbOption,
    FormatOption,
    OutputOption,
    SinceOption,
    TzOption,
    UntilOption,
    finite,
)
from aimon.cli.output import ShowPiiOption, exit_on, show
from aimon.errors import InputError, UsageError
from aimon.render import Format

incident_app = typer.Typer(help="Incidents: detect them in the logs and write post-mortems.",
                           no_args_is_help=True)
app.add_typer(incident_app, name="incident")

@incident_app.command("detect")
def detect(
    since: SinceOption = None,
    until: UntilOption = None,
    smooth: Annotated[int, typer.Option("--smooth", min=1, max=61,
                                        help="Minutes in each rolling window (odd; centred).")] = 5,
    threshold: Annotated[float, typer.Option("--threshold", min=1.0, callback=finite,
                                             help="z-score a minute must reach to be flagged.")] = 4.0,
    min_requests: Annotated[int, typer.Option("--min-requests", min=1,
                                              help="Fewest requests in a rolling window to judge it.")] = 5,
    min_bad: Annotated[int, typer.Option("--min-bad", min=1,
                                         help="Minimum volume: fewest errors (or slow requests) in a flagged rolling window and in a reported incident.")] = 5,
    merge_gap: Annotated[int, typer.Option("--merge-gap", min=0,
                                           help="Merge flagged stretches less than this many minutes apart.")] = 10,
    segments: Annotated[int, typer.Option(
        "--segments", min=0, max=200,
        help="Also score the busiest N model+endpoint pairs on their own (an outage of one model "
             "hides in the total).")] = 20,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 1 when an incident of this severity or worse is found (P0..P3).")] = None,
    show_pii: ShowPiiOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Find incident windows: error-rate and P95-latency anomalies per minute.
    Each minute is scored on a centred rolling window against the baseline (the window
    and the 24 hours before it), for all traffic and for each busy model+endpoint pair:
    the smaller of a robust z-score and the exact binomial tail's z, on errors and on
    requests slower than their model+endpoint P95. Flagged minutes merge
    into windows whose edges are placed by change-point; a window is reported when it
    holds at least --min-requests requests and --min-bad bad ones (minimum volume), with
    a severity P0-P3, its start, end and peak. Default window: the last 7 days of the logs.

    Example: [bold]aimon incident detect --since 7d --fail-on P1[/]
    """
    from aimon.analysis.incident.gate import judge, parse_gate

    gate = parse_gate(fail_on) if fail_on is not None else None
    from datetime import timedelta

    from aimon.analysis.incident.detect import DetectSettings, detect
    from aimon.analysis.toolkit.window import resolve
    from aimon.store.connection import opened

    settings = DetectSettings(smooth=smooth, threshold=threshold, min_requests=min_requests,
                                       min_bad=min_bad, merge_gap=merge_gap, segments=segments)
    with opened(db, write=False, tz=tz) as con:
        window = resolve(con, since, until, tz=tz, default_span=timedelta(days=7))
        result = detect(con, window, settings)
    show(result, fmt, output, show_pii=show_pii, tz=tz)
    if gate is not None:
        from aimon.render.incident import gate_message

        exit_on(judge(result, gate), lambda verdict: gate_message(verdict, tz))


@incident_app.command("postmortem")
def postmortem(
    start: Annotated[str | None, typer.Option(
        "--start", help="Start of the incident window (ISO time, or a span before the newest request).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End of the incident window (exclusive).")] = None,
    latest: Annotated[bool, typer.Option(
        "--latest", help="Write the post-mortem of the newest incident 'incident detect' finds in "
                         "--since (default: the last 7 days).")] = False,
    since: SinceOption = None,
    show_pii: Annotated[bool, typer.Option(
        "--show-pii", help="Print prompts and error messages as logged (default: redacted).")] = False,
    samples: Annotated[int, typer.Option("--samples", min=0, max=50,
                                         help="How many bad requests to show.")] = 5,
    history: Annotated[str, typer.Option(
        "--history", help="How far back to look for similar past incidents.")] = "30d",
    tz: TzOption = "UTC",
    fmt: Annotated[Format, typer.Option("--format", "-f", help="markdown (default), table or json (a post-mortem holds "
                                        "several tables: no CSV).",
                                        case_sensitive=False)] = Format.markdown,
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Write the post-mortem of an incident window, in the shape of the incident runbook.
    Compares the window with the 24 hours before it: requests, error rate and top error
    types, latency percentiles, cost, thumbs-down rate, affected users, sessions and
    endpoints; attributes bad requests to model, endpoint, prompt version, user tier and
    error type (risk ratios with 95% CIs) and names the likely root cause; draws the
    minute-by-minute timeline; lists the first and last bad request, redacted samples,
    similar past incidents, contributing factors and follow-ups.

    Example: [bold]aimon incident postmortem --latest -o postmortem.md[/]
    """
    from datetime import timedelta

    from aimon.analysis.incident.detect import detect
    from aimon.analysis.incident.postmortem import postmortem
    from aimon.analysis.toolkit.window import newest_request, parse_span, parse_time, resolve
    from aimon.render.present import check_format
    from aimon.store.connection import opened

    check_format("incident postmortem", fmt)
    if latest and (start or end):
        raise UsageError("give --start and --end, or --latest, not both")
    if not latest and not (start and end):
        raise UsageError("give the incident window with --start and --end, or use --latest")
    span = parse_span(history)
    if span is None:
        raise UsageError(f"--history {history!r}: expected a span such as 30d or 12h")
    with opened(db, write=False, tz=tz) as con:
        if latest:
            window = resolve(con, since, None, tz=tz, default_span=timedelta(days=7))
            found = detect(con, window).incidents
            if not found:
                from aimon.render import units

                raise InputError(f"no incident found in {units.span(window.start, window.end, tz)}; "
                                 "widen --since or give --start and --end")
            t0, t1 = found[-1].start, found[-1].end
        else:
            newest = newest_request(con)
            t0 = parse_time(start, anchor=newest, tz=tz, option="--start")
            t1 = parse_time(end, anchor=newest, tz=tz, option="--end")
            if t0 >= t1:
                from aimon.render import units

                raise UsageError(f"--start {units.when(t0, tz)} is not before --end {units.when(t1, tz)}")
        result = postmortem(con, t0, t1, show_pii=show_pii, history=span, samples=samples)
    show(result, fmt, output, show_pii=show_pii, tz=tz)
