"""deploy/nginx.conf as shipped: two real dropviz replicas behind Debian's nginx, sticky per browser, a browser through it.

The replicas are started as the README's classroom deployment says (server.allowedHosts through its environment
variable); clients must see no internal address or nginx version, and one client no more requests at once than the
config's limit_conn.
"""

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import time
import tomllib
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.harness import CHART, READY, ROOT, free_port, streamlit_server


def _nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if path is None:
        message = "no nginx: `make test` installs Debian's nginx-light as root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


CONF = (ROOT / "deploy" / "nginx.conf").read_text()
PER_CLIENT = int(re.search(r"^\s*limit_conn per_client (\d+);", CONF, re.MULTILINE)[1])
# The README's classroom line, `NAME="host ..." make run`: the replicas get NAME, with the names this test reaches them by.
ALLOWED_HOSTS = re.search(r"`(STREAMLIT_SERVER_ALLOWED_HOSTS)=\"[^\"]+\" make run`", (ROOT / "README.md").read_text())


UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def _replica(url: str, cookie: str | None = None) -> tuple[str, str]:
    """(replica that answered, route cookie it set) for one page request through nginx."""
    request = urllib.request.Request(url, headers={"Cookie": f"dropviz_route={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        route = re.search(r"dropviz_route=([^;]+)", response.headers["Set-Cookie"]).group(1)
        return response.headers["X-Dropviz-Replica"], route


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    nginx = _nginx()
    tmp = tmp_path_factory.mktemp("nginx")
    assert ALLOWED_HOSTS, 'README: the classroom deployment should show `STREAMLIT_SERVER_ALLOWED_HOSTS="..." make run`'
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as environment:  # read by each replica as it starts
            environment.setenv(ALLOWED_HOSTS[1], "localhost 127.0.0.1")
            ports = [int(stack.enter_context(streamlit_server(log=tmp / f"replica{i}.log")).rsplit(":", 1)[1]) for i in range(2)]
        listen = free_port()
        conf = CONF.replace("127.0.0.1:8501", f"127.0.0.1:{ports[0]}").replace("127.0.0.1:8502", f"127.0.0.1:{ports[1]}")
        conf = conf.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{listen}").replace("/tmp/dropviz-nginx.pid", str(tmp / "pid"))
        (tmp / "nginx.conf").write_text(conf)
        process = subprocess.Popen(
            [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "nginx.log", "w"),  # noqa: SIM115 - the server outlives this statement
        )
        try:
            url = f"http://127.0.0.1:{listen}"
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError):
                    _replica(url)
                    break
                assert time.monotonic() < deadline, (tmp / "nginx.log").read_text()
                time.sleep(0.1)
            yield url, ports
        finally:
            process.terminate()
            process.wait(5)


def test_each_browser_stays_on_one_replica_and_both_replicas_serve(proxy):
    url, _ = proxy
    first, route = _replica(url)
    assert all(_replica(url, route) == (first, route) for _ in range(5))  # sticky: the cookie picks the replica
    fresh = {_replica(url)[0] for _ in range(20)}  # new browsers spread over both (all on one: 2 ** -19)
    assert fresh == {"replica-1", "replica-2"}  # named, not addressed


def _exchange(url: str, method: str = "GET", path: str = "/", headers: dict | None = None) -> tuple[int, str, bytes]:
    """(status, every response header as text, body) of one request through the proxy."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = b"" if response.status == 101 else response.read()
        return response.status, "\n".join(f"{k}: {v}" for k, v in response.getheaders()), body
    finally:
        connection.close()


def _leaks(text: str, ports: list[int]) -> list[str]:
    """Internal addresses, replica ports and nginx versions in text."""
    return re.findall(r"127\.0\.0\.1|localhost|nginx/[\d.]+", text, re.IGNORECASE) + [str(p) for p in ports if str(p) in text]


def test_clients_see_no_internal_address_and_no_nginx_version(proxy):
    url, ports = proxy
    answers = {
        "page": _exchange(url),
        "health": _exchange(url, path="/_stcore/health"),
        "unknown path": _exchange(url, path="/no/such/page"),
        "unknown frame": _exchange(url, path="/dropviz/frame/not-a-token"),
        "bad request": _exchange(url, "POST", "/_stcore/upload_file/x/y"),  # no XSRF token
        "websocket": _exchange(url, path="/_stcore/stream", headers={**UPGRADE, "Host": "dropviz.school.example"}),
        "nginx's own error page": _exchange(url, path="/", headers={"Host": "x" * 9000}),  # a header too large for nginx
    }
    for name, (status, headers, body) in answers.items():
        assert "Server: nginx" in headers.splitlines() or status == 101, f"{name}: {headers}"
        leaks = _leaks(headers, ports) + _leaks(body.decode(errors="replace"), ports)
        assert not leaks, f"{name} ({status}) shows {leaks}:\n{headers}\n{body[:500]!r}"
    assert answers["nginx's own error page"][0] == 400


def test_a_websocket_under_a_host_name_not_allowed_is_refused(proxy):
    url, _ = proxy
    assert _exchange(url, path="/_stcore/stream", headers={**UPGRADE, "Host": "dropviz.rebound.example"})[0] == 403
    assert _exchange(url, path="/_stcore/stream", headers={**UPGRADE, "Host": url.removeprefix("http://")})[0] == 101


def test_the_config_files_allowed_hosts_line_sets_streamlits_option_once_uncommented():
    from streamlit import config

    text = (ROOT / ".streamlit" / "config.toml").read_text()
    line = re.search(r"^# (allowedHosts = .+)$", text, re.MULTILINE)[1]
    assert tomllib.loads(text.replace(f"# {line}", line))["server"]["allowedHosts"] == ["dropviz.school.example"]
    assert config.get_config_options()["server.allowedHosts"].multiple  # the option exists, and takes a list


def _pending_request(url: str) -> socket.socket:
    """A connection whose request nginx has read but whose body never comes: counted by limit_conn until closed."""
    host, port = url.removeprefix("http://").split(":")
    held = socket.create_connection((host, int(port)), timeout=10)
    held.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
    return held


def _status_soon(url: str, wanted: int) -> int:
    """The page's status once it is wanted, or the last one seen after 10 s (nginx reads held requests in its own time)."""
    deadline = time.monotonic() + 10
    while (status := _exchange(url)[0]) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_one_client_holds_at_most_the_configured_requests_at_once(proxy):
    url, ports = proxy
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(_pending_request(url)) for _ in range(PER_CLIENT - 1)]
        assert _exchange(url)[0] == 200  # the last request allowed: the limit is not lower than configured
        held.append(stack.enter_context(_pending_request(url)))
        assert _status_soon(url, 429) == 429  # one more: refused, and the refusal says why
        status, headers, body = _exchange(url)
        assert status == 429 and not _leaks(headers + body.decode(), ports)
        held.pop().close()
        assert _status_soon(url, 200) == 200  # a finished request frees its place


def test_the_page_trains_through_the_proxy(page: Page, proxy):
    url, _ = proxy
    page.goto(f"{url}/?epochs=5000")  # a run that does not finish while the test watches it
    page.wait_for_selector(READY, timeout=30_000)
    page.wait_for_selector(CHART, timeout=30_000)
    page.get_by_role("button", name="Step", exact=True).click()
    expect(page.get_by_text(re.compile(r"Epoch 0 of \d+ · step 1\b"))).to_have_count(1, timeout=15_000)
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_text(re.compile(r"Epoch [1-9]\d* of"))).to_have_count(1, timeout=15_000)
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("button", name="Play", exact=True)).to_have_count(1, timeout=15_000)
