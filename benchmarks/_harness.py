"""A small harness that times competing implementations on the same data.

Every runner of a :class:`Case` runs in its own freshly spawned Python process, so
that the peak resident set size (``ru_maxrss``) it reports belongs to that runner
alone. Each process builds the data itself from the case's deterministic ``setup``,
records the peak RSS once the data exist (the *baseline*), times the call, and
records the peak RSS again. Runners may also save small output arrays, which the
parent compares with the reference runner's outputs, and report scalar metrics of
their result (a test score, say), computed untimed in their own process.

Typical use::

    case = Case(
        name="my case",
        setup=functools.partial(make_data, n=1000, seed=0),
        runners={"reference": Runner(prepare_reference), "mine": Runner(prepare_mine)},
    )
    results = run_cases([case])
    print(format_table(results))
    save_results(results, "my_benchmark")

Functions given to :class:`Case` and :class:`Runner` are sent to the child processes
by pickling, so they must be defined at module level (``functools.partial`` of a
module-level function is fine), and a script using the harness must guard its
entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "RESULTS_DIR",
    "THREAD_VARIABLES",
    "Case",
    "Runner",
    "benchmark_parser",
    "error_row",
    "format_number",
    "format_table",
    "layout_table",
    "run_case",
    "run_cases",
    "save_results",
    "select_cases",
    "verdict",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Environment variables that set the size of the BLAS and OpenMP thread pools.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
)

Outputs = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Runner:
    """One implementation to time.

    Parameters
    ----------
    prepare : callable
        ``prepare(data)`` does everything that should not be timed (imports,
        building the estimator) and returns a callable with no arguments; calling it
        is the timed operation, and whatever it returns is the run's result.
    outputs : callable or None, default=None
        ``outputs(data, result)`` returns a mapping of name to array, computed after
        the measurement and compared with the reference runner's outputs by the
        case's ``agreement`` function. Keep the arrays small: they are saved to disk.
    metrics : callable or None, default=None
        ``metrics(data, result)`` returns a mapping of name to float, computed after
        the measurement (and after ``outputs``) and reported as the result's
        ``metrics``: figures of merit of this runner alone, such as a test score.
    """

    prepare: Callable[[Any], Callable[[], Any]]
    outputs: Callable[[Any, Any], Outputs] | None = None
    metrics: Callable[[Any, Any], Mapping[str, float]] | None = None


@dataclass(frozen=True)
class Case:
    """A benchmark case: one data set and the runners to time on it.

    Parameters
    ----------
    name : str
        Label of the case in the table and the JSON results.
    setup : callable
        ``setup()`` builds the data, deterministically (same data in every process).
    runners : mapping of str to Runner
        The runners, run one after another in this order.
    repeat : int, default=1
        Each runner's operation is called this many times and the best (shortest)
        wall time is kept. Use 1 for large cases.
    reference : str, default="reference"
        Name of the runner that speeds and outputs are compared with.
    baseline : str or None, default=None
        Name of a runner whose time is a unit of cost (e.g. one matrix product);
        the table then also gives every runner's time divided by this one's.
    agreement : callable or None, default=None
        ``agreement(reference_outputs, runner_outputs)`` returns the discrepancy
        between the two runners' outputs (e.g. the maximum relative difference) as a
        non-negative float, or a mapping of output name to such a float; computed
        for every non-reference runner with outputs.
    timeout_s : float or None, default=None
        A runner's process still running after this many seconds (data generation
        included) is killed and reported as an error.
    params : mapping, default={}
        Parameters of the case (sizes, seed...), copied into every result.
    """

    name: str
    setup: Callable[[], Any]
    runners: Mapping[str, Runner]
    repeat: int = 1
    reference: str = "reference"
    baseline: str | None = None
    agreement: Callable[[Outputs, Outputs], float | Mapping[str, float]] | None = None
    timeout_s: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (2**20 bytes)."""
    # ru_maxrss is in KiB on Linux (but in bytes on macOS).
    scale = 1.0 / 2**20 if sys.platform == "darwin" else 1.0 / 2**10
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _thread_pools() -> list[dict[str, Any]] | None:
    """The BLAS and OpenMP libraries loaded in this process and their thread counts."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [
        {key: pool.get(key) for key in ("internal_api", "version", "num_threads")}
        for pool in threadpool_info()
    ]


def _reset_peak_rss() -> bool:
    """Lower the recorded peak RSS to the current RSS; True if that worked.

    Without this, a transient peak while building the data (a temporary copy, say)
    would hide the runner's own peak. Linux only (``/proc/self/clear_refs``).
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _measure_in_child(
    case: Case,
    runner_name: str,
    repeat: int,
    threads: int | None,
    output_path: str,
    connection,
) -> None:
    """Body of a child process: build the data, time one runner, send a report."""
    report: dict[str, Any] = {"case": case.name, "runner": runner_name}
    try:
        runner = case.runners[runner_name]
        data = case.setup()
        operation = runner.prepare(data)
        gc.collect()
        peak_was_reset = _reset_peak_rss()
        baseline_mb = _peak_rss_mb()
        times = []
        result = None
        for _ in range(repeat):
            result = None  # free the previous result so that it does not count
            start = time.perf_counter()
            result = operation()
            times.append(time.perf_counter() - start)
        peak_mb = _peak_rss_mb()
        report |= {
            "times_s": times,
            "time_s": min(times),
            "baseline_mb": baseline_mb,
            "peak_mb": peak_mb,
            "peak_increase_mb": peak_mb - baseline_mb,
            "peak_was_reset": peak_was_reset,
            "threads": threads,
            "thread_pools": _thread_pools(),
            "metrics": None,
            "error": None,
        }
        if runner.outputs is not None:
            arrays = {
                key: np.asarray(value)
                for key, value in runner.outputs(data, result).items()
            }
            np.savez(output_path, **arrays)
            report["outputs_path"] = output_path
        if runner.metrics is not None:
            report["metrics"] = {
                key: float(value) for key, value in runner.metrics(data, result).items()
            }
    except BaseException:
        report["error"] = traceback.format_exc()
    connection.send(report)
    connection.close()


