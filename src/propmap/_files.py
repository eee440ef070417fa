"""Writing output files so that an interrupted run never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["write_atomically"]


def write_atomically(path: Path | str, write: Callable[[IO], None], mode: str = "w"):
    """Write ``path`` through a temporary file in the same directory, renamed over
    ``path`` only once ``write(stream)`` has returned: on an error or Ctrl-C the
    temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        The file to write; its folder must exist (a FileNotFoundError names it).
    write : callable
        ``write(stream)`` writes the content to the open stream.
    mode : {"w", "wb"}, default="w"
        Text (UTF-8) or binary.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"The folder {str(path.parent)!r} to write {path.name!r} in does not exist."
        )
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            write(stream)
        # mkstemp creates the file private (0600); give it the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
