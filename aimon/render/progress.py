"""Progress for long work: a bar on a terminal, silence in CI and pipes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

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


class _TimeTakenThenLeft(ProgressColumn):
    """The time taken while the total is unknown (a spinner), the time left once it is."""

    taken, left = TimeElapsedColumn(), TimeRemainingColumn()

    def render(self, task: Any) -> Any:
        return (self.taken if task.total is None else self.left).render(task)


class TextsProgress:
    """Texts read by a model, on a terminal: the texts done, texts/s and the time left;
    nothing in CI and pipes. With ``busy``, a spinner saying so (and the time taken)
    until the first texts are counted: the work before the model may take a while too.
    A context manager; ``on_texts(done, total)`` may be handed out before it is entered."""

    def __init__(self, what: str, busy: str | None = None) -> None:
        self.what, self.busy = what, busy
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                                 TextColumn("{task.fields[detail]}"), TaskProgressColumn(), _TimeTakenThenLeft(),
                                 console=err_console, transient=True, disable=not err_console.is_terminal)
        self.task: Any = None

    def __enter__(self) -> TextsProgress:
        self.progress.start()
        if self.busy is not None:
            self.task = self.progress.add_task(self.busy, total=None, detail="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_texts(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task(self.what, total=total, detail="")
        self.progress.update(self.task, description=self.what, total=total, completed=done)
        speed = self.progress.tasks[0].speed
        detail = f"{done:,}/{total:,} texts" + (f"  {speed:,.0f} texts/s" if speed else "")
        self.progress.update(self.task, detail=detail)


@contextmanager
def embed_progress(what: str = "embedding") -> Iterator[Callable[[int, int], None]]:
    """A callback ``on_texts(done, total)`` drawing texts, texts/s and the time left."""
    with TextsProgress(what) as shown:
        yield shown.on_texts


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
