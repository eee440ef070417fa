"""Steps every workflow is built from: the output folder, featurising
structures (after a memory check), progress notes and JSON summaries."""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from propmap.workflows._options import SoapOptions, WorkflowError

__all__ = [
    "StageClock",
    "check_memory",
    "featurise",
    "note_workers_peak",
    "output_folder",
    "stage",
    "stamp_timings",
    "timed_stages",
    "write_json",
]

# a SOAP matrix may take at most this share of the memory available now
MEMORY_SHARE = 0.6


_CLOCK: contextvars.ContextVar[StageClock | None] = contextvars.ContextVar(
    "propmap_stage_clock", default=None
)


class StageClock:
    """Wall time per stage of a job: each keyed :func:`stage` ends the one
    before; :meth:`timings` gives seconds per key, in order."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._current: str | None = None
        self._since = self._started
        self._seconds: dict[str, float] = {}
        # the workers' peaks, noted before a cluster closes early
        self.workers_peak_mb: float | None = None

    def start(self, key: str) -> None:
        now = time.perf_counter()
        if self._current is not None:
            elapsed = now - self._since
            self._seconds[self._current] = self._seconds.get(self._current, 0.0) + (
                elapsed
            )
        self._current, self._since = key, now

    def elapsed(self) -> float:
        """Seconds since the clock started."""
        return time.perf_counter() - self._started

    def timings(self) -> dict[str, float]:
        """Seconds per stage (the current one up to now) and ``total``."""
        self.start(self._current or "other")
        seconds = {key: round(value, 3) for key, value in self._seconds.items()}
        seconds["total"] = round(time.perf_counter() - self._started, 3)
        return seconds


@contextlib.contextmanager
def timed_stages():
    """A :class:`StageClock` that the keyed :func:`stage` calls of the block
    report to."""
    clock = StageClock()
    token = _CLOCK.set(clock)
    try:
        yield clock
    finally:
        _CLOCK.reset(token)


def peak_memory_mb() -> float:
    """The peak resident memory of this process so far, in MiB (Linux and macOS
    report it in different units)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def stamp_timings(summary: dict) -> None:
    """Add ``timings`` (seconds per stage so far) and ``peak_memory_mb`` to a
    summary, when a :func:`timed_stages` clock is active; on a dask cluster
    also ``workers_peak_memory_mb``, the sum of its worker processes' peaks
    (each worker's own peak, since it started)."""
    clock = _CLOCK.get()
    if clock is not None:
        summary["timings"] = clock.timings()
        summary["peak_memory_mb"] = peak_memory_mb()
        workers = _workers_peak_memory_mb()
        if workers is None:
            workers = clock.workers_peak_mb
        if workers is not None:
            summary["workers_peak_memory_mb"] = workers


def note_workers_peak() -> None:
    """Keep the current dask client's workers' peak memory for the summary (for
    a cluster closed before the job ends)."""
    clock = _CLOCK.get()
    if clock is not None:
        clock.workers_peak_mb = _workers_peak_memory_mb()


