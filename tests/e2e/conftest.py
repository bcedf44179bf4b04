"""Browser-test fixtures: one real server per session, Debian's Chromium driven by pytest-playwright."""

import pytest

from tests.harness import chromium_launch_args, streamlit_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, **chromium_launch_args()}


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    with streamlit_server(log=tmp_path_factory.mktemp("server") / "streamlit.log") as url:
        yield url


@pytest.fixture
def watched(page):
    """The page at 1500 x 1200, failing the test if the browser logged an error or an exception at any time during it."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1500, "height": 1200})
    yield page
    assert errors == [], errors  # no console errors during the whole test
