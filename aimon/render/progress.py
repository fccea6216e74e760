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
