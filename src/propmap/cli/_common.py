"""What every command shares: error reporting and the option types."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from typing import Annotated

import typer

# expected failures: bad input (a missing property is a KeyError), missing files
# or packages. Their message is the whole story: one line, no traceback.
EXPECTED_ERRORS = (ValueError, KeyError, OSError, ImportError)

# set by the global --debug option: unexpected errors show their traceback
DEBUG = {"enabled": False}

# library messages name parameters in backquotes (`test_fraction`); the command
# line shows its flags instead (--test-fraction), these spelled otherwise
FLAGS = {"layout": "--map"}


def as_flags(message: str) -> str:
    """A library message with its `parameter` names turned into flags."""
    return re.sub(
        r"`(\w+)`",
        lambda match: FLAGS.get(match[1], "--" + match[1].replace("_", "-")),
        message,
    )


def defaults(options_class) -> dict:
    """The defaults of an options dataclass's fields, by name: the command
    line's defaults come from the library's classes, not from literals."""
    from dataclasses import MISSING, fields

    return {
        field.name: field.default
        for field in fields(options_class)
        if field.default is not MISSING
    }


def _warning_line(message, category, filename, lineno, file=None, line=None):
    """A library warning as one line on stderr, ``propmap: warning: ...``
    (Python's shows the source file, line and code)."""
    typer.echo(f"propmap: warning: {as_flags(str(message))}", err=True)


def report_errors(command: Callable) -> Callable:
    """Turn every error of a command into one line on stderr and exit code 1
    (130 on Ctrl-C), and every warning into one line; files already written are
    whole, as every writer is atomic."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                # each warning once per place, as a line (whatever filters the
                # calling process set)
                warnings.simplefilter("default")
                warnings.showwarning = _warning_line
                return command(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            typer.echo("propmap: interrupted", err=True)
            raise typer.Exit(130) from None
        except EXPECTED_ERRORS as error:
            message = str(error)
            if isinstance(error, KeyError) and error.args:
                message = str(error.args[0])
            typer.echo(f"propmap: error: {as_flags(message)}", err=True)
            raise typer.Exit(1) from None
        except Exception as error:
            if DEBUG["enabled"]:
                raise
            typer.echo(
                f"propmap: internal error ({type(error).__name__}): {error}. "
                "Please report it; run with --debug for the traceback.",
                err=True,
            )
            raise typer.Exit(1) from None

    return wrapper


def progress_enabled(progress: bool | None) -> bool:
    """Progress on by default: on a terminal, bars with the time left and a
    line per stage; in a log (a batch job), the line per stage with the time
    since the start (the bars draw only on a terminal)."""
    return True if progress is None else progress


# Options shared by the commands that compute SOAP features.
Cutoff = Annotated[float, typer.Option(help="SOAP cutoff radius (Å).", min=0.5)]
MaxRadial = Annotated[int, typer.Option(help="SOAP largest radial index n.", min=0)]
MaxAngular = Annotated[int, typer.Option(help="SOAP largest angular channel l.", min=0)]
Width = Annotated[
    float, typer.Option("--gaussian-width", help="SOAP atomic Gaussian width (Å).")
]
Progress = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="A line per stage with the time taken so far, and on a terminal "
        "progress bars with the time left (default: on).",
    ),
]
Seed = Annotated[int, typer.Option(help="Random seed (splits, random choices).")]
# Where the work runs (the dask extra)
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Run on the dask cluster whose scheduler listens here (e.g. "
        "tcp://10.0.0.5:8786): the structure files are featurised on its workers "
        "and never all loaded here.",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Run on a local dask cluster of this many worker processes, streaming "
        "the structure files as with --scheduler; `map` brings their features "
        "back when the in-memory job fits in memory.",
    ),
]
Force = Annotated[
    bool, typer.Option("--force", help="Overwrite a non-empty output folder.")
]
