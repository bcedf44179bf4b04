"""The shipped server settings, read back as Streamlit sees them, and the websocket's origin check over loopback."""

import http.client
import urllib.error
import urllib.request

import pytest
from streamlit import config

from tests.harness import ROOT, streamlit_server

HARDENED = {
    "server.enableCORS": True,
    "server.enableXsrfProtection": True,
    "server.fileWatcherType": "none",
    "server.maxUploadSize": 1,
    "server.maxMessageSize": 20,
    "server.headless": True,
    "client.showErrorDetails": "none",
    "browser.gatherUsageStats": False,
    "runner.postScriptGC": False,
    "server.enableStaticServing": True,  # plotly.js for the live charts, from static/
}


def test_effective_configuration_is_hardened(monkeypatch):
    monkeypatch.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from the working directory
    config._config_options = None
    config.get_config_options(force_reparse=True)
    try:
        for name, expected in HARDENED.items():
            assert config.get_option(name) == expected, name
    finally:
        config._config_options = None


def _upgrade(port: int, origin: str) -> int:
    """Status of a websocket upgrade to the page's stream from the given Origin."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "GET",
        "/_stcore/stream",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Origin": origin,
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.fixture(scope="module")
def server_port(tmp_path_factory):
    with streamlit_server(log=tmp_path_factory.mktemp("server") / "log") as url:
        yield int(url.rsplit(":", 1)[1])


def test_a_foreign_origin_is_refused_and_the_pages_own_is_accepted(server_port):
    assert _upgrade(server_port, "http://evil.example") == 403
    assert _upgrade(server_port, f"http://127.0.0.1:{server_port}") == 101


def test_under_a_path_prefix_the_frame_route_is_where_the_page_asks(tmp_path):
    """Behind a proxy that serves the page at /dv/, its live view fetches dv/dropviz/frame/...: the route, not the page's HTML."""
    with streamlit_server(log=tmp_path / "log", base="dv") as url:
        with pytest.raises(urllib.error.HTTPError) as answer:  # an unknown token: the route's 404
            urllib.request.urlopen(f"{url}/dropviz/frame/not-a-token", timeout=10)
        assert answer.value.code == 404 and answer.value.headers["Cache-Control"] == "no-store"
