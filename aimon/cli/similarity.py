"""aimon similarity: answers against golden answers, consistency of repeated prompts;
and `aimon cost cache-opportunity`, what a semantic cache would have saved."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimon.cli import app
from aimon.cli.cost import cost_app
from aimon.cli.drift import (
    ModelPathOption,
    SampleOption,
    SeedOption,
    store_new_embeddings,
)
from aimon.cli.options import (
    DEFAULT_DB,
    DbOption,
    FormatOption,
    OutputOption,
    SinceOption,
    TzOption,
    UntilOption,
)
from aimon.cli.output import ShowPiiOption, exit_on, show
from aimon.errors import UsageError

similarity_app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                             help="Answers against golden answers (--golden), and the consistency of "
                                  "answers to repeated prompts (consistency).")
app.add_typer(similarity_app, name="similarity")

EndpointOption = Annotated[str | None, typer.Option("--endpoint", help="Only this endpoint.")]


def _window(con, since, until, tz):
    from aimon.analysis.toolkit.window import resolve

    return resolve(con, since, until, tz=tz)


@similarity_app.callback()
def similarity(
    ctx: typer.Context,
    golden: Annotated[Path | None, typer.Option(
        "--golden", dir_okay=False, help="JSON lines of question_id, question, reference_answer.")] = None,
    threshold: Annotated[float, typer.Option(
        "--threshold", min=-1.0, max=1.0, help="Flag answers whose cosine similarity to the reference is below this.")] = 0.8,
    match_threshold: Annotated[float, typer.Option(
        "--match-threshold", min=-1.0, max=1.0,
        help="A prompt answers a golden question when their cosine similarity reaches this "
             "(requests that log a question_id are matched by it).")] = 0.8,
    fail_on_below: Annotated[bool, typer.Option(
        "--fail-on-below", help="Exit 1 when any answer is below --threshold.")] = False,
    endpoint: EndpointOption = None,
    sample: SampleOption = 5000,
    seed: SeedOption = 0,
    model: ModelPathOption = None,
    show_pii: ShowPiiOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Score logged answers against reference answers: each request is matched to a golden
    question (by a logged question_id, or its prompt's nearest golden question), its
    answer's cosine similarity to the reference is computed, answers below --threshold
    are flagged, and the mean is followed per question per day. Needs the embeddings extra.

    Example: [bold]aimon similarity --golden sample_logs/golden.jsonl --endpoint /support-bot[/]
    """
    if ctx.invoked_subcommand is not None:
        return
    if golden is None:
        raise UsageError("give --golden FILE (JSON lines of question_id, question, reference_answer), "
                         "or a subcommand: aimon similarity consistency")
    from aimon.analysis import similarity as analysis
    from aimon.analysis.toolkit import embedding
    from aimon.render.progress import embed_progress

    embedding.require(model)
    questions = analysis.load_golden(golden)
    from aimon.store.connection import opened
    with opened(db, write=False, tz=tz) as con:
        window = _window(con, since, until, tz)
        with embed_progress("embedding") as on_texts:
            report = analysis.golden_report(con, window, questions, threshold=threshold,
                                            match_threshold=match_threshold, endpoint=endpoint, sample=sample,
                                            seed=seed, show_pii=show_pii, model=model, progress=on_texts)
    notes = list(report.notes)
    note = store_new_embeddings(db, tz)
    if note:
        notes.append(note)
    show(report, fmt, output, show_pii=show_pii, tz=tz, notes=notes)
    if fail_on_below:
        from aimon.render.similarity import gate_message

        exit_on(analysis.judge(report), gate_message)


@similarity_app.command("consistency")
def similarity_consistency(
    min_asked: Annotated[int, typer.Option("--min-asked", min=2, help="Only prompts asked at least this often.")] = 3,
    top: Annotated[int, typer.Option("--top", min=1, help="How many prompts to list.")] = 20,
    endpoint: EndpointOption = None,
    model: ModelPathOption = None,
    show_pii: ShowPiiOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """For prompts asked many times (same text, same endpoint), how far apart are their
    answers? Lists the least consistent first: mean and minimum pairwise cosine similarity
    of the distinct answers.

    Example: [bold]aimon similarity consistency --since 7d --min-asked 5[/]
    """
    from aimon.analysis import similarity as analysis
    from aimon.analysis.toolkit import embedding
    from aimon.render.progress import embed_progress

    embedding.require(model)
    from aimon.store.connection import opened
    with opened(db, write=False, tz=tz) as con:
        window = _window(con, since, until, tz)
        with embed_progress("embedding answers") as on_texts:
            result = analysis.consistency(con, window, min_asked=min_asked, top=top, endpoint=endpoint,
                                          show_pii=show_pii, model=model, progress=on_texts)
    notes = list(result.notes)
    note = store_new_embeddings(db, tz)
    if note:
        notes.append(note)
    show(result, fmt, output, show_pii=show_pii, tz=tz, notes=notes)


@cost_app.command("cache-opportunity")
def cost_cache_opportunity(
    similarity: Annotated[float, typer.Option(
        "--similarity", min=0.5, max=1.0, help="Cosine similarity at which an earlier prompt counts as the same.")] = 0.95,
    endpoint: EndpointOption = None,
    model: ModelPathOption = None,
    show_pii: ShowPiiOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """What would a semantic cache have saved? A request is a hit when an earlier request
    of the same endpoint asked the same prompt or a near-duplicate (cosine >= --similarity);
    shows the hit rate and the dollars those requests cost, by endpoint. Needs the
    embeddings extra.

    Example: [bold]aimon cost cache-opportunity --since 7d --similarity 0.95[/]
    """
    from aimon.analysis import similarity as analysis
    from aimon.analysis.toolkit import embedding
    from aimon.render.progress import embed_progress

    embedding.require(model)
    from aimon.store.connection import opened
    with opened(db, write=False, tz=tz) as con:
        window = _window(con, since, until, tz)
        with embed_progress("embedding prompts") as on_texts:
            result = analysis.cache_opportunity(con, window, similarity=similarity, endpoint=endpoint,
                                                show_pii=show_pii, model=model, progress=on_texts)
    notes = list(result.notes)
    note = store_new_embeddings(db, tz)
    if note:
        notes.append(note)
    show(result, fmt, output, show_pii=show_pii, tz=tz, notes=notes)
