"""The real server and the real browser: start `streamlit run server.py` on a free loopback port, find Chromium.

Shared by the browser tests (tests/e2e), scripts/screenshot.py and bench/ui.py, so all of them meet
the app exactly as a person does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium in this sandbox: no sandboxing as root, no GPU, no network chatter.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = "[data-testid=stApp][data-test-script-state=notRunning]"
CHART = ".dropviz-chart .main-svg"  # a live chart drawn by plotly.js (dropviz/web/live_chart.js)


def find_chromium() -> str | None:
    """The system Chromium, if there is one."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_launch_args() -> dict:
    """Playwright's launch arguments for this machine's Chromium. Without one: a test failure under CI=true (a missing
    browser is never a skip in CI), else a skip. Call it from a test or fixture only."""
    import pytest

    chromium = find_chromium()
    if chromium is not None:
        return {"executable_path": chromium, "args": CHROMIUM_ARGS}
    if list(Path.home().glob(".cache/ms-playwright/chromium*")):
        return {"args": CHROMIUM_ARGS}  # Playwright's own download
    message = "no Chromium found: run `make test` (it installs one) or apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def server_pid(port: int) -> int | None:
    """The pid of the streamlit process serving this port (for the benchmarks' CPU and memory readings)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and str(port).encode() in args:
            return int(cmdline.parent.name)
    return None


@contextlib.contextmanager
def serving(
    command: list[str], url: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 60.0, log: Path | None = None
) -> Iterator[subprocess.Popen]:
    """Starts a Streamlit server's command line in a session of its own; yields its process once url's health check
    answers; then SIGTERM to the whole group (the server and its training workers), SIGKILL if ignored."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {process.returncode}" if process.poll() is not None else f"not healthy after {timeout:.0f} s"
                tail = f"; its log:\n{log.read_text()[-4000:]}" if log else ""
                raise RuntimeError(f"{command} in {cwd}: {state}{tail}")
            time.sleep(0.1)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if log:
            out.close()


@contextlib.contextmanager
def streamlit_server(port: int | None = None, timeout: float = 60.0, log: Path | None = None, base: str = "") -> Iterator[str]:
    """Runs the app as `make run` does, on 127.0.0.1; yields its URL (with /base when given); stops it afterwards (serving)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}" + (f"/{base}" if base else "")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "server.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
    ]
    if base:  # served under a path prefix, as behind a proxy: the page is at url/base/
        command += ["--server.baseUrlPath", base]
    with serving(command, url, env=env, timeout=timeout, log=log):
        yield url


# Injected into a Chromium page (bench/ui.py, bench/load.py): records every Plotly redraw per chart and every
# change of the status line (dropviz/web/live_chart.js). textContent every 20 ms: innerText every 10 ms forces a layout each time.
PAINT_PROBE = """
// window.__frames: [time, chart] per frame a live chart painted (0 network, 1 boundary, 2 curves), from dropviz/web/live_chart.js.
Object.defineProperty(window, '__frames', {get: () => (window.__dropvizPainted || []).map(
  ([t, name]) => [t, ['network', 'boundary', 'curves'].indexOf(name)])});
window.__status = [];
setInterval(() => {
  const s = Array.from(document.querySelectorAll('.dropviz-status'))
    .map((e) => e.textContent).find((t) => /^Epoch \\d+ of/.test(t));
  if (s) {
    const m = s.match(/^Epoch (\\d+) of \\d+ · step (\\d+)/);
    const last = window.__status[window.__status.length - 1];
    if (m && (!last || last[1] !== +m[1] || last[2] !== +m[2])) window.__status.push([performance.now(), +m[1], +m[2]]);
  }
}, 20);
"""