def _run_in_subprocess(
    case: Case,
    runner_name: str,
    repeat: int,
    threads: int | None,
    output_dir: Path,
) -> dict[str, Any]:
    """Run one runner in a spawned process and return its report."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    output_path = str(output_dir / f"{runner_name}.npz")
    process = context.Process(
        target=_measure_in_child,
        args=(case, runner_name, repeat, threads, output_path, sender),
        name=f"bench-{runner_name}",
    )
    # Thread counts must be in the environment before the child loads any BLAS
    # library; threadpoolctl would miss the libraries scipy loads lazily.
    saved_environment = dict(os.environ)
    if threads is not None:
        os.environ.update({variable: str(threads) for variable in THREAD_VARIABLES})
    try:
        process.start()
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
    sender.close()  # so that recv() fails instead of blocking if the child dies
    report: dict[str, Any] | None = None
    if receiver.poll(case.timeout_s):
        try:
            report = receiver.recv()
        except EOFError:
            report = None
    process.join(timeout=None if report is not None else 5)
    if process.is_alive():
        process.kill()
        process.join()
        message = f"killed after {case.timeout_s} s"
    else:
        message = f"child process exited with code {process.exitcode}"
        if process.exitcode is not None and process.exitcode < 0:
            message += " (killed by a signal; out of memory?)"
    if report is None:
        report = {"case": case.name, "runner": runner_name, "error": message}
    return report


def run_case(
    case: Case,
    repeat: int | None = None,
    threads: int | None = None,
    verbose: bool = True,
) -> list[dict[str, Any]]:
    """Run every runner of a case, each in its own process, and compare them.

    Parameters
    ----------
    case : Case
        The case to run.
    repeat : int or None, default=None
        Overrides ``case.repeat``.
    threads : int or None, default=None
        Size of the BLAS and OpenMP thread pools of the runners' processes (set
        through ``THREAD_VARIABLES`` in their environment); by default the
        environment is passed on unchanged.
    verbose : bool, default=True
        Print a line to stderr as each runner finishes.

    Returns
    -------
    results : list of dict
        One dict per runner with keys ``case``, ``runner``, ``params``, ``repeat``,
        ``times_s``, ``time_s`` (best), ``baseline_mb`` (peak RSS once the data
        exist, after lowering the recorded peak to the current RSS where the system
        allows, see ``peak_was_reset``), ``peak_mb``, ``peak_increase_mb``,
        ``threads``, ``metrics`` (the runner's own metrics, if it has a
        ``metrics`` function), ``ratio_vs_reference``
        (reference time / runner time), ``baseline_runner``, ``ratio_vs_baseline``
        (runner time / baseline runner time), ``agreement`` (the mapping returned by
        the case's agreement function, if it returns one), ``max_rel_diff`` (the
        largest discrepancy) and ``error`` (a traceback, or None). Missing
        measurements are None.
    """
    repeat = case.repeat if repeat is None else repeat
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}.")
    for name in (case.reference, case.baseline):
        if name is not None and name not in case.runners:
            raise ValueError(f"Case {case.name!r} has no runner named {name!r}.")
    results = []
    outputs: dict[str, dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="propmap-bench-") as output_dir:
        for runner_name in case.runners:
            report = _run_in_subprocess(
                case, runner_name, repeat, threads, Path(output_dir)
            )
            if report.get("outputs_path"):
                with np.load(report.pop("outputs_path")) as saved:
                    outputs[runner_name] = {key: saved[key] for key in saved.files}
            report |= {"params": dict(case.params), "repeat": repeat}
            results.append(report)
            if verbose:
                _print_progress(report)
    _add_comparisons(case, results, outputs)
    return results


def run_cases(
    cases: Iterable[Case],
    repeat: int | None = None,
    threads: int | None = None,
    verbose: bool = True,
) -> list[dict[str, Any]]:
    """Run several cases one after the other, announcing each on stderr when
    ``verbose``; see :func:`run_case`.

    Returns
    -------
    results : list of dict
        The results of all cases, concatenated.
    """
    cases = list(cases)
    results: list[dict[str, Any]] = []
    for number, case in enumerate(cases, start=1):
        if verbose:
            print(f"[{number}/{len(cases)}] {case.name}", file=sys.stderr)
        results += run_case(case, repeat=repeat, threads=threads, verbose=verbose)
    return results


def _print_progress(report: Mapping[str, Any]) -> None:
    if report.get("error"):
        status = "FAILED\n" + report["error"]
    else:
        status = f"{report['time_s']:.3f} s, peak {report['peak_mb']:.0f} MB"
    print(f"  {report['case']} / {report['runner']}: {status}", file=sys.stderr)


def _add_comparisons(
    case: Case,
    results: list[dict[str, Any]],
    outputs: Mapping[str, Mapping[str, np.ndarray]],
) -> None:
    """Fill in the speed ratios and the agreement with the reference, in place."""
    times = {r["runner"]: r.get("time_s") for r in results if not r.get("error")}
    reference_time = times.get(case.reference)
    baseline_time = times.get(case.baseline) if case.baseline else None
    reference_outputs = outputs.get(case.reference)
    for result in results:
        time_s = result.get("time_s")
        result["ratio_vs_reference"] = (
            reference_time / time_s if reference_time and time_s else None
        )
        result["baseline_runner"] = case.baseline
        result["ratio_vs_baseline"] = (
            time_s / baseline_time if baseline_time and time_s else None
        )
        result["agreement"] = None
        result["max_rel_diff"] = None
        runner_outputs = outputs.get(result["runner"])
        if (
            case.agreement is not None
            and result["runner"] != case.reference
            and reference_outputs is not None
            and runner_outputs is not None
        ):
            discrepancy = case.agreement(reference_outputs, runner_outputs)
            if isinstance(discrepancy, Mapping):
                result["agreement"] = {k: float(v) for k, v in discrepancy.items()}
                result["max_rel_diff"] = max(result["agreement"].values())
            else:
                result["max_rel_diff"] = float(discrepancy)


def format_number(value: float | None, spec: str) -> str:
    """A table cell: the number formatted, or "-" where there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def verdict(met: bool) -> str:
    """How a goal check reads: "met" or "NOT met"."""
    return "met" if met else "NOT met"


