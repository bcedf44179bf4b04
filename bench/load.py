"""Prints how one server holds a classroom: N live Streamlit sessions playing at once (epochs/s, frames/s, latency, CPU, memory, errors), then open/Play/close churn.

Real server (as `make run` starts it, a fresh one per size) on loopback; default preset with `epochs=5000`.
Each simulated student is a real Streamlit session driven by bench/streamlit_client.py, which speaks
Streamlit's websocket protocol: it loads the page and clicks Play; while the run plays, its live view
fetches frames over HTTP as the page's JavaScript does (bench/view_client.py). Alongside them ONE real
Chromium page (as bench/ui.py) plays too, so each size is N protocol sessions + 1 browser session.

What is measured where, honestly:
- "frames delivered" (protocol clients): live views (status and all three charts) whose status line
  ("Epoch N of 5000 · step M") changed, timed when the whole frame arrived. Not paint: the protocol
  client renders nothing, and a browser may paint fewer (a 2-core machine also runs Chromium here).
- "painted" (the Chromium page): status-line changes seen in the DOM and Plotly afterplot events.
- "ended early for rerun": Streamlit runs the server reported as FINISHED_EARLY_FOR_RERUN (clicks only,
  now that frames do not come in script runs).
Asserts nothing. Usage: python bench/load.py [--sizes 1,10,30,60] [--seconds 15] [--cycles 50] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import statistics
import sys
import time
import urllib.request
from itertools import pairwise
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from streamlit_client import StreamlitSession
from view_client import ViewFollower

from dropviz.web.live import PAGE_CHECK, RELEASE_AFTER
from tests.harness import CHART, CHROMIUM_ARGS, PAINT_PROBE, READY, find_chromium, free_port, server_pid, streamlit_server

STATUS = re.compile(rb'"status": "<div><strong>Epoch (\d+)</strong> of \d+ \\u00b7 step (\d+)')  # a frame's view, dropviz/web/frames.py
FROZEN = 3.0  # s without a new frame during the window: a frozen session
STAGGER = 0.05  # s between two students opening the page
FIRST_FRAME_WAIT = 15.0  # s a churn session waits for its first frame after Play before its ~1 s of frames
CLK = os.sysconf("SC_CLK_TCK")
# The heavy computer's setup: every point in one batch, and the widest network the step cap (live.STEP_COST) lets play.
HEAVY = "hidden=256,256&p=0.5,0.5&n_train=2000&n_val=5000&batch_size=2000&epochs=5000"
TARGETS = {"painted": 2.0, "epochs": 20.0, "rss_mb": 1536.0}  # at N = 30, from the issue


# --- the server's process, read from /proc -----------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on; comm may hold spaces


def _tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime + stime, all threads
    return total / CLK


def _status_kb(pid: int, key: str) -> int:
    try:
        match = re.search(rf"^{key}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    except OSError:
        return 0
    return int(match.group(1)) if match else 0


def _rss_mb(pid: int) -> float:
    return sum(_status_kb(p, "VmRSS") for p in _tree(pid)) / 1024


def _server_pid(port: int) -> int:
    pid = server_pid(port)
    if pid is None:
        raise RuntimeError(f"no streamlit process on port {port}")
    return pid


async def _cpu_percent(pids_of, span: float) -> float:
    """CPU of a process tree over span seconds, % of one core."""
    before, t = _cpu_seconds(pids_of()), time.monotonic()
    await asyncio.sleep(span)
    return 100 * (_cpu_seconds(pids_of()) - before) / (time.monotonic() - t)


async def _wait_idle(pid: int, below: float = 15.0, timeout: float = 60.0) -> float:
    """Waits (bounded) until the server uses under `below` % of a core over half a second; returns the wait."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await _cpu_percent(lambda: _tree(pid), 0.5) < below:
            break
    return time.monotonic() - start


def _log_problems(log: Path) -> tuple[int, list[str]]:
    """Incidents in the server log (a traceback with its chained causes counts once) and their distinct last lines."""
    text = log.read_text(errors="replace") if log.exists() else ""
    incidents = (
        text.count("Traceback (most recent call last)")
        - text.count("During handling of the above exception")
        - text.count("The above exception was the direct cause")
    )
    last_lines = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Disconnected|Exit)\b.*)$", text, re.MULTILINE)
    levels = [re.sub(r"^\S+ \S+ ", "", line) for line in text.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)]
    counts: dict[str, int] = {}
    for line in last_lines + levels:
        counts[line[:150]] = counts.get(line[:150], 0) + 1
    return incidents, [f"{n} x {line}" for line, n in list(counts.items())[:4]]


