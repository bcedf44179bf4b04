"""Prints how the live page performs in a real browser: painted frames/s, epochs/s shown, Play-to-frame latency, cold start, memory.

Real server (as `make run` starts it) and headless Chromium on loopback; default preset. Asserts nothing.
Usage: python bench/ui.py [--seconds 10] [--query "epochs=5000"]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from itertools import pairwise
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.harness import CHART, CHROMIUM_ARGS, PAINT_PROBE, READY, find_chromium, free_port, server_pid, streamlit_server


def _rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children, MB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if status.parent.name == str(pid) or re.search(rf"^PPid:\s+{pid}$", text, re.MULTILINE):
            match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
            total += int(match.group(1)) if match else 0
    return total / 1024


def _main_thread_seconds(cdp) -> float:
    """The page's main-thread busy time so far (Chromium's TaskDuration: script, style, layout, paint), seconds."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["TaskDuration"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to play")
    parser.add_argument("--query", default="epochs=5000", help="query parameters (default: a run that does not finish)")
    parser.add_argument("--max-speed", action="store_true", help="set the Speed slider to max (default: the page's 100 epochs/s)")
    args = parser.parse_args()
    port = free_port()
    with sync_playwright() as p:
        # The browser is open before the server starts, as a teacher's is: the cold start is the server's and the page's.
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1200})
        page.add_init_script(PAINT_PROBE)
        started = time.perf_counter()
        with streamlit_server(port=port) as url:
            healthy = time.perf_counter() - started
            page.goto(f"{url}/?{args.query}")
            page.wait_for_selector(READY, timeout=60_000)
            page.wait_for_selector(CHART, timeout=60_000)
            first_page = time.perf_counter() - started
            time.sleep(1.0)
            pid = server_pid(port)
            idle_mb = _rss_mb(pid) if pid else float("nan")
            if args.max_speed:  # the speed slider to its end: the engine's ceiling, not the teacher's default pace
                slider = page.get_by_role("slider", name="Speed (epochs per second)")
                slider.focus()
                slider.press("End")
                page.wait_for_selector(READY, timeout=30_000)
                time.sleep(0.5)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            busy_before = _main_thread_seconds(cdp)
            t_play = page.evaluate("performance.now()")
            page.get_by_role("button", name="Play", exact=True).click()
            time.sleep(args.seconds)
            busy = _main_thread_seconds(cdp) - busy_before
            busy_mb = _rss_mb(pid) if pid else float("nan")
            frames = page.evaluate("window.__frames")
            status = page.evaluate("window.__status")
            page.get_by_role("button", name="Pause", exact=True).click()
            t_pause = page.evaluate("performance.now()")
            time.sleep(3.0)
            after = page.evaluate("window.__frames")
            browser.close()

    played = [t for t, _ in frames if t > t_play]
    per_chart = {i: sum(1 for t, c in frames if c == i and t > t_play) for i in range(3)}
    shown = [(t, e, s) for t, e, s in status if t > t_play]
    first_frame = (shown[0][0] - t_play) / 1000 if shown else float("nan")
    epochs = (shown[-1][1] - shown[0][1]) / ((shown[-1][0] - shown[0][0]) / 1000) if len(shown) > 1 else float("nan")
    gaps = [b[0] - a[0] for a, b in pairwise(shown)]
    late = [t for t, _ in after if t > t_pause + 1000]
    print("dropviz page in headless Chromium, default preset, one session")
    print(f"  server healthy after cold start     {healthy:6.2f} s")
    print(f"  first rendered page after start     {first_page:6.2f} s   (target < 4 s; browser already open)")
    print(f"  Play -> first new status frame      {first_frame:6.2f} s   (target < 1 s)")
    print(f"  painted frames/s (status updates)   {len(shown) / args.seconds:6.2f}     (target >= 5, aim 10)")
    print(
        "  plotly redraws/s per chart          "
        + ", ".join(f"{n / args.seconds:.2f}" for n in per_chart.values())
        + "   (network, boundary, curves; target >= 10 each, aim 20)"
    )
    print(
        f"  median / worst gap between frames   {statistics.median(gaps) / 1000 if gaps else float('nan'):6.2f} / "
        f"{max(gaps) / 1000 if gaps else float('nan'):.2f} s"
    )
    print(f"  epochs/s shown                      {epochs:6.1f}     (target >= 100)")
    cpu_ms = 1000 * busy / len(shown) if shown else float("nan")
    print(f"  browser main thread per frame       {cpu_ms:6.1f} ms  (busy {100 * busy / args.seconds:.0f} % of the time; aim <= 40 ms)")
    print(f"  plotly redraws > 1 s after Pause    {len(late):6d}     (backlog the browser was still painting)")
    print(f"  server RSS idle / while training    {idle_mb:6.0f} / {busy_mb:.0f} MB")
    print(f"  all plotly redraws while playing    {len(played)}")


if __name__ == "__main__":
    main()
