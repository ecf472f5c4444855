"""The bottom of ``edge``: one console and one progress-bar style for every long job.

With ``edge.errors`` the only part of ``edge`` that ``detectors`` and ``orders`` import.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def output_console(stderr: bool) -> Console:
    """A console for stderr (messages, progress) or stdout (a command's results). Off a terminal (logs,
    the journal, CI) a message stays one line however long its paths (soft wrap), and tables are laid
    out COLUMNS wide if that is set, else 160, wide enough that they do not truncate."""
    term = Console(stderr=stderr)
    if term.is_terminal:
        return term
    columns = os.environ.get("COLUMNS", "")
    return Console(stderr=stderr, width=int(columns) if columns.isdigit() else 160, soft_wrap=True)


console = output_console(stderr=True)


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """``with progress_bar("Rendering", n) as advance: advance(1)`` (stderr; quiet when not a TTY)."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
                  disable=not console.is_terminal) as prog:
        task = prog.add_task(label, total=total)

        def advance(n: int = 1) -> None:
            prog.advance(task, n)

        yield advance
