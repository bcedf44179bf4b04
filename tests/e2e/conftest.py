"""Browser-test fixtures: one real server per session, Debian's Chromium driven by pytest-playwright."""

import os
from pathlib import Path

import pytest

from tests.harness import CHROMIUM_ARGS, find_chromium, streamlit_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    chromium = find_chromium()
    if chromium is not None:
        return {**browser_type_launch_args, "executable_path": chromium, "args": CHROMIUM_ARGS}
    if list(Path.home().glob(".cache/ms-playwright/chromium*")):
        return {**browser_type_launch_args, "args": CHROMIUM_ARGS}  # Playwright's own download
    message = "no Chromium found: run `make test` (it installs one) or apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # in CI a missing browser is a failure, never a skip
    pytest.skip(message)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    with streamlit_server(log=tmp_path_factory.mktemp("server") / "streamlit.log") as url:
        yield url