# --- a student: one protocol session and what it saw --------------------------------------------------
class Student:
    """A simulated student. Modifies itself from the session's callbacks."""

    def __init__(self, url: str, query: str, computer: str | None = None):
        headers = {"X-Forwarded-For": computer} if computer else None  # the computer, as a proxy on the server says
        self.session = StreamlitSession(url, query, on_element=self._element, on_run_finished=self._finished, headers=headers)
        self.view = ViewFollower(url, on_frame=self._frame, on_stopped=self.session.rerun)  # the live view's fetches
        self.loaded = asyncio.Event()
        self.opened_at = self.loaded_at = self.clicked_at = self.stopped_at = None
        self.frames: list[tuple[float, int, int]] = []  # (t, epoch, step) per frame with a new status that arrived whole
        self._shown: tuple[int, int] | None = None
        self.notices: list[str] = []
        self._saw_pause = False

    def _element(self, session, path, element, t) -> None:
        kind = element.WhichOneof("type")
        if kind == "bidi_component" and element.bidi_component.WhichOneof("data") == "bytes":
            self._frame(element.bidi_component.bytes, t)  # the live view's frame, in a Streamlit run
            self.view.show(element.bidi_component.bytes)
        elif kind == "alert":
            self.notices.append(element.alert.body)  # a refused Play says which cap applied (app.py's notice)
        elif kind == "button" and self.clicked_at is not None:
            if element.button.label == "Pause":
                self._saw_pause = True
            elif element.button.label == "Play" and self._saw_pause and self.stopped_at is None:
                self.stopped_at = t  # the run stopped although nobody pressed Pause

    def _frame(self, view: bytes, t: float) -> None:
        match = STATUS.search(view[:600])  # the view's JSON starts with its source and status
        if match and (int(match[1]), int(match[2])) != self._shown:
            self._shown = (int(match[1]), int(match[2]))
            self.frames.append((t, *self._shown))

    def _finished(self, session, status, fragment, t) -> None:
        if not fragment and "Play" in session.buttons and not self.loaded.is_set():
            self.loaded_at = t
            self.loaded.set()

    async def close(self) -> None:
        await self.view.close()
        await self.session.close()

    async def open(self, delay: float, timeout: float) -> None:
        await asyncio.sleep(delay)
        self.opened_at = time.monotonic()
        try:
            await self.session.open(timeout=timeout)
            await asyncio.wait_for(self.loaded.wait(), timeout)
        except Exception as exc:  # noqa: BLE001 - counted, not raised: the other students go on
            self.session.errors.append(f"page load: {type(exc).__name__}: {exc}")

    async def play(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self.loaded.is_set():
            return
        self.runs_before_play = self.session.runs_started
        self.early_before_play = self.session.runs_interrupted
        self.clicked_at = time.monotonic()  # before the send: the answer may arrive before send() returns
        try:
            await self.session.click("Play")
        except Exception as exc:  # noqa: BLE001 - counted, not raised
            self.clicked_at = None
            self.session.errors.append(f"click: {type(exc).__name__}: {exc}")

    # figures over the window [t0, t1]
    def shown_at(self, t: float) -> tuple[float, int] | None:
        before = [f for f in self.frames if f[0] <= t]
        return (before[-1][0], before[-1][1]) if before else None

    def epochs_per_s(self, t0: float, t1: float) -> float:
        a, b = self.shown_at(t0), self.shown_at(t1)
        if b is None:
            return 0.0
        return (b[1] - (a[1] if a else 0)) / (t1 - t0)

    def epochs_per_s_between_frames(self, t0: float, t1: float) -> float:
        """The slope from the first to the last frame inside [t0, t1]. epochs_per_s reads what was shown at t0 and t1,
        which lags by up to a frame period at each end (about 10 epochs at N = 30): over 15 s, +-0.7 epochs/s of rounding."""
        inside = [f for f in self.frames if t0 <= f[0] <= t1]
        if len(inside) < 2 or inside[-1][0] == inside[0][0]:
            return 0.0
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def frames_per_s(self, t0: float, t1: float) -> float:
        return sum(1 for f in self.frames if t0 <= f[0] <= t1) / (t1 - t0)

    def worst_gap(self, t0: float, t1: float) -> float:
        times = [t0] + [f[0] for f in self.frames if t0 <= f[0] <= t1] + [t1]
        return max(b - a for a, b in pairwise(times))

    def first_frame(self) -> float | None:
        after = [f[0] for f in self.frames if self.clicked_at is not None and f[0] > self.clicked_at]
        return after[0] - self.clicked_at if after else None


def _med_worst(values: list[float], worst=min) -> tuple[float, float]:
    return (statistics.median(values), worst(values)) if values else (float("nan"), float("nan"))


# --- one classroom size ---------------------------------------------------------------------------------
async def classroom(n: int, seconds: float, query: str, spread: float, rng: random.Random, settle: float = 0.0) -> dict:
    """N students + one Chromium page on a fresh server; prints the block for this size and returns its row."""
    port = free_port()
    log = Path(f"/tmp/dropviz-load-n{n}.log")
    me = os.getpid()
    with streamlit_server(port=port, log=log, timeout=90) as url:
        pid = _server_pid(port)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1500, "height": 1200})
            await page.add_init_script(PAINT_PROBE)
            t_browser = time.monotonic()
            await page.goto(f"{url}/?{query}", timeout=120_000)
            await page.wait_for_selector(READY, timeout=120_000)
            await page.wait_for_selector(CHART, timeout=120_000)
            browser_load = time.monotonic() - t_browser
            await _wait_idle(pid)  # the training kernel compiles in the background on the first page load
            idle_mb = _rss_mb(pid)

            students = [Student(url, query) for _ in range(n)]
            t_open = time.monotonic()
            load_timeout = 60.0 + 2.0 * n
            await asyncio.gather(*(s.open(i * STAGGER, load_timeout) for i, s in enumerate(students)))
            all_loaded = time.monotonic() - t_open
            loads = [s.loaded_at - s.opened_at for s in students if s.loaded_at is not None]
            await _wait_idle(pid, timeout=30)
            loaded_mb = _rss_mb(pid)

            # Play: the browser first, the students within `spread` seconds (a teacher says "press Play now").
            page_play = await page.evaluate("performance.now()")
            browser_click = asyncio.create_task(page.get_by_role("button", name="Play", exact=True).click(timeout=60_000))
            await asyncio.gather(*(s.play(rng.uniform(0, spread)) for s in students))
            await asyncio.sleep(settle)  # 0 by default: the window starts with the rush of Play clicks

            t0 = time.monotonic()
            page_t0 = await page.evaluate("performance.now()")
            server0, own0 = _cpu_seconds(_tree(pid)), os.times()
            browser_pids = lambda: sorted(set(_tree(me)) - set(_tree(pid)) - {me})
            others0 = _cpu_seconds(browser_pids())
            peak_mb = 0.0

            async def sample_rss() -> None:
                nonlocal peak_mb
                while True:
                    peak_mb = max(peak_mb, _rss_mb(pid))
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample_rss())
            await asyncio.sleep(seconds)
            t1 = time.monotonic()
            page_t1 = await page.evaluate("performance.now()")
            server_cpu = 100 * (_cpu_seconds(_tree(pid)) - server0) / (t1 - t0)
            own1 = os.times()
            own_cpu = 100 * ((own1.user - own0.user) + (own1.system - own0.system)) / (t1 - t0)
            others_cpu = 100 * (_cpu_seconds(browser_pids()) - others0) / (t1 - t0)
            sampler.cancel()
            end_mb = _rss_mb(pid)
            peak_mb = max(peak_mb, end_mb)
            threads = _status_kb(pid, "Threads")
            browser_error = None
            try:
                await asyncio.wait_for(browser_click, 5)
            except Exception as exc:  # noqa: BLE001 - printed with the figures
                browser_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            browser_stopped = await page.get_by_role("button", name="Play", exact=True).count() > 0
            status = await page.evaluate("window.__status")
            redraws = await page.evaluate("window.__frames")
            await asyncio.gather(*(s.close() for s in students))
            await browser.close()
    tracebacks, log_lines = _log_problems(log)

    # The students.
    window = t1 - t0
    played = [s for s in students if s.clicked_at is not None]
    epochs = _med_worst([s.epochs_per_s(t0, t1) for s in played])
    slopes = _med_worst([s.epochs_per_s_between_frames(t0, t1) for s in played])
    fps = _med_worst([s.frames_per_s(t0, t1) for s in played])
    latency = _med_worst([x for s in played if (x := s.first_frame()) is not None], worst=max)
    no_frame = sum(1 for s in played if s.first_frame() is None)
    gaps = [s.worst_gap(t0, t1) for s in played]
    frozen = sum(1 for g in gaps if g > FROZEN) + (n - len(played))
    stopped = sum(1 for s in played if s.stopped_at is not None and s.stopped_at <= t1)
    asked = [sum(1 for t in s.view.requests if t0 <= t <= t1) / window for s in played]
    started = sum(s.session.runs_started - s.runs_before_play for s in played)
    early = sum(s.session.runs_interrupted - s.early_before_play for s in played)
    stopped_after = [s.stopped_at - s.clicked_at for s in played if s.stopped_at is not None and s.stopped_at <= t1]
    errors = [e for s in students for e in s.session.errors + s.view.errors]
    received_mb = sum(s.session.bytes + s.view.bytes for s in students) / 1e6
    total_frames = sum(s.frames_per_s(t0, t1) for s in played) * window
    total_epochs = sum(s.epochs_per_s(t0, t1) for s in played)
    blank = sum(1 for s in played if s.frames_per_s(t0, t1) == 0)

    # The browser, on the page's clock.
    shown = [(t, e) for t, e, _ in status if page_t0 <= t <= page_t1]
    before = [(t, e) for t, e, _ in status if t <= page_t0]
    painted = len(shown) / ((page_t1 - page_t0) / 1000)
    b_epochs = ((shown[-1][1] if shown else (before[-1][1] if before else 0)) - (before[-1][1] if before else 0)) / (
        (page_t1 - page_t0) / 1000
    )
    b_first = next(((t - page_play) / 1000 for t, _, _ in status if t > page_play), float("nan"))
    per_chart = [sum(1 for t, c in redraws if c == i and page_t0 <= t <= page_t1) / ((page_t1 - page_t0) / 1000) for i in range(3)]
    b_times = [page_t0] + [t for t, _ in shown] + [page_t1]
    b_gap = max(b - a for a, b in pairwise(b_times)) / 1000

    print(
        f"\nN = {n}: {n} protocol sessions + 1 Chromium page on a fresh server, {window:.1f} s window "
        + (f"from {settle:.0f} s after the last Play" if settle else "after the last Play")
    )
    print(
        f"  pages loaded                       {len(loads)}/{n} in {all_loaded:.1f} s (per page median {_med_worst(loads, max)[0]:.1f} s, "
        f"worst {_med_worst(loads, max)[1]:.1f} s); Chromium page {browser_load:.1f} s"
    )
    print(
        f"  epochs/s shown per session         median {epochs[0]:6.1f}   worst {epochs[1]:6.1f}   (target at N=30: every session >= {TARGETS['epochs']:.0f})"
    )
    print(
        f"    the same, first to last frame    median {slopes[0]:6.1f}   worst {slopes[1]:6.1f}   (the rate itself: no rounding to "
        f"the frame shown at each end of the window)"
    )
    print(
        f"  frames/s delivered per session     median {fps[0]:6.2f}   worst {fps[1]:6.2f}   (frames with a new status that arrived whole)"
    )
    print(
        f"  Play -> first new frame            median {latency[0]:6.2f} s worst {latency[1]:6.2f} s"
        + (f"   ({no_frame} sessions: none)" if no_frame else "")
    )
    print(
        f"  all sessions together              {total_frames / window:6.2f} frames/s, {total_epochs:6.1f} epochs/s; "
        f"{blank} sessions without any frame in the window"
    )
    print(
        f"  Chromium page painted frames/s     {painted:6.2f}   (status changes; target at N=30: >= {TARGETS['painted']:.0f}); "
        f"Plotly redraws/s per chart {', '.join(f'{x:.2f}' for x in per_chart)}"
    )
    print(
        f"  Chromium page epochs/s shown       {b_epochs:6.1f}   Play -> first painted status {b_first:.2f} s, worst gap {b_gap:.2f} s"
        + (f"   (Play click failed: {browser_error})" if browser_error else "")
    )
    print(f"  server CPU                         {server_cpu:6.0f} % of one core (this machine: {os.cpu_count()} cores)")
    print(
        f"  server RSS                         idle {idle_mb:.0f} MB, pages loaded {loaded_mb:.0f} MB, end {end_mb:.0f} MB, "
        f"peak {peak_mb:.0f} MB (target < {TARGETS['rss_mb']:.0f} MB); {threads} threads"
    )
    print(
        f"  errors                             {len(errors)} from sessions, {tracebacks} incidents (tracebacks) in the server log"
        + "".join(f"\n      {e}" for e in list(dict.fromkeys(errors))[:5])
        + "".join(f"\n      log: {line}" for line in log_lines)
    )
    print(f"  frozen sessions (> {FROZEN:.0f} s, no frame)   {frozen} of {n}; worst gap {max(gaps, default=float('nan')):.2f} s")
    print(
        f"  runs that stopped by themselves    {stopped} of {n} (the page showed Play again, nobody pressed Pause)"
        + (f", {statistics.median(stopped_after):.1f} s after Play (median)" if stopped_after else "")
        + f"; Chromium page's too: {'yes' if browser_stopped else 'no'}"
    )
    print(
        f"  frame requests sent                median {_med_worst(asked)[0]:.2f}/s, fewest {_med_worst(asked)[1]:.2f}/s per session "
        f"(the live view's fetches, dropviz/web/frame_route.py; a stopped run's page stops asking)"
    )
    print(
        f"  script runs since Play (all)       {started} started, {early} ended 'early for rerun' (output dropped unsent or cut "
        f"short when the next run began), {started - early} delivered whole"
    )
    print(
        f"  load generator                     {own_cpu:.0f} % CPU (protocol clients), {others_cpu:.0f} % (Chromium + Playwright), "
        f"{received_mb / window:.1f} MB/s received by the clients"
    )
    return {
        "n": n,
        "epochs": epochs,
        "fps": fps,
        "latency": latency,
        "painted": painted,
        "cpu": server_cpu,
        "rss": peak_mb,
        "errors": len(errors) + tracebacks,
        "frozen": frozen,
        "stopped": stopped,
    }


