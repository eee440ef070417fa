"""The workflow layer stays split by role: no module of it over 500 lines, and
no module of it computes a decomposition, a kernel or a ridge itself (the
estimators do)."""

from pathlib import Path

import pytest

import propmap.workflows

WORKFLOWS = Path(propmap.workflows.__file__).parent
MODULES = sorted(WORKFLOWS.glob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_no_workflow_module_is_over_500_lines(module):
    lines = module.read_text(encoding="utf-8").count("\n")
    assert lines <= 500, f"{module.name} has {lines} lines"


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_no_workflow_module_does_the_estimators_numerics(module):
    text = module.read_text(encoding="utf-8")
    for call in ("np.linalg.eigh(", "linalg.svd(", "pairwise_kernels(", "Ridge("):
        assert call not in text, f"{module.name} calls {call}"
