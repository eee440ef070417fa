"""Benchmark propmap on dask arrays: out of core from a zarr store, and FPS on a
cluster against numpy.

Usage::

    python benchmarks/bench_dask.py [--quick] [--case NAME] [--gigabytes G]
        [--threads N] [--timeout S] [--no-save]

- ``outofcore``: X (float32, 200 columns) and y written once to a chunked,
  uncompressed zarr store under ``benchmarks/data/`` (``--gigabytes``, default
  30: more than this machine's memory; skipped with a message where the disk is
  too small), read back as dask arrays on the threaded scheduler. Runners:
  ``floor``, one streaming pass computing XᵀX; ``pcovr``, ``PCovR`` fit (goal
  <= 1.5 x floor); ``pcovcur``, feature ``PCovCUR`` of 20 columns (goal <= 1.5 x
  floor); ``nystroem``, ``SparseKernelPCovR`` with m = 2,000 active points (RBF)
  chosen by FPS on a random sample of 20,000 rows (no goal: its pass costs
  n·m·d kernel flops, 10 x the floor's n·d²). The table's peak memory is the
  process's (threads only), goal < 4 GB.
- ``fps``: 1,000 sample-FPS picks from 2,000,000 x 200 float64 in memory:
  ``numpy`` (propmap on the array) against ``dask`` (the same rows persisted on a
  two-worker ``LocalCluster``, one actor per row chunk; goal <= 2 x numpy).

``--quick``: 0.2 GB out of core; 200,000 x 50 and 100 picks for FPS.
"""

from __future__ import annotations

import functools
import shutil
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from _harness import (
    Case,
    Runner,
    benchmark_parser,
    report,
    run_cases,
    select_cases,
)

DATA_DIR = Path(__file__).parent / "data"
N_FEATURES = 200
CHUNK_BYTES = 64 * 2**20  # per row chunk of the zarr store
GOALS = {"outofcore": 1.5, "fps": 2.0}
PEAK_GOAL_MB = 4096
CASE_SPECS = {"outofcore": "zarr store read back", "fps": "in-memory, on actors"}
DEFAULT_TIMEOUT_S = 3 * 3600.0


def _chunk(seed: int, index: int, rows: int, columns: int, dtype) -> np.ndarray:
    """Row chunk ``index`` of the synthetic data: a few latent factors plus noise,
    the same in every process."""
    rng = np.random.default_rng([seed, index])
    latent = rng.standard_normal((rows, 5))
    loadings = np.random.default_rng([seed, 10**9]).standard_normal((5, columns))
    return (latent @ loadings + rng.standard_normal((rows, columns))).astype(dtype)


