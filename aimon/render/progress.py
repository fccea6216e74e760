"""Progress for long work: a bar on a terminal, silence in CI and pipes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from aimon.render import err_console, visible


@contextmanager
def file_progress() -> Iterator[Callable[[int, int, Any], None]]:
    """A callback ``on_file(index, total, file)`` that draws which file is being read."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                        TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                        console=err_console, transient=True, disable=not err_console.is_terminal)
    task = None

    def on_file(index: int, total: int, log_file: Any) -> None:
        nonlocal task
        name = getattr(log_file, "path", log_file)
        # A file name is data: "[red]x.jsonl" is not markup, an escape sequence is shown.
        description = f"reading {visible(str(getattr(name, 'name', name)))}"
        if task is None:
            task = progress.add_task(description, total=total)
        progress.update(task, completed=index, description=description)

    with progress:
        yield on_file


@contextmanager
def embed_progress(what: str = "embedding") -> Iterator[Callable[[int, int], None]]:
    """A callback ``on_texts(done, total)`` drawing texts, texts/s and the time left."""
    from rich.progress import TaskProgressColumn, TimeRemainingColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                        TextColumn("{task.completed:,}/{task.total:,} texts"),
                        TextColumn("{task.fields[rate]}"), TaskProgressColumn(), TimeRemainingColumn(),
                        console=err_console, transient=True, disable=not err_console.is_terminal)
    task = None

    def on_texts(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(what, total=total, rate="")
        speed = progress.tasks[0].speed if progress.tasks else None
        progress.update(task, completed=done, total=total, rate=f"{speed:,.0f} texts/s" if speed else "")

    with progress:
        yield on_texts


@contextmanager
def delayed_progress(what: str, total: int | None = None, *, delay: float = 1.0,
                     console: Any = None) -> Iterator[Callable[[str, int], None]]:
    """Progress for work that is quick on small logs and slow on large ones: nothing for
    the first ``delay`` seconds (most runs are over by then, and a flash of spinner is
    noise), then a spinner with what is being done, the elapsed time and, with a
    ``total``, a bar. Never in CI or pipes. Yields ``step(description, completed)``."""
    import threading

    console = console or err_console
    columns = [SpinnerColumn(), TextColumn("{task.description}", markup=False)]
    if total is not None:
        columns += [BarColumn(), TextColumn("{task.completed}/{task.total}")]
    progress = Progress(*columns, TimeElapsedColumn(), console=console, transient=True,
                        disable=not console.is_terminal)
    task = progress.add_task(what, total=total)
    lock = threading.Lock()
    state = {"started": False, "done": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                progress.start()
                state["started"] = True

    timer = threading.Timer(delay, start)
    timer.daemon = True

    def step(description: str, completed: int) -> None:
        progress.update(task, description=description, completed=completed)

    if console.is_terminal:
        timer.start()
    try:
        yield step
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["started"]:
                progress.stop()