# --- churn --------------------------------------------------------------------------------------------
async def churn(cycles: int, overlap: int, hold: float, query: str) -> None:
    """Open, Play, first frame + hold s of frames, close, `cycles` times with up to `overlap` at once; prints memory and idle CPU."""
    port = free_port()
    log = Path("/tmp/dropviz-load-churn.log")
    with streamlit_server(port=port, log=log, timeout=90) as url:
        pid = _server_pid(port)
        warm = Student(url, query)  # loads the page once: the kernel compiles, imports settle
        await warm.open(0, 90)
        await warm.close()
        await _wait_idle(pid)
        idle_cpu = await _cpu_percent(lambda: _tree(pid), 1.0)
        base_mb, base_threads = _rss_mb(pid), _status_kb(pid, "Threads")
        print(
            f"\nChurn: {cycles} cycles of open -> Play -> first frame + {hold:.0f} s of frames -> close, up to {overlap} at once, fresh server"
        )
        print(f"  before: RSS {base_mb:.0f} MB, {base_threads} threads, idle CPU {idle_cpu:.0f} %")
        gate = asyncio.Semaphore(overlap)
        done: list[Student] = []
        start = time.monotonic()
        last_close = [start]

        async def cycle() -> None:
            async with gate:
                s = Student(url, query)
                await s.open(0, 60)
                await s.play(0)
                waited = time.monotonic()
                while s.first_frame() is None and time.monotonic() - waited < FIRST_FRAME_WAIT and s.clicked_at:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(hold)
                await s.close()
                last_close[0] = time.monotonic()
                done.append(s)
                if len(done) % 10 == 0:
                    recent = done[-10:]
                    frames = statistics.median(len([f for f in x.frames if x.clicked_at and f[0] > x.clicked_at]) for x in recent)
                    first = [x.first_frame() for x in recent if x.first_frame() is not None]
                    print(
                        f"  after {len(done):3d} cycles ({time.monotonic() - start:5.1f} s): RSS {_rss_mb(pid):5.0f} MB, "
                        f"{_status_kb(pid, 'Threads'):3d} threads; last 10: Play -> first frame median "
                        f"{statistics.median(first) if first else float('nan'):.2f} s ({10 - len(first)} none), "
                        f"median {frames:.0f} frames, {sum(len(x.session.errors) for x in recent)} errors"
                    )

        await asyncio.gather(*(cycle() for _ in range(cycles)))
        await _second_round(cycle, cycles, last_close, pid)
        since = time.monotonic() - last_close[0]
        steps = []
        for _ in range(5):
            steps.append(await _cpu_percent(lambda: _tree(pid), 1.0))
        print(
            f"  server CPU in each second after the last close (from +{since:.1f} s): "
            + ", ".join(f"{x:.0f} %" for x in steps)
            + " (a LiveRun stops when its session disconnects)"
        )
        print(
            f"  after: RSS {_rss_mb(pid):.0f} MB ({(_rss_mb(pid) - base_mb) / max(1, 2 * cycles):+.1f} MB per cycle over both rounds, "
            f"the second worker's start included), "
            f"{_status_kb(pid, 'Threads')} threads, peak {_status_kb(pid, 'VmHWM') / 1024:.0f} MB (server process)"
        )
        errors = [e for s in done for e in s.session.errors]
        tracebacks, log_lines = _log_problems(log)
        print(
            f"  errors: {len(errors)} from sessions, {tracebacks} incidents (tracebacks) in the server log"
            + "".join(f"\n      {e}" for e in list(dict.fromkeys(errors))[:5])
            + "".join(f"\n      log: {line}" for line in log_lines)
        )


