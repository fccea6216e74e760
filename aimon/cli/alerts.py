"""aimon alerts: rules over trailing windows, for cron jobs and for tuning."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, OutputOption, TzOption
from aimon.cli.output import ShowPiiOption, exit_on, show
from aimon.render import RulesFormat

alerts_app = typer.Typer(help="Alert rules over trailing windows: check now (for cron), replay history "
                              "(to tune), list the rules.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


class Severity(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="An alerts.toml with \\[\\[rules]] (see docs/alerts.md). Default: the "
                                 "built-in rules (print them with 'aimon alerts rules --format toml').",
                 dir_okay=False),
]


def _load_rules(path: Path | None):
    from aimon.analysis.alerts.rules import DEFAULT_RULES, rules_from_document
    from aimon.store.toml_config import read_toml

    if path is None:
        return list(DEFAULT_RULES)
    return rules_from_document(read_toml(path), str(path))


@alerts_app.command("check")
def check(
    at: Annotated[str | None, typer.Option(
        "--at", help="Evaluate windows ending at this time: ISO time, or a span before the newest request "
                     "(30m). Default: just after the newest request.")] = None,
    rules: RulesOption = None,
    fail_on: Annotated[Severity | None, typer.Option(
        "--fail-on", help="Exit 1 when a new alert of this severity or worse fires (P0 is the worst). "
                          "Alerts inside their cooldown do not count again.", case_sensitive=False)] = None,
    no_state: Annotated[bool, typer.Option(
        "--no-state", help="Neither read nor record alert state (opens the database read-only); every "
                           "firing alert counts as new. On a read-only database the state is read "
                           "but not recorded.")] = False,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Evaluate the alert rules once, as a cron job would every few minutes.

    Firing alerts are recorded in the database: while an incident keeps firing within
    a rule's cooldown it is reported as [bold]ongoing[/] and does not fail the check
    again, so cron pages once per incident.

    Example: [bold]*/5 * * * * aimon alerts check --fail-on P1 --format json || page-oncall[/]
    """
    from aimon.analysis.alerts.check import check as run_check
    from aimon.analysis.alerts.check import track_state
    from aimon.analysis.toolkit.window import time_or_newest
    from aimon.render import err_console
    from aimon.render.alerts import gate_message
    from aimon.store import alert_state
    from aimon.store.session import session

    rule_list = _load_rules(rules)
    # One connection for the check and its record: the state it reads is the state it updates.
    with session(db, tz) as s, s.keep(refused=no_state) as con:
        when = time_or_newest(con, at, tz=tz, option="--at")
        result = run_check(con, rule_list, when)
        if s.read_only:
            # Cooldowns still come from the stored state; this run's firings are not recorded.
            err_console.print(f"note: {db} is {s.read_only}: alert state was read but this check is not "
                              "recorded.", style="dim", markup=False, highlight=False, soft_wrap=True)
        if not no_state:
            result, changes = track_state(result, alert_state.open_incidents(con))
            if s.stored:
                alert_state.record(con, changes)
    level = fail_on.value if fail_on else None
    show(result, fmt, output, show_pii=show_pii, tz=tz, fail_on=level)
    if level:
        exit_on(result.gate(level), gate_message)


@alerts_app.command("scan")
def scan(
    since: Annotated[str, typer.Option(
        "--since", help="Start of the replay: a span before the newest request (7d, 24h) or an ISO time.")] = "7d",
    until: Annotated[str | None, typer.Option(
        "--until", help="End of the replay (same forms). Default: just after the newest request.")] = None,
    rules: RulesOption = None,
    show_pii: ShowPiiOption = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    tz: TzOption = "UTC",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Replay the rules minute by minute over history and list when each would have paged.

    Use it to tune thresholds before trusting them: an incident is one page, and firing
    again within the rule's cooldown continues it. Nothing is written.

    Example: [bold]aimon alerts scan --since 7d --rules alerts.toml[/]
    """
    from aimon.analysis.alerts.scan import scan as run_scan
    from aimon.analysis.toolkit.window import ceil_minute, newest_request, time_or_newest
    from aimon.errors import InputError
    from aimon.render.progress import delayed_progress
    from aimon.store.connection import opened

    rule_list = _load_rules(rules)
    with opened(db, write=False, tz=tz) as con:
        last = newest_request(con)
        end = time_or_newest(con, until, tz=tz, option="--until", newest=last)
        # Evaluate on whole minutes (14:05, not 14:04:16.39): the replay's times read
        # like a clock, and the default end still covers the newest request.
        end, start = ceil_minute(end), ceil_minute(time_or_newest(con, since, tz=tz, option="--since",
                                                                  newest=last))
        if start >= end:
            from aimon.render import units

            raise InputError(f"--since {units.when(start, tz)} is not before --until {units.when(end, tz)} ({tz})")
        with delayed_progress("replaying the rules", total=len(rule_list)) as step:
            result = run_scan(con, rule_list, start, end,
                              on_rule=lambda name, done: step(f"replaying {name}", done))
    show(result, fmt, output, show_pii=show_pii, tz=tz)


@alerts_app.command("rules")
def list_rules(
    rules: RulesOption = None,
    fmt: Annotated[RulesFormat, typer.Option(
        "--format", "-f", help="table, markdown, json, csv (one row per rule), or toml (an alerts.toml "
                               "to start editing from).",
        case_sensitive=False)] = RulesFormat.table,
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Show the rules a check would use: the built-in ones, or those of --rules.

    Example: [bold]aimon alerts rules --format toml > alerts.toml[/]
    """
    from aimon.analysis.alerts.rules import rule_data
    from aimon.render.alerts import RuleList

    show(RuleList([rule_data(r) for r in _load_rules(rules)]), fmt, output, show_pii=False)
