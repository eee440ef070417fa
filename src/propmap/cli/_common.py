"""What every command shares: the output folder, error reporting, SOAP options."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

# expected failures: bad input (a missing property is a KeyError), missing files
# or packages. Their message is the whole story: one line, no traceback.
EXPECTED_ERRORS = (ValueError, KeyError, OSError, ImportError)

# set by the global --debug option: unexpected errors show their traceback
DEBUG = {"enabled": False}


class CommandError(Exception):
    """A failure whose message is meant for the user as it is."""


def fail(message: str) -> None:
    """Raise a :class:`CommandError`."""
    raise CommandError(message)


def report_errors(command: Callable) -> Callable:
    """Turn every error of a command into one line on stderr and exit code 1
    (130 on Ctrl-C); files already written are whole, as every writer is atomic."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            typer.echo("propmap: interrupted", err=True)
            raise typer.Exit(130) from None
        except (CommandError, *EXPECTED_ERRORS) as error:
            message = str(error)
            if isinstance(error, KeyError) and error.args:
                message = str(error.args[0])
            typer.echo(f"propmap: error: {message}", err=True)
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


def prepare_output(directory: Path, force: bool) -> Path:
    """Create the output folder; an existing non-empty one needs ``force``."""
    if directory.exists():
        if not directory.is_dir():
            fail(f"{directory} exists and is not a folder.")
        if any(directory.iterdir()) and not force:
            fail(f"output folder {directory} exists and is not empty; use --force.")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def write_json(path: Path, data: dict) -> None:
    from propmap._files import write_atomically

    write_atomically(path, lambda stream: json.dump(data, stream, indent=2))


def progress_enabled(progress: bool | None) -> bool:
    """Progress bars by default only on a terminal."""
    return sys.stderr.isatty() if progress is None else progress


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
        help="Progress bars (default: on when stderr is a terminal).",
    ),
]
Seed = Annotated[int, typer.Option(help="Random seed (splits, random choices).")]
Force = Annotated[
    bool, typer.Option("--force", help="Overwrite a non-empty output folder.")
]


def read_inputs(paths, target: str | None, progress: bool):
    """The structures in ``paths`` and their ``target`` values (None without one)."""
    from propmap.atomistic import read_structures, structure_targets

    stage(f"reading {', '.join(str(p) for p in paths)}", progress)
    structures = read_structures([str(p) for p in paths])
    return structures, None if target is None else structure_targets(structures, target)


def soap_featurizer(
    cutoff: float, max_radial: int, max_angular: int, width: float, **kwargs: Any
):
    from propmap.atomistic import SoapFeaturizer

    return SoapFeaturizer(
        cutoff=cutoff,
        max_radial=max_radial,
        max_angular=max_angular,
        atomic_gaussian_width=width,
        **kwargs,
    )


def stage(message: str, enabled: bool) -> None:
    """A one-line note of what is being done (with --progress)."""
    if enabled:
        typer.echo(f"propmap: {message}", err=True)