async def _second_round(cycle, cycles: int, last_close: list[float], pid: int) -> None:
    """Waits until the closed pages' runs are dropped (live.RELEASE_AFTER), then churns as much again: memory must level off."""
    wait = RELEASE_AFTER + 2 * PAGE_CHECK + 2.0 - (time.monotonic() - last_close[0])
    await asyncio.sleep(max(0.0, wait))
    first = _rss_mb(pid)
    print(
        f"  {RELEASE_AFTER + 2 * PAGE_CHECK + 2.0:.0f} s after the last close (closed pages' runs dropped): RSS {first:.0f} MB; "
        f"{cycles} cycles more:"
    )
    await asyncio.gather(*(cycle() for _ in range(cycles)))
    print(f"  after the second round: RSS {_rss_mb(pid):.0f} MB ({(_rss_mb(pid) - first) / max(1, cycles):+.1f} MB per cycle)")


# --- faults and a heavy client --------------------------------------------------------------------------
def _workers(pid: int) -> list[int]:
    """The server's training processes (dropviz/web/worker.py), not its experiments'."""
    found = []
    for child in _tree(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"dropviz.web.worker" in command and b"experiment" not in command:
            found.append(child)
    return found


async def _fetch_seconds(url: str) -> float:
    """Seconds to fetch plotly.js from the server's static files (a shared thread's work, beside the frames)."""
    began = time.monotonic()
    await asyncio.to_thread(lambda: urllib.request.urlopen(f"{url}/app/static/plotly.min.js", timeout=120).read())
    return time.monotonic() - began


async def stall(n: int, stopped_for: float, query: str) -> dict:
    """N students play; one worker is stopped (SIGSTOP) for stopped_for seconds. Prints what each group saw; its row."""
    log = Path(f"/tmp/dropviz-load-stall{n}.log")
    with streamlit_server(port=free_port(), log=log, timeout=90) as url:
        pid = _server_pid(int(url.rsplit(":", 1)[1]))
        students = [Student(url, query) for _ in range(n)]
        await asyncio.gather(*(s.open(i * STAGGER, 60.0 + 2.0 * n) for i, s in enumerate(students)))
        await asyncio.gather(*(s.play(i / n) for i, s in enumerate(students)))  # Play within a second
        await asyncio.sleep(5.0)
        victim = _workers(pid)[0]
        before = {id(s): (s.frames[-1][2] if s.frames else 0) for s in students}
        t_stop = time.monotonic()
        os.kill(victim, signal.SIGSTOP)
        static = await _fetch_seconds(url)
        await asyncio.sleep(max(0.0, stopped_for - (time.monotonic() - t_stop)))
        with contextlib.suppress(ProcessLookupError):  # the server has ended it (worker.LIMIT), as it should
            os.kill(victim, signal.SIGCONT)
        t_end = time.monotonic()
        await asyncio.gather(*(s.close() for s in students))
    tracebacks, _ = _log_problems(log)
    restarted, healthy = [], []
    for s in students:
        after = [f for f in s.frames if f[0] > t_stop]
        fresh = next((i for i, f in enumerate(after) if f[2] < before[id(s)]), None)  # the run, started again
        if fresh is None:
            healthy.append(sum(1 for f in after if f[0] <= t_end) / (t_end - t_stop))
        else:
            trains = next((f[0] for f in after[fresh + 1 :] if f[2] > after[fresh][2]), float("inf"))
            restarted.append(trains - t_stop)
    row = {"healthy": _med_worst(healthy), "restarted": _med_worst(restarted, max), "static": static}
    print(
        f"\nStall: {n} students playing, one worker stopped (SIGSTOP) for {stopped_for:.0f} s; the server ends a worker that "
        f"misses its time limit\n"
        f"  sessions on the healthy worker   {len(healthy)}: frames/s over the {t_end - t_stop:.0f} s  median {row['healthy'][0]:.2f}  "
        f"worst {row['healthy'][1]:.2f}   (target >= 1)\n"
        f"  sessions of the stopped worker   {len(restarted)}: training again (a new frame of their restarted run) "
        f"median {row['restarted'][0]:.1f} s  worst {row['restarted'][1]:.1f} s after the stop   (target <= 10)\n"
        f"  plotly.min.js fetched during the stall in {static:.2f} s; {tracebacks} incidents (tracebacks) in the server log"
    )
    return row


async def heavy_client(n: int, sessions: int, query: str, heavy: str, seconds: float) -> dict:
    """N ordinary students play alone for `seconds`, then one computer opens `sessions` pages at a heavy setup and
    presses Play on each; prints the students' epochs/s before and beside it, and what the heavy pages were told."""
    log = Path("/tmp/dropviz-load-heavy.log")
    with streamlit_server(port=free_port(), log=log, timeout=90) as url:
        students = [Student(url, query, computer=f"10.0.1.{i + 1}") for i in range(n)]
        await asyncio.gather(*(s.open(i * STAGGER, 90.0) for i, s in enumerate(students)))
        await asyncio.gather(*(s.play(0) for s in students))
        await asyncio.sleep(3.0)
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        solo = [s.epochs_per_s(t0, time.monotonic()) for s in students]
        client = [Student(url, heavy, computer="10.0.2.99") for _ in range(sessions)]
        await asyncio.gather(*(s.open(i * STAGGER, 90.0) for i, s in enumerate(client)))
        await asyncio.gather(*(s.play(0) for s in client))
        await asyncio.sleep(3.0)
        t1 = time.monotonic()
        await asyncio.sleep(seconds)
        t2 = time.monotonic()
        beside = [s.epochs_per_s(t1, t2) for s in students]
        heavy_epochs = [s.epochs_per_s(t1, t2) for s in client]
        told = [next((x for x in s.notices if "runs training" in x or "Play is off" in x), "") for s in client]
        await asyncio.gather(*(s.close() for s in students + client))
    playing = sum(1 for e in heavy_epochs if e > 0)
    row = {"solo": _med_worst(solo), "beside": _med_worst(beside), "heavy_playing": playing, "ratio": min(beside) / statistics.median(solo)}
    print(
        f"\nHeavy client: {n} ordinary students, then one computer with {sessions} sessions at '{heavy}'\n"
        f"  ordinary students alone          epochs/s median {row['solo'][0]:6.1f}  worst {row['solo'][1]:6.1f}\n"
        f"  beside the heavy client          epochs/s median {row['beside'][0]:6.1f}  worst {row['beside'][1]:6.1f}  "
        f"(worst / solo median {row['ratio']:.2f}; target >= 0.5)\n"
        f"  the heavy computer's sessions    {playing} of {sessions} training (epochs/s {', '.join(f'{e:.1f}' for e in heavy_epochs)}); "
        f"the others were told: {next((t for t in told if t), 'nothing')!r}"
    )
    return row


def _summary(rows: list[dict]) -> None:
    print(
        "\nSummary (targets at N = 30: every session >= 2 painted frames/s and >= 20 epochs/s shown, no errors, none frozen, server < 1.5 GB)"
    )
    print(
        "     N   epochs/s med/worst   frames/s med/worst   Play->frame med/worst   painted/s   CPU %   peak MB   errors  frozen  stopped"
    )
    for r in rows:
        print(
            f"  {r['n']:4d}   {r['epochs'][0]:7.1f} / {r['epochs'][1]:6.1f}   {r['fps'][0]:7.2f} / {r['fps'][1]:5.2f}   "
            f"{r['latency'][0]:8.2f} / {r['latency'][1]:5.2f} s   {r['painted']:9.2f}   {r['cpu']:5.0f}   {r['rss']:7.0f}   "
            f"{r['errors']:6d}  {r['frozen']:6d}  {r['stopped']:7d}"
        )


async def main_async(args) -> None:
    rng = random.Random(0)
    rows = []
    for n in args.sizes:
        rows.append(await classroom(n, args.seconds, args.query, args.spread, rng, args.settle))
    faults = await stall(args.stall_students, args.stall, args.query) if args.stall else None
    heavy = await heavy_client(args.heavy_students, args.heavy, args.query, args.heavy_query, args.seconds) if args.heavy else None
    if rows:
        _summary(rows)
    if faults:
        print(
            f"  stall ({args.stall_students} students, a worker stopped {args.stall:.0f} s): healthy pages' frames/s median "
            f"{faults['healthy'][0]:.2f} worst {faults['healthy'][1]:.2f} (>= 1); the stopped worker's pages train again after "
            f"median {faults['restarted'][0]:.1f} s, worst {faults['restarted'][1]:.1f} s (<= 10); plotly.min.js {faults['static']:.2f} s"
        )
    if heavy:
        print(
            f"  heavy client ({args.heavy} sessions beside {args.heavy_students} students): students' epochs/s worst "
            f"{heavy['beside'][1]:.1f} vs alone median {heavy['solo'][0]:.1f}, ratio {heavy['ratio']:.2f} (>= 0.5); "
            f"{heavy['heavy_playing']} of its sessions training"
        )
    if args.cycles:
        await churn(args.cycles, args.overlap, args.hold, args.query)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,30,60", help="classroom sizes, comma-separated (default 1,10,30,60)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per size (default 15)")
    parser.add_argument("--cycles", type=int, default=50, help="churn cycles; 0 skips the churn test (default 50)")
    parser.add_argument("--overlap", type=int, default=5, help="churn sessions open at once at most (default 5)")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds each churn session plays before it closes")
    parser.add_argument("--spread", type=float, default=1.0, help="seconds over which the students press Play")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds between the last Play and the window (default 0)")
    parser.add_argument("--query", default="epochs=5000", help="query parameters (default: a run that does not finish)")
    parser.add_argument("--stall", type=float, default=0.0, help="seconds one worker is stopped beside --stall-students (0: not run)")
    parser.add_argument("--stall-students", type=int, default=30, help="students playing during the stall (default 30)")
    parser.add_argument("--heavy", type=int, default=0, help="sessions of one heavy computer beside --heavy-students (0: not run)")
    parser.add_argument("--heavy-students", type=int, default=4, help="ordinary students beside the heavy computer (default 4)")
    parser.add_argument("--heavy-query", default=HEAVY, help="the heavy computer's setup (default: the largest the step cap lets play)")
    parser.add_argument("--quick", action="store_true", help="sizes 1,5, 5 s windows, 10 churn cycles")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.seconds, args.cycles = "1,5", 5.0, min(args.cycles, 10)
    args.sizes = [int(x) for x in str(args.sizes).split(",") if x.strip()]
    started = time.monotonic()
    print(
        f"dropviz classroom load: sizes {args.sizes}, {args.seconds:.0f} s windows, query '{args.query}', "
        f"{os.cpu_count()} cores; each size = N protocol sessions + 1 Chromium page"
    )
    asyncio.run(main_async(args))
    print(f"\ntotal {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
