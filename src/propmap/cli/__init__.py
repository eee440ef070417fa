"""The ``propmap`` command: structures in, maps, viewers and reports out.

Every command lives in its own module and imports the heavy libraries (numpy,
ase, featomic, matplotlib, ...) only when it runs, so that ``propmap --help``
answers at once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from propmap.cli._contributions import contributions_command
from propmap.cli._demo import demo_command
from propmap.cli._map import map_command
from propmap.cli._project import project_command
from propmap.cli._select import select_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="propmap",
    no_args_is_help=True,
    add_completion=False,
    help="Interpretable structure-property maps: SOAP features, (Kernel) PCovR, "
    "feature and sample selection, per-motif contributions, chemiscope viewers.",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from propmap import __version__

        typer.echo(f"propmap {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the traceback of an internal (unexpected) error."
        ),
    ] = False,
) -> None:
    """Interpretable structure-property maps."""
    from propmap.cli._common import DEBUG

    DEBUG["enabled"] = debug


app.command("map")(map_command)
app.command("select")(select_command)
app.command("project")(project_command)
app.command("contributions")(contributions_command)
app.command("demo")(demo_command)


def _terminated(signum, frame) -> None:
    """SIGTERM (a batch system's stop, ``kill``): unwind like Ctrl-C, so that
    the outputs being built are removed and an older output folder stays."""
    raise KeyboardInterrupt


def main() -> None:
    """Entry point of the ``propmap`` script."""
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    app()