def error_row(result: Mapping[str, Any]) -> list[str]:
    """The table row of a runner that failed: case, runner and the exception (the
    last line of its traceback), which runs over the numeric columns."""
    return [
        result["case"],
        result["runner"],
        "ERROR: " + result["error"].splitlines()[-1],
    ]


def layout_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width text table: the first two columns (case, runner) aligned left,
    numbers right; a row of three cells is an error message that runs over the
    numeric columns."""
    widths = [len(header) for header in headers]
    for row in rows:
        # An error message runs over the numeric columns and sets no width.
        measured = row if len(row) == len(headers) else row[:2]
        for i, cell in enumerate(measured):
            widths[i] = max(widths[i], len(cell))

    def format_row(cells: Sequence[str]) -> str:
        # Case and runner align left, numbers right.
        padded = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(padded).rstrip()

    lines = [format_row(headers), "  ".join("-" * width for width in widths)]
    lines += [
        format_row(row)
        if len(row) == len(headers)
        else "  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2]])
        for row in rows
    ]
    return "\n".join(lines)


def format_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Format results as a fixed-width text table.

    Columns: case; runner; best wall time in seconds; reference time / runner time
    (above 1 means faster than the reference); runner time / baseline runner time
    (the cost in units of the baseline operation, e.g. one ``XᵀX``); peak RSS of the
    runner's process in MB; the increase of the peak over the peak once the data
    existed, in MB; and the maximum relative difference from the reference outputs.

    Parameters
    ----------
    results : sequence of dict
        As returned by :func:`run_case` or :func:`run_cases`.

    Returns
    -------
    table : str
    """
    baseline_names = {r.get("baseline_runner") for r in results} - {None}
    baseline_header = (
        f"time/{baseline_names.pop()}" if len(baseline_names) == 1 else "time/base"
    )
    headers = [
        "case",
        "runner",
        "time s",
        "ref/time",
        baseline_header,
        "peak MB",
        "+peak MB",
        "max rel diff",
    ]
    rows: list[list[str]] = []
    for r in results:
        if r.get("error"):
            rows.append(error_row(r))
            continue
        rows.append(
            [
                r["case"],
                r["runner"],
                format_number(r.get("time_s"), ".3f"),
                format_number(r.get("ratio_vs_reference"), ".2f"),
                format_number(r.get("ratio_vs_baseline"), ".2f"),
                format_number(r.get("peak_mb"), ".0f"),
                format_number(r.get("peak_increase_mb"), ".0f"),
                format_number(r.get("max_rel_diff"), ".1e"),
            ]
        )
    return layout_table(headers, rows)


