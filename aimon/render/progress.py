"""Progress for long work: a bar on a terminal, silence in CI and pipes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from aimon.render import err_console


@contextmanager
def file_progress() -> Iterator[Callable[[int, int, Any], None]]:
    """A callback ``on_file(index, total, file)`` that draws which file is being read."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                        console=err_console, transient=True, disable=not err_console.is_terminal)
    task = None

    def on_file(index: int, total: int, log_file: Any) -> None:
        nonlocal task
        name = getattr(log_file, "path", log_file)
        if task is None:
            task = progress.add_task(f"reading {getattr(name, 'name', name)}", total=total)
        progress.update(task, completed=index, description=f"reading {getattr(name, 'name', name)}")

    with progress:
        yield on_file


@contextmanager
def embed_progress(what: str = "embedding") -> Iterator[Callable[[int, int], None]]:
    """A callback ``on_texts(done, total)`` drawing texts, texts/s and the time left."""
    from rich.progress import TaskProgressColumn, TimeRemainingColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
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
