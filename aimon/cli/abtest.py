"""aimon abtest: list experiments, and analyse one with real statistics."""

from __future__ import annotations

import math
from enum import StrEnum
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
)
from aimon.cli.output import ShowPiiOption, exit_on, masked, show
from aimon.errors import UsageError
from aimon.render import err_console, visible

abtest_app = typer.Typer(help="A/B experiments: variants, sizes and honest comparisons.",
                         no_args_is_help=True)
app.add_typer(abtest_app, name="abtest")

class SuccessFrom(StrEnum):
    auto = "auto"
    logged = "logged"
    thumbs = "thumbs"


@abtest_app.command("list")
def list_(
    since: SinceOption = None,
    until: UntilOption = None,
    show_pii: ShowPiiOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Experiments with their variants, sizes (requests, users) and date ranges.

    Example: [bold]aimon abtest list --since 30d[/]
    """
    from aimon.analysis.abtest.experiments import list_experiments
    from aimon.analysis.toolkit.window import resolve
    from aimon.store.connection import opened

    with opened(db, write=False, tz=tz) as con:
        result = list_experiments(con, resolve(con, since, until, tz=tz))
    show(result, fmt, output, show_pii=show_pii, tz=tz)


def _min_effect(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--min-effect {text!r} is not a number (in the metric's unit; "
                         "0.02 is 2 percentage points for success)") from None
    if not (math.isfinite(value) and value > 0):  # "nan" and "inf" parse as floats
        raise UsageError(f"--min-effect must be a positive, finite number (got {text})")
    return value


# The options of abtest analyze, declared once here so that its signature reads as a list.
ExperimentOption = Annotated[str, typer.Option(
    "--experiment", "-e", help="The experiment to analyse (see 'aimon abtest list').", show_default=False)]
MetricOption = Annotated[list[str] | None, typer.Option(
    "--metric", "-m",
    help="Metric(s) to compare; repeat or comma-separate. The first is primary (the verdict "
         "uses it), the rest are guardrails. One of: success, thumbs_up, thumbs_down, "
         "error_rate, latency_ms, ttft_ms, cost_usd, output_tokens, input_tokens. "
         "Default: success (error_rate when no success or thumbs are logged).")]
ControlOption = Annotated[str | None, typer.Option(
    "--control", help="The control variant. Default: one named control/baseline/A, else the "
                      "first by name.")]
UnitOption = Annotated[bool | None, typer.Option(
    "--by-user/--by-request", help="The unit of analysis: one user (per-user ratios, a "
    "permutation test over users, CR1 intervals) or one request. Default: the unit of "
    "assignment (users when every user saw one variant).", show_default=False)]
SplitOption = Annotated[str | None, typer.Option(
    "--split", help="The intended split for the sample-ratio check: '50,50' in the order the "
                    "variants are listed (by name), or 'control=90,treatment=10'. Default: equal.")]
SuccessFromOption = Annotated[SuccessFrom, typer.Option(
    "--success-from", help="Where success comes from: the logged success field, thumbs "
                           "feedback, or auto (logged when present, else thumbs).",
    case_sensitive=False)]
AlphaOption = Annotated[float, typer.Option("--alpha", min=1e-6, max=0.5,
                                            help="Significance level for tests and intervals.")]
PowerOption = Annotated[float, typer.Option("--power", min=0.5, max=0.999,
                                            help="Power for the MDE and sample-size figures.")]
MinEffectOption = Annotated[str | None, typer.Option(
    "--min-effect", help="Smallest difference worth knowing, in the primary metric's unit "
                         "(0.02 = 2 pp). 'No detectable difference' needs the CI inside "
                         "±this; without it that verdict is never given.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap (results repeat).")]
ResamplesOption = Annotated[int, typer.Option("--resamples", min=100, max=100_000,
                                              help="Bootstrap resamples for the P95 interval.")]
FailOnOption = Annotated[str, typer.Option(
    "--fail-on", help="Exit 1 when: srm (a sample ratio mismatch, p < 0.001), regression (a "
                      "variant significantly worse than control on any metric after Holm), "
                      "no-winner (the verdict names no winning variant). Comma-separate; "
                      "'none' never fails.")]


@abtest_app.command("analyze")
def analyze(
    experiment: ExperimentOption,
    metric: MetricOption = None,
    control: ControlOption = None,
    by_user: UnitOption = None,
    split: SplitOption = None,
    success_from: SuccessFromOption = SuccessFrom.auto,
    alpha: AlphaOption = 0.05,
    power: PowerOption = 0.8,
    min_effect: MinEffectOption = None,
    seed: SeedOption = 0,
    resamples: ResamplesOption = 2000,
    fail_on: FailOnOption = "srm",
    since: SinceOption = None,
    until: UntilOption = None,
    show_pii: ShowPiiOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Compare an experiment's variants against control, with the statistics done right.
    Per variant: units, requests, success rate (from [bold]success[/], else thumbs
    feedback), latency mean/median/P95 and cost per request. Per comparison: the
    difference with a 95% CI (Newcombe for proportions, Welch for means per request;
    CR1 cluster-robust t per user, with a permutation test over users), its test,
    Holm-adjusted p (the primary metric and the guardrails are separate families),
    relative lift, Bayesian probability to beat control, Mann-Whitney and a seeded
    bootstrap CI of the P95 for continuous metrics, and power (MDE now, units needed).
    The unit follows the assignment: users when every user saw one variant. A sample
    ratio mismatch (counted in that unit) is flagged at p < 0.001 and exits 1 (see
    --fail-on). A winner needs 20 units per arm.

    Example: [bold]aimon abtest analyze -e support-tone-2026-11 -m success,latency_ms --min-effect 0.02[/]
    """
    from aimon.analysis.abtest.gate import judge, parse_gates

    gates = parse_gates(fail_on)
    effect = _min_effect(min_effect)
    from aimon.analysis.abtest.analyze import analyze
    from aimon.analysis.abtest.metrics import parse_metrics
    from aimon.analysis.toolkit.window import resolve
    from aimon.render.abtest import gate_message, srm_warning
    from aimon.store.connection import opened

    metrics = parse_metrics(metric)
    with opened(db, write=False, tz=tz) as con:
        window = resolve(con, since, until, tz=tz)
        result = analyze(con, window, experiment, metrics=metrics, control=control,
                         by_user=by_user, split=split, success_from=success_from.value,
                         alpha=alpha, power=power, seed=seed, n_resamples=resamples,
                         min_effect=effect)
    if result.srm.mismatch:
        (warning,) = masked(show_pii, srm_warning(result))
        err_console.print("aimon: warning: " + visible(warning), style="bold red", markup=False)
    show(result, fmt, output, show_pii=show_pii, tz=tz)
    exit_on(judge(result, gates), gate_message)
