"""What the dask tests share: a distributed LocalCluster (in-process) and a
``graphs`` fixture that runs a block on the threaded scheduler or on that cluster
and counts the task graphs run."""

import contextlib
import warnings

import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


class _GraphsOnScheduler(distributed.diagnostics.plugin.SchedulerPlugin):
    name = "propmap-test-graph-count"

    def __init__(self):
        self.n = 0

    def update_graph(self, scheduler, **kwargs):
        self.n += 1


class _GraphsOnThreads(dask.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _start(self, dsk):
        self.n += 1


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        )
        client = distributed.Client(local)
    plugin = _GraphsOnScheduler()
    local.scheduler.add_plugin(plugin)
    yield client, plugin
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.close()
        local.close()


@pytest.fixture(params=["threads", "cluster"])
def graphs(request):
    """A context manager that runs its block on the scheduler and yields a
    counter of the graphs run (``.n``)."""

    @contextlib.contextmanager
    def counting():
        if request.param == "threads":
            with dask.config.set(scheduler="threads"), _GraphsOnThreads() as counter:
                yield counter
            return
        client, plugin = request.getfixturevalue("cluster")
        start = plugin.n

        class Since:
            @property
            def n(self):
                return plugin.n - start

        with client.as_current():
            yield Since()

    return counting
