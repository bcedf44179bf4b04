"""What a person sees on the live page, read in one go, and the check that its views agree with each other.

`settle(page, until)` is run after every action of the browser tests: it waits (on conditions, with a time limit)
until the status line, the curves (their last point and visible x range), the network's dropped neurons, the
last painted frame and the buttons agree, and `until(view)` holds; else it fails with what disagreed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.harness import CHART, READY

# The page keeps arrays as typed arrays (dropviz/web/live_chart.js decodes 1-D ones) or as sent, {dtype, bdata (base64),
# shape}; this reads any of these forms.
DECODE = """const decode = (v) => {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v)) return Array.from(v);
  const bytes = Uint8Array.from(atob(v.bdata), (c) => c.charCodeAt(0));
  const types = {i1: Int8Array, u1: Uint8Array, i2: Int16Array, i4: Int32Array, f4: Float32Array, f8: Float64Array};
  const flat = Array.from(new types[v.dtype](bytes.buffer));
  const shape = String(v.shape || flat.length).split(',').map(Number);
  if (shape.length < 2) return flat;
  return Array.from({length: shape[0]}, (_, i) => flat.slice(i * shape[1], (i + 1) * shape[1]));
};"""

# The page as shown, and every disagreement between its parts (dropviz/web/live_chart.js keeps the last painted frame on
# its root element). Curves hold every epoch up to 2 x figures.CURVE_BUCKETS (300): the tests stay below that.
VIEW = (
    """() => {"""
    + DECODE
    + """
  const problems = [];
  const root = document.querySelector('.dropviz-live');
  const frame = root && root.__dropvizFrame;
  if (!frame) return {problems: ['no frame painted yet']};
  const text = root.querySelector('.dropviz-status').textContent;
  const match = text.match(/Epoch (\\d+) of (\\d+) · step (\\d+)/);
  if (!match) return {problems: ['no status line: ' + text.slice(0, 80)]};
  const [epoch, epochs, step] = match.slice(1).map(Number);
  const framed = frame.status.replace(/<[^>]+>/g, '').match(/Epoch (\\d+) of \\d+ · step (\\d+)/);
  if (!framed || +framed[1] !== epoch || +framed[2] !== step) problems.push(`status ${epoch}/${step} is not the painted frame's`);
  const plots = Array.from(root.querySelectorAll('.dropviz-chart.js-plotly-plot'));
  if (plots.length !== 3) return {problems: [`${plots.length} charts drawn`]};
  const [network, boundary, curves] = plots;
  // Curves: the last epoch drawn, over both runs' validation lines, and the visible x range.
  let last = 0; const lengths = {};
  for (const t of curves.data) {
    if (!/ · validation$/.test(t.name) || t.xaxis !== 'x') continue;
    const y = decode(t.y); lengths[t.name] = y.length;
    if (!y.length) continue;
    const x = t.x ? decode(t.x) : null;
    last = Math.max(last, x ? x[x.length - 1] : (t.x0 || 0) + (y.length - 1) * (t.dx || 1));
  }
  const range = curves._fullLayout.xaxis.range.map(Number);
  const diverged = /diverged/.test(text);
  if (!diverged && last !== epoch) problems.push(`curves end at epoch ${last}, the status says ${epoch}`);
  if (range[0] > 0.5 || range[1] < last || range[1] > Math.max(1.15 * last + 2, 12))
    problems.push(`curves' x axis shows [${range.map((v) => v.toFixed(1))}] for epochs up to ${last}`);
  // Network: the dropped neurons drawn are the painted frame's.
  // Each column's neuron maps are one layout image, named "maps of column c dropped this step c:u c:u ..." when some are off.
  const dropped = (layout) => (layout.images || []).map((m) => m.name || '').filter((n) => n.includes('dropped this step'))
    .flatMap((n) => n.split('dropped this step')[1].trim().split(' ')).sort().join(' ');
  const shownDropped = dropped(network.layout);
  if (shownDropped !== dropped(frame.charts.network.figure.layout)) problems.push('the network shows another step than the frame');
  // Buttons: what they offer matches the state the frame shows.
  const button = (name) => Array.from(document.querySelectorAll('button')).find((b) => b.textContent.trim() === name);
  const playing = frame.source !== null && frame.source !== undefined;
  const finished = /· finished|· stopped/.test(text);  // not 'no epoch finished yet'
  const play = button('Play'), pause = button('Pause'), stepButton = button('Step'), reset = button('Reset');
  if (playing && !pause) problems.push('playing, but no Pause button');
  if (!playing && !play) problems.push('not playing, but no Play button');
  if (play && play.disabled !== finished) problems.push(`Play is ${play.disabled ? 'disabled' : 'enabled'} while the status says "${text.slice(0, 60)}"`);
  if (stepButton && stepButton.disabled !== finished) problems.push(`Step is ${stepButton.disabled ? 'disabled' : 'enabled'}`);
  if (!reset || reset.disabled) problems.push('no usable Reset button');
  const markers = curves.layout.shapes ? curves.layout.shapes.filter((s) => s.type === 'line' && s.xref === 'x').length : 0;
  return {problems, epoch, epochs, step, last, range, playing, finished, diverged, text, markers,
          droppedCount: shownDropped ? shownDropped.split(' ').length : 0, painted: +root.dataset.painted,
          lengths, ready: !!document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]')};
}"""
)


def view(page: Page) -> dict:
    """The page's views as they are now (VIEW), read in one step."""
    return page.evaluate(VIEW)


def settle(page: Page, until: Callable[[dict], bool] = lambda v: True, timeout: float = 30.0) -> dict:
    """Waits until the script has run, the views agree and until(view) holds; returns that view. Fails after timeout
    seconds with the last disagreement: the limit is generous, since a loaded machine is slow, never wrong."""
    deadline = time.monotonic() + timeout
    seen: dict = {}
    while time.monotonic() < deadline:
        seen = view(page)
        if seen.get("ready") and not seen["problems"] and until(seen):
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"the page did not settle in {timeout:.0f} s: {seen}")


def open_page(page: Page, url: str) -> dict:
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)
    expect(page.locator(".dropviz-chart")).to_have_count(3, timeout=60_000)
    page.wait_for_selector(CHART, timeout=60_000)
    return settle(page)


def click(page: Page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def play_to_end(page: Page, timeout: float = 90.0) -> dict:
    """Play, then wait until the run stopped by itself and the page shows it."""
    click(page, "Play")
    return settle(page, lambda v: v["finished"] and not v["playing"], timeout)


def speed(page: Page, epochs_per_second: int) -> None:
    """Sets the Speed slider (3, 10, 30, 100, 300, max) with the keyboard."""
    slider(page, "Speed (epochs per second)", ["Home"] + ["ArrowRight"] * [3, 10, 30, 100, 300].index(epochs_per_second))
    settle(page)


def slider(page: Page, label: str, presses: list[str]) -> None:
    """Moves a Streamlit slider with the keyboard, as a person without a mouse does."""
    handle = page.get_by_role("slider", name=re.compile(f"^{re.escape(label)}( |$)"))  # Streamlit names it twice
    handle.focus()
    for key in presses:
        handle.press(key)


def status_numbers(text: str) -> tuple[int, int]:
    epoch, step = re.search(r"Epoch (\d+) of \d+ · step (\d+)", text).groups()
    return int(epoch), int(step)
