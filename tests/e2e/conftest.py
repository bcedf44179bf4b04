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
