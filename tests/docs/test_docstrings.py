"""Every public object's docstring passes numpydoc's validation, except for the
checks listed below with the reason each is left out.

The objects are the names of every subpackage's ``__all__`` and the public
methods and properties their classes define (members inherited from
scikit-learn are scikit-learn's to document).
"""

from __future__ import annotations

import enum
import importlib
import inspect
import pydoc
import warnings

import pytest
from docs_helpers import SUBPACKAGES

validate = pytest.importorskip("numpydoc.validate").validate

# Checks not applied anywhere, and why.
NOT_CHECKED = {
    # optional sections: the classes carry the examples, and the gallery the rest
    "ES01": "no extended summary",
    "SA01": "no See Also section",
    "EX01": "no Examples section",
    # propmap's summaries are noun phrases that may run over two lines and
    # start on the opening quotes' line ("The PCovR modified kernel ..."), as
    # help() shows them; numpydoc wants one imperative line after the quotes
    "GL01": "summary on the opening quotes' line",
    "GL02": "closing quotes' line",
    "SS02": "summary starts with a capital letter (some start with a symbol)",
    "SS05": "summary in the infinitive",
    "SS06": "summary on one line",
    # wording of descriptions: a short or self-evident description, a
    # description that starts with a symbol (σ, q, α) or a name's lower case
    "PR07": "parameter without description (a group's description is shared)",
    "PR08": "parameter description capitalised",
    "PR09": "parameter description ends with a period",
    "RT02": "return's first line is its type only",
    "RT03": "return without description",
    "SA03": "See Also description capitalised",
    # a few long constructors document their parameters grouped by meaning
    "PR03": "parameters in the signature's order",
}


# Objects left out of one check, and why.
NOT_YET_OBJECTS = {
    # its fields are map_structures's parameters, documented there once
    "PR01": ("propmap.workflows.MapOptions",),
}


def public_objects():
    for package in SUBPACKAGES:
        module = importlib.import_module(f"propmap.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            yield package, f"propmap.{package}.{name}"
            if not inspect.isclass(value):
                continue
            for member, attribute in vars(value).items():
                if member.startswith("_"):
                    continue
                if inspect.isfunction(attribute) or isinstance(attribute, property):
                    yield package, f"propmap.{package}.{name}.{member}"


OBJECTS = list(public_objects())


@pytest.mark.parametrize(("package", "name"), OBJECTS, ids=[n for _, n in OBJECTS])
def test_docstring_passes_numpydoc_validation(package, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc's own warnings on odd signatures
        result = validate(name)
    errors = [
        f"{code}: {message}"
        for code, message in result["errors"]
        if code not in NOT_CHECKED
        and not name.startswith(NOT_YET_OBJECTS.get(code, ()))
        # an enumeration's "parameters" are Enum's functional interface
        and not (code == "PR01" and isinstance(pydoc.locate(name), enum.EnumMeta))
        # a method that overrides a documented one shows its docstring (help()
        # and the pages), which is validated where it is written
        and not (code == "GL08" and inspect.getdoc(pydoc.locate(name)))
    ]
    assert errors == [], f"{result['file']}:{result['file_line']}"
