"""deploy/nginx.conf as shipped: two real dropviz replicas behind Debian's nginx, sticky per browser, a browser through it."""

import contextlib
import os
import re
import shutil
import subprocess
import time
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
    with contextlib.ExitStack() as stack:
        ports = [int(stack.enter_context(streamlit_server(log=tmp / f"replica{i}.log")).rsplit(":", 1)[1]) for i in range(2)]
        listen = free_port()
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        conf = conf.replace("127.0.0.1:8501", f"127.0.0.1:{ports[0]}").replace("127.0.0.1:8502", f"127.0.0.1:{ports[1]}")
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
            yield url, {f"127.0.0.1:{p}" for p in ports}
        finally:
            process.terminate()
            process.wait(5)


def test_each_browser_stays_on_one_replica_and_both_replicas_serve(proxy):
    url, replicas = proxy
    first, route = _replica(url)
    assert all(_replica(url, route) == (first, route) for _ in range(5))  # sticky: the cookie picks the replica
    fresh = {_replica(url)[0] for _ in range(20)}  # new browsers spread over both (all on one: 2 ** -19)
    assert fresh == replicas


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
