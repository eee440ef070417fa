"""Progress-bar helpers under scikit-matter's names (propmap's own bars use
rich), and the bar with the time left of propmap's long fits."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

__all__ = ["get_progress_bar", "no_progress_bar", "tracked", "work_bar"]


def _terminal(enabled: bool):
    """A rich console on stderr when bars are asked for and stderr is a
    terminal; None otherwise (a log gets the workflows' stage lines instead,
    and stdout stays for results)."""
    if not enabled:
        return None
    from rich.console import Console

    console = Console(stderr=True)
    return console if console.is_terminal else None


def tracked(iterable, description: str, enabled: bool, total=None):
    """``iterable`` with a rich bar (time left) on stderr while it is consumed,
    removed after; as it is off a terminal or without ``enabled``."""
    console = _terminal(enabled)
    if console is None:
        return iterable
    from rich.progress import track

    return track(
        iterable, description=description, total=total, transient=True,
        console=console,
    )  # fmt: skip


def get_progress_bar():
    """A ``tqdm``-like wrapper of iterables: ``get_progress_bar()(iterable)`` shows
    a progress bar (rich's ``track``, which propmap depends on).

    Returns
    -------
    bar : callable
        ``bar(iterable, total=None, desc=None, **ignored)``.
    """
    from rich.progress import track

    def bar(iterable, total=None, desc=None, **_):
        return track(iterable, total=total, description=desc or "working")

    return bar


def no_progress_bar(x):
    """The identity: no progress bar.

    Parameters
    ----------
    x : iterable
        What would be iterated with a bar.

    Returns
    -------
    iterable
        ``x`` itself.
    """
    return x


@contextlib.contextmanager
def work_bar(
    description: str, total: float, enabled: bool
) -> Iterator[Callable[..., None]]:
    """A bar over ``total`` units of work with the time left, drawn on stderr
    while the block runs and removed after it (rich, on a terminal only).

    Yields ``advance(units=1.0, total=None)``: ``units`` more are done; a new
    ``total`` when the estimate of the work changes on the way. Without
    ``enabled``, or off a terminal (a log gets the workflows' stage lines
    instead), it does nothing.
    """
    console = _terminal(enabled)
    if console is None:
        yield lambda units=1.0, total=None: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(units: float = 1.0, total: float | None = None) -> None:
            progress.update(task, advance=units, total=total)

        yield advance
