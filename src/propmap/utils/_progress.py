"""Progress-bar helpers under scikit-matter's names (propmap's own bars use
rich)."""

from __future__ import annotations

__all__ = ["get_progress_bar", "no_progress_bar"]


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
    """The identity: no progress bar."""
    return x
