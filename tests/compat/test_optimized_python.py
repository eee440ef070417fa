"""``python -OO`` strips docstrings: every module still imports and works."""

import subprocess
import sys

SCRIPT = """
import numpy as np
import propmap
for name in propmap.__all__[1:]:
    __import__(f"propmap.{name}")
from propmap import feature_selection, sample_selection
X = np.random.default_rng(0).standard_normal((30, 8))
assert len(feature_selection.CUR(n_to_select=3).fit(X).selected_idx_) == 3
assert len(sample_selection.FPS(n_to_select=3).fit(X).selected_idx_) == 3
print("ok")
"""


def test_every_module_imports_without_docstrings():
    completed = subprocess.run(
        [sys.executable, "-OO", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
