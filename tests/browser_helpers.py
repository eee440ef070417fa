"""Opening propmap's HTML pages in a headless Chromium (playwright driving
Debian's ``chromium``; playwright never downloads a browser here) with the
network cut off. The ``browser`` and ``visit`` fixtures are in conftest.py."""

import os

import pytest

BROWSER_TIMEOUT_MS = 30_000


def unavailable(reason: str):
    if os.environ.get("PROPMAP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; PROPMAP_REQUIRE_BROWSER=1 requires the browser tests")
    pytest.skip(reason)


class Visit:
    """A page opened from disk, with every network request aborted and recorded,
    and the console messages and page errors collected."""

    def __init__(self, browser, path):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.blocked, self.requested, self.console, self.errors = [], [], [], []
        self.context.route(lambda url: not url.startswith("file:"), self._block)
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.on("console", lambda message: self.console.append(message))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.as_uri())
        self.page.wait_for_function(
            "document.body.dataset.status !== 'loading'", timeout=BROWSER_TIMEOUT_MS
        )
        self.status = self.page.evaluate("document.body.dataset.status")

    def _block(self, route):
        self.blocked.append(route.request.url)
        route.abort()

    def warning(self) -> str:
        """The text of the warning banner, "" when it is not shown."""
        banner = self.page.locator("#propmap-warning.shown")
        return banner.inner_text() if banner.count() else ""

    def console_errors(self) -> list[str]:
        return [m.text for m in self.console if m.type == "error"]

    def map_traces(self) -> list[dict]:
        """The traces plotly drew in the map (it lives in a shadow root, which
        playwright's CSS selectors enter)."""
        plot = self.page.locator("#propmap-map .js-plotly-plot")
        plot.wait_for(state="attached", timeout=BROWSER_TIMEOUT_MS)
        return plot.evaluate(
            """plot => plot._fullData.map(trace => ({
                name: trace.name,
                type: trace.type,
                points: (trace.x || []).filter(
                    (x, i) => Number.isFinite(x) && Number.isFinite(trace.y[i])
                ).length,
            }))"""
        )

    def axis_titles(self) -> list[str]:
        return self.page.locator("#propmap-map .js-plotly-plot").evaluate(
            "plot => [plot._fullLayout.xaxis.title.text, "
            "plot._fullLayout.yaxis.title.text]"
        )

    def close(self):
        self.context.close()


def assert_clean(visit):
    """No error, no request off disk, and no chemiscope warning banner (e.g.
    "the 'structure' property contains more than 50 different values")."""
    assert visit.errors == []
    warning = visit.warning()
    assert warning == "", warning
    assert visit.console_errors() == []
    assert visit.blocked == []
    assert all(url.startswith("file:") for url in visit.requested), visit.requested