def zarr_store(gigabytes: float) -> dict[str, Any] | None:
    """The store of about ``gigabytes`` of float32 X and its y, written once and
    reused; None (with a message) if the disk cannot hold it."""
    import dask
    import dask.array as da

    n_rows_chunk = max(1, CHUNK_BYTES // (4 * N_FEATURES))
    n_chunks = max(2, int(gigabytes * 2**30 // (4 * N_FEATURES * n_rows_chunk)))
    n_samples = n_chunks * n_rows_chunk
    path = DATA_DIR / f"ooc-{n_samples}x{N_FEATURES}.zarr"
    if not (path / "done").exists():
        needed = 1.1 * n_samples * (N_FEATURES + 1) * 4
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(DATA_DIR).free
        if free < needed:
            print(
                f"outofcore: skipped: the store needs {needed / 2**30:.1f} GB, the "
                f"disk has {free / 2**30:.1f} GB free."
            )
            return None
        shutil.rmtree(path, ignore_errors=True)
        blocks = [
            da.from_delayed(
                _delayed_chunk(k, n_rows_chunk), (n_rows_chunk, N_FEATURES), np.float32
            )
            for k in range(n_chunks)
        ]
        X = da.concatenate(blocks)
        y = X[:, :5].sum(axis=1, dtype=np.float32)
        # one pass generates each chunk once and writes both arrays
        dask.compute(
            X.to_zarr(str(path), component="X", compute=False),
            y.to_zarr(str(path), component="y", compute=False),
            scheduler="threads",
        )
        (path / "done").write_text("complete\n")
    n_active = 200 if gigabytes < 1 else 2_000
    return {
        "path": str(path), "n_samples": n_samples, "gigabytes": gigabytes,
        "n_active": n_active,
    }  # fmt: skip


def _delayed_chunk(index: int, rows: int):
    import dask

    return dask.delayed(_chunk)(0, index, rows, N_FEATURES, np.float32)


def prepare_outofcore(store, runner: str) -> Callable[[], Any]:
    if store is None:
        raise RuntimeError("no store (see the message above)")
    import dask
    import dask.array as da

    from propmap.decomposition import PCovR
    from propmap.feature_selection import PCovCUR

    dask.config.set(scheduler="threads")
    X = da.from_zarr(store["path"], component="X")
    y = da.from_zarr(store["path"], component="y")

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if runner == "floor":
                X64 = X.astype(np.float64)
                return (X64.T @ X64).compute()
            if runner == "pcovr":
                return PCovR(mixing=0.5, n_components=2, svd_solver="full").fit(X, y)
            if runner == "nystroem":
                return _nystroem(X, y, store["n_active"])
            return PCovCUR(n_to_select=20).fit(X, y)

    return run


def _nystroem(X, y, n_active: int):
    """Nyström Kernel PCovR: active points by FPS on a random sample of rows
    (10 x m, read in memory), then K_NM's products in one pass over X."""
    from propmap.decomposition import SparseKernelPCovR
    from propmap.sample_selection import FPS

    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(X.shape[0], 10 * n_active, replace=False))
    rows = np.asarray(X[sample].compute(), dtype=np.float64)
    picked = FPS(n_to_select=n_active).fit(rows).selected_idx_
    gamma = 1.0 / (2 * X.shape[1])
    model = SparseKernelPCovR(
        n_active=n_active, active=sample[picked], kernel="rbf", gamma=gamma,
        n_components=2, svd_solver="full",
    )  # fmt: skip
    return model.fit(X, y)


def fps_data(n_samples: int, n_features: int) -> np.ndarray:
    rows = 100_000
    return np.vstack(
        [
            _chunk(1, k, min(rows, n_samples - start), n_features, np.float64)
            for k, start in enumerate(range(0, n_samples, rows))
        ]
    )


def prepare_fps(X: np.ndarray, runner: str, n_to_select: int) -> Callable[[], Any]:
    from propmap.sample_selection import FPS

    if runner == "numpy":
        return lambda: FPS(n_to_select=n_to_select).fit(X)
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        )
        client = Client(cluster)
        lazy = client.persist(da.from_array(X, chunks=(100_000, -1)))
        wait(lazy)
    prepare_fps.keep = (cluster, client)  # alive until the process ends

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return FPS(n_to_select=n_to_select).fit(lazy)

    return run


def picks(data: Any, result: Any) -> dict[str, np.ndarray]:
    return {"picks": np.asarray(result.selected_idx_)}


def differing_picks(
    reference: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> float:
    return float(np.count_nonzero(reference["picks"] != other["picks"]))


def build_case(key: str, quick: bool, gigabytes: float, timeout_s: float) -> Case:
    if key == "outofcore":
        size = 0.2 if quick else gigabytes
        return Case(
            name=f"outofcore zarr {size:g} GB float32 x {N_FEATURES}",
            setup=functools.partial(zarr_store, size),
            runners={
                name: Runner(functools.partial(prepare_outofcore, runner=name))
                for name in ("floor", "pcovr", "pcovcur", "nystroem")
            },
            reference="floor",
            timeout_s=timeout_s,
            params={"key": key, "gigabytes": size, "quick": quick},
        )
    n_samples, n_features, n_to_select = (
        (200_000, 50, 100) if quick else (2_000_000, N_FEATURES, 1_000)
    )
    return Case(
        name=f"fps {n_to_select} of {n_samples}x{n_features}",
        setup=functools.partial(fps_data, n_samples, n_features),
        runners={
            name: Runner(
                functools.partial(prepare_fps, runner=name, n_to_select=n_to_select),
                outputs=picks,
            )
            for name in ("numpy", "dask")
        },
        reference="numpy",
        agreement=differing_picks,
        timeout_s=timeout_s,
        params={"key": key, "quick": quick},
    )


def details(results: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    times = {(r["case"], r["runner"]): r.get("time_s") for r in results}
    for result in results:
        key, case, runner = result["params"]["key"], result["case"], result["runner"]
        if runner in ("floor", "numpy") or result.get("time_s") is None:
            continue
        base = times.get((case, "floor" if key == "outofcore" else "numpy"))
        if not base:
            continue
        ratio = result["time_s"] / base
        goal = None if runner == "nystroem" else GOALS[key]
        line = (
            f"{case} / {runner}: {ratio:.2f} x "
            f"{'the XᵀX floor' if key == 'outofcore' else 'numpy propmap'}"
        )
        if goal is not None:
            line += f" (goal <= {goal:g}: {'met' if ratio <= goal else 'NOT met'})"
        peak = result.get("peak_mb")
        if key == "outofcore" and peak is not None:
            met = "met" if peak < PEAK_GOAL_MB else "NOT met"
            line += f"; peak {peak:.0f} MB (goal < {PEAK_GOAL_MB}: {met})"
        if result.get("max_rel_diff") is not None:
            line += f"; {result['max_rel_diff']:.0f} picks differ"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    parser = benchmark_parser(
        __doc__.splitlines()[0],
        CASE_SPECS,
        "0.2 GB out of core and a small FPS, for a smoke run",
        timeout_s=DEFAULT_TIMEOUT_S,
    )
    parser.add_argument(
        "--gigabytes",
        type=float,
        default=30.0,
        help="size of the out-of-core X (default 30)",
    )
    args = parser.parse_args(argv)
    cases = [
        build_case(key, args.quick, args.gigabytes, args.timeout) for key in CASE_SPECS
    ]
    cases = select_cases(parser, cases, args.case)
    results = run_cases(cases, repeat=args.repeat, threads=args.threads)
    return report(results, args, "dask", details(results))


if __name__ == "__main__":
    sys.exit(main())
