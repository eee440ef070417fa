"""Clear errors when an optional dependency of the atomistic pipeline is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

_EXTRA = 'pip install "propmap[atomistic]"'


def require(module: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"propmap.atomistic needs {module.split('.')[0]!r}, which is not "
            f"installed: {_EXTRA}"
        ) from error