def _workers_peak_memory_mb() -> float | None:
    """The sum of the peaks of the current dask client's workers (None without
    a client); threads of this process count as none."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_client

    try:
        client = get_client()
    except ValueError:  # no client
        return None
    if client.status != "running":  # closed early (release_workers)
        return None
    workers = client.run(_process_and_peak).values()
    if any(pid == os.getpid() for pid, _ in workers):
        return 0.0  # workers are threads of this process: counted above
    return round(sum(peak for _, peak in workers), 1)


def _process_and_peak() -> tuple[int, float]:
    """(process id, peak memory in MiB) of a worker, in one call to it."""
    return os.getpid(), peak_memory_mb()


def stage(message: str, enabled: bool, key: str | None = None) -> None:
    """A one-line note of what is being done (with progress on); with ``key``,
    the start of that stage for the active :func:`timed_stages` clock."""
    clock = _CLOCK.get()
    if key is not None and clock is not None:
        clock.start(key)
    if enabled:
        since = "" if clock is None else f"[{clock.elapsed():7.1f} s] "
        print(f"propmap: {since}{message}", file=sys.stderr, flush=True)


# outputs are built in a hidden sibling of the output folder and swapped in at
# the end: <parent>/.<name>.<STAGING>-<pid>
STAGING = "propmap-partial"


@contextlib.contextmanager
def output_folder(directory: Path, force: bool):
    """A folder to write the outputs into, swapped in as ``directory`` when the
    block succeeds.

    An existing non-empty ``directory`` needs ``force``; it is replaced whole at
    the end (no file of an older run survives beside the new ones), and stays as
    it was if the block fails or is interrupted. The outputs are built in a
    hidden sibling folder, removed on any failure; one left by a killed process
    (SIGKILL) is removed by the next run into the same folder.
    """
    directory = Path(directory)
    if directory.exists():
        if not directory.is_dir():
            raise WorkflowError(f"{directory} exists and is not a folder.")
        if any(directory.iterdir()) and not force:
            raise WorkflowError(
                f"output folder {directory} exists and is not empty; use `force`."
            )
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(parent, directory.name)
    staging = parent / f".{directory.name}.{STAGING}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_in(staging, directory)


def _swap_in(staging: Path, directory: Path) -> None:
    """Rename ``staging`` to ``directory``, replacing an older one."""
    old = None
    if directory.exists():
        old = directory.parent / f".{directory.name}.propmap-old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        directory.rename(old)
    try:
        staging.rename(directory)
    except BaseException:
        if old is not None and not directory.exists():
            old.rename(directory)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_stale_staging(parent: Path, name: str) -> None:
    """Staging folders of ``name`` whose process is gone (a killed run)."""
    for path in parent.glob(f".{name}.propmap-*-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json(path: Path, data: dict) -> None:
    """``data`` as strict JSON: a NaN or infinity (e.g. the R² of one atom) is
    written as null, which every JSON reader takes."""
    from propmap._files import write_atomically

    write_atomically(
        path, lambda stream: json.dump(_finite(data), stream, indent=2, allow_nan=False)
    )


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _available_memory() -> int:
    """Bytes of memory available now (Linux), or the physical memory."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(
    n_rows: int,
    n_columns: int,
    what: str,
    advice: str,
    copies: int = 1,
    itemsize: int = 8,
    extra: int = 0,
    progress: bool = False,
    refuse: bool = True,
) -> bool:
    """Refuse ``copies`` matrices of ``n_rows x n_columns`` (of ``itemsize``
    bytes an entry), plus ``extra`` bytes, that would not fit in the memory
    available; with ``progress``, say how much it is before the work. Without
    ``refuse``, say whether it fits instead (True: it does)."""
    needed = itemsize * copies * n_rows * n_columns + extra
    available = _available_memory()
    stage(
        f"{what} will need about {_size(needed)} of memory "
        f"({_size(available)} available)",
        progress,
    )
    if needed <= MEMORY_SHARE * available:
        return True
    if not refuse:
        return False
    shape = f"{n_rows:,} x {n_columns:,}"
    held = f"{copies} matrices of {shape}" if copies > 1 else shape
    raise WorkflowError(
        f"{what} would take {_size(needed)} ({held}), more than "
        f"{MEMORY_SHARE:.0%} of the {_size(available)} of memory available; "
        f"{advice}"
    )


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def featurise(
    structures,
    soap: SoapOptions,
    per: str,
    progress: bool,
    dtype: str = "float64",
    copies: int = 1,
    extra=None,
):
    """The fitted SOAP featuriser and the features of ``structures`` (in
    ``dtype``), after a check that ``copies`` of them, plus ``extra(n_rows,
    n_columns)`` bytes of the job's own, fit in memory."""
    featurizer = soap.featurizer(progress=progress, per=per, dtype=dtype)
    featurizer.fit(structures)
    n_columns = len(featurizer.get_feature_names_out())
    # featomic holds the per-atom rows of one batch besides the result: each
    # atom fills its own element's blocks only (a share 1 / elements of the
    # columns), held twice (featomic's blocks, their columns reordered); 2,000
    # QM9 molecules measured 0.26-0.42 GB over the features, this says 0.41
    batch_atoms = sum(len(a) for a in structures[: featurizer.batch_size])
    batch_bytes = 2 * 8 * batch_atoms * n_columns // max(len(featurizer.species_), 1)
    rows = sum(len(a) for a in structures) if per == "atom" else len(structures)
    itemsize = np.dtype(dtype).itemsize
    check_memory(
        rows,
        n_columns,
        f"SOAP features of {rows:,} {'atoms' if per == 'atom' else 'structures'} "
        f"with {len(featurizer.species_)} elements ({n_columns:,} columns)",
        "lower `max_radial` / `max_angular` or the `cutoff`, or map fewer elements "
        "at a time (the columns grow with the square of the number of elements).",
        copies=copies,
        itemsize=itemsize,
        extra=batch_bytes + (0 if extra is None else extra(rows, n_columns)),
        progress=progress,
    )
    stage(f"SOAP features of {len(structures)} structures", progress, key="featurize")
    return featurizer, featurizer.transform(structures)
