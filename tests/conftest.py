import os
import shutil

import numpy as np
import pytest
import sklearn

from browser_helpers import Visit, unavailable


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


# -- headless browser (see browser_helpers.py)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by playwright (Debian's chromium: playwright
    never downloads a browser here)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    executable = shutil.which("chromium")
    if executable is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


@pytest.fixture
def visit(browser):
    visits = []

    def open_page(path):
        visits.append(Visit(browser, path))
        return visits[-1]

    yield open_page
    for opened in visits:
        opened.close()


@pytest.fixture
def record_work(monkeypatch):
    """``record_work(module)`` replaces the module's ``work_bar`` by a recorder
    and returns what it records: the units done and the bar's last total."""
    import contextlib

    def install(module) -> dict:
        record = {"done": 0.0, "total": None}

        @contextlib.contextmanager
        def recorder(description, total, enabled):
            record["total"] = total

            def advance(units=1.0, total=None):
                record["done"] += units
                if total is not None:
                    record["total"] = total

            yield advance

        monkeypatch.setattr(module, "work_bar", recorder)
        return record

    return install
