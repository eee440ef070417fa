import os

import numpy as np
import pytest
import sklearn


def pytest_report_header(config):
    versions = [f"numpy {np.__version__}", f"scikit-learn {sklearn.__version__}"]
    try:
        import skmatter

        versions.append(f"scikit-matter {skmatter.__version__}")
    except ImportError:
        versions.append("scikit-matter not installed: parity tests skipped")
    return "propmap test environment: " + ", ".join(versions)


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run slow tests"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def skmatter():
    """The reference implementation; parity tests skip without it, unless
    PROPMAP_REQUIRE_REFERENCE=1 (set by CI's reference environment) makes its
    absence a failure."""
    if os.environ.get("PROPMAP_REQUIRE_REFERENCE") == "1":
        import skmatter

        return skmatter
    return pytest.importorskip("skmatter")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