def benchmark_parser(
    description: str,
    case_keys: Iterable[str],
    quick_help: str,
    timeout_s: float | None = None,
) -> argparse.ArgumentParser:
    """The options every benchmark script takes: --quick, --case, --repeat,
    --threads and --no-save; and --timeout (default ``timeout_s``) for scripts
    whose runners may take too long."""
    parser = argparse.ArgumentParser(description=description)
    if timeout_s is not None:
        parser.add_argument(
            "--timeout",
            type=float,
            default=timeout_s,
            metavar="S",
            help=f"kill a runner after S seconds (default {timeout_s:g})",
        )
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--case",
        action="append",
        metavar="NAME",
        help=(
            f"run only this case (repeatable): one of {', '.join(case_keys)}, "
            "or a case's full name as printed"
        ),
    )
    parser.add_argument(
        "--repeat", type=int, help="override the number of timed calls per runner"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="limit the BLAS thread pool of every runner (default: leave as is)",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="do not write benchmarks/results/"
    )
    return parser


def select_cases(
    parser: argparse.ArgumentParser, cases: list[Case], wanted: list[str] | None
) -> list[Case]:
    """The cases named on the command line (by key or full name), or all."""
    if not wanted:
        return cases
    known = {name for case in cases for name in (case.params["key"], case.name)}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(known)}")
    return [
        case for case in cases if case.params["key"] in wanted or case.name in wanted
    ]


