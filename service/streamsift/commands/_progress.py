"""The transient spinner the long simulation commands show while they work."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["spinner"]


def spinner(console: Console, *, quiet: bool) -> Progress:
    """A spinner with a description and the elapsed time, cleared when done.

    Examples
    --------
    >>> with spinner(Console(quiet=True), quiet=True) as progress:
    ...     task = progress.add_task("working", total=None)
    ...     progress.update(task, description="still working")
    """
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    )
