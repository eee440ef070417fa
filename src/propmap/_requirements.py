"""Clear errors when an optional dependency is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the package and the
    extra (``"atomistic"``, ``"viz"``) of ``propmap.<extra>`` that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"propmap.{extra} needs {module.split('.')[0]!r}, which is not "
            f'installed: pip install "propmap[{extra}]"'
        ) from error