def _environment() -> dict[str, Any]:
    """What the timings depend on: machine, versions and thread settings (the
    thread pools the runners actually used are in each result)."""
    environment: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "thread_env": {
            key: os.environ[key] for key in THREAD_VARIABLES if key in os.environ
        },
    }
    return environment


def save_results(
    results: Sequence[Mapping[str, Any]],
    name: str,
    metadata: Mapping[str, Any] | None = None,
    directory: Path | None = None,
) -> Path:
    """Save results, with the environment, as JSON under ``benchmarks/results/``.

    Parameters
    ----------
    results : sequence of dict
        As returned by :func:`run_case` or :func:`run_cases`.
    name : str
        Stem of the file name; a UTC timestamp is appended.
    metadata : mapping or None, default=None
        Anything else to record (e.g. command-line options).
    directory : Path or None, default=None
        Where to write; ``benchmarks/results/`` by default.

    Returns
    -------
    path : Path
        The file written.
    """
    directory = RESULTS_DIR if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    path = directory / f"{name}-{now:%Y%m%dT%H%M%SZ}.json"
    document = {
        "benchmark": name,
        "created": now.isoformat(),
        "environment": _environment(),
        "metadata": dict(metadata or {}),
        "results": list(results),
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def report(
    results: Sequence[Mapping[str, Any]],
    args: argparse.Namespace,
    name: str,
    details: str = "",
    table: Callable[[Sequence[Mapping[str, Any]]], str] | None = None,
) -> int:
    """The end of every benchmark's ``main``: print the table (``table``, default
    :func:`format_table`) and ``details``, save the results as
    ``<name>[-quick]`` unless ``--no-save``, and return the exit status (1 if a
    runner failed)."""
    print((table or format_table)(results))
    if details:
        print()
        print(details)
    if not args.no_save:
        stem = f"{name}-quick" if args.quick else name
        path = save_results(results, stem, metadata={"argv": sys.argv[1:]})
        print(f"\nResults saved to {path}")
    return 1 if any(r.get("error") for r in results) else 0


def speedup_details(
    results: Sequence[Mapping[str, Any]],
    goals: Mapping[str, float],
    difference: str = "max relative difference",
) -> str:
    """One line per propmap result: reference / propmap, the goal of its case's
    ``params["key"]`` if it has one, and the outputs' difference."""
    lines = []
    for result in results:
        speedup = result.get("ratio_vs_reference")
        if result["runner"] != "propmap" or speedup is None:
            continue
        line = f"{result['case']}: reference / propmap = {speedup:.1f}"
        goal = goals.get(result["params"].get("key"))
        if goal is not None:
            line += f" (goal >= {goal:g}: {'met' if speedup >= goal else 'NOT met'})"
        if result.get("max_rel_diff") is not None:
            line += f"; {difference} {result['max_rel_diff']:.1e}"
        lines.append(line)
    return "\n".join(lines)


def run_main(
    argv: Sequence[str] | None,
    doc: str,
    case_specs: Mapping[str, Any],
    quick_help: str,
    build_case: Callable[..., Case],
    name: str,
    details: Callable[[Sequence[Mapping[str, Any]]], str],
    table: Callable[[Sequence[Mapping[str, Any]]], str] | None = None,
) -> int:
    """The whole ``main`` of a benchmark whose cases are
    ``build_case(key, quick=...)`` for the keys of ``case_specs``: parse the
    standard options (:func:`benchmark_parser`, described by ``doc``'s first
    line), run the selected cases and :func:`report` them with ``details``."""
    parser = benchmark_parser(doc.splitlines()[0], case_specs, quick_help)
    args = parser.parse_args(argv)
    cases = [build_case(key, quick=args.quick) for key in case_specs]
    cases = select_cases(parser, cases, args.case)
    results = run_cases(cases, repeat=args.repeat, threads=args.threads)
    return report(results, args, name, details(results), table=table)
