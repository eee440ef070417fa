"""Running a workflow on a dask cluster: connect to a scheduler, or start a local
cluster of worker processes, for the duration of the job."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

from propmap.workflows._options import WorkflowError

__all__ = ["ClusterOptions", "cluster_client", "release_workers"]


@dataclass(frozen=True)
class ClusterOptions:
    """Where the work runs: an existing dask cluster, or local workers.

    Parameters
    ----------
    scheduler : str or None, default=None
        The address of an existing cluster's scheduler, such as
        ``tcp://10.0.0.5:8786``.
    workers : int or None, default=None
        Start a local cluster of this many worker processes (one thread each).
    processes : bool, default=True
        False keeps local workers as threads of this process.
    gather : bool, default=True
        With local ``workers`` (this machine's memory): the features they
        compute come back to this process, chunk by chunk, when the in-memory
        job fits in the memory available, and the job goes on as without a
        cluster (one process using every core through BLAS); otherwise, or with
        False, they stay on the workers and the map is fitted from their
        moments on dask. A ``scheduler``'s workers always keep them.
    """

    scheduler: str | None = None
    workers: int | None = None
    processes: bool = True
    gather: bool = True

    def __post_init__(self):
        if self.scheduler is not None and self.workers is not None:
            raise WorkflowError(
                "give --scheduler (an existing cluster) or --workers (a local one), "
                "not both."
            )
        if self.workers is not None and self.workers < 1:
            raise WorkflowError(f"--workers must be at least 1, not {self.workers}.")

    @property
    def active(self) -> bool:
        """Whether the work runs on a cluster (a scheduler or workers given)."""
        return self.scheduler is not None or self.workers is not None

    @property
    def gathers(self) -> bool:
        """Whether features computed on the workers may come back to this
        process (local workers, ``gather``)."""
        return self.workers is not None and self.gather


@contextlib.contextmanager
def cluster_client(options: ClusterOptions | None):
    """The ``distributed.Client`` the job runs on (None without a cluster), closed
    (with a local cluster) at the end."""
    if options is None or not options.active:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise WorkflowError(
            "--scheduler and --workers need the dask extra: "
            "pip install 'propmap[dask]'."
        ) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's start-up chatter
        if options.scheduler is not None:
            try:
                client = Client(options.scheduler, timeout="3s")
            except (OSError, TimeoutError) as error:
                raise WorkflowError(
                    f"cannot reach the dask scheduler at {options.scheduler}: {error}"
                ) from None
            local = None
        else:
            local = LocalCluster(
                n_workers=options.workers,
                threads_per_worker=1,
                processes=options.processes,
                dashboard_address=None,
            )
            client = Client(local)
    try:
        with client.as_current():
            yield client
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            if local is not None:
                local.close()


def release_workers(client) -> None:
    """Close a local cluster before the job ends (its workers' peak memory noted
    for the summary): the features are here and the rest of the job runs in
    this process, on every core, without idle workers beside it. A no-op without
    a local cluster."""
    from propmap.workflows._steps import note_workers_peak

    cluster = None if client is None else client.cluster
    if cluster is None:  # no client, or a scheduler's: not ours to close
        return
    note_workers_peak()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.close()
        cluster.close()
