"""The page as a person meets it: real server, real Chromium, driven through the visible labels."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.harness import CHART, READY

# Plotly keeps typed arrays in the page as {dtype, bdata (base64), shape}; this decodes either form.
DECODE = """const decode = (v) => {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  const bytes = Uint8Array.from(atob(v.bdata), (c) => c.charCodeAt(0));
  const types = {i1: Int8Array, u1: Uint8Array, i2: Int16Array, i4: Int32Array, f4: Float32Array, f8: Float64Array};
  const flat = Array.from(new types[v.dtype](bytes.buffer));
  const shape = String(v.shape || flat.length).split(',').map(Number);
  if (shape.length < 2) return flat;
  return Array.from({length: shape[0]}, (_, i) => flat.slice(i * shape[1], (i + 1) * shape[1]));
};"""
# The rendered Plotly data of the network graph (the first chart): nodes per column, dropped (column, unit).
NETWORK = """() => {""" + DECODE + """
  const plot = document.querySelectorAll('.dropviz-chart.js-plotly-plot')[0];
  const nodes = {}; const dropped = [];
  for (const t of plot.data) {
    if (t.name !== 'kept neuron' && t.name !== 'dropped this step') continue;
    for (const [column, unit] of decode(t.customdata)) {
      nodes[column] = (nodes[column] || 0) + 1;
      if (t.name === 'dropped this step') dropped.push(column + ':' + unit);
    }
  }
  return {nodes, dropped: dropped.sort()};
}"""
CURVES = """() => {""" + DECODE + """
  const plots = Array.from(document.querySelectorAll('.dropviz-chart.js-plotly-plot'));
  const plot = plots.find((p) => p.data.some((t) => t.name === 'dropout · validation'));
  return plot ? plot.data.map(t => ({name: t.name, n: decode(t.y).length})) : [];  // y: up to 800 epochs, x is x0 + i dx
}"""


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY, timeout=30_000)
    expect(page.locator(".dropviz-chart")).to_have_count(3, timeout=30_000)
    page.wait_for_selector(CHART, timeout=30_000)


def _idle(page: Page) -> None:
    page.wait_for_selector(READY, timeout=30_000)
    page.wait_for_timeout(300)  # let Plotly finish painting


def _status(page: Page) -> tuple[int, int]:
    text = page.get_by_text(re.compile(r"Epoch \d+ of \d+")).first.inner_text()
    epoch, step = re.search(r"Epoch (\d+) of \d+ · step (\d+)", text).groups()
    return int(epoch), int(step)


def _slider(page: Page, label: str, presses: list[str]) -> None:
    """Moves a Streamlit slider with the keyboard, as a person without a mouse does."""
    slider = page.get_by_role("slider", name=label)
    slider.focus()
    for key in presses:
        slider.press(key)
    _idle(page)


@pytest.fixture
def app(page: Page, app_url: str):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1500, "height": 1200})
    _open(page, app_url)
    yield page
    assert errors == [], errors  # no console errors during the whole test


def test_page_loads_with_three_views_and_no_exception(app: Page):
    expect(app.locator("[data-testid=stException]")).to_have_count(0)
    expect(app.locator(".dropviz-chart.js-plotly-plot")).to_have_count(3)
    assert _status(app) == (0, 0)
    names = {c["name"] for c in app.evaluate(CURVES)}
    assert {"no-dropout twin · train", "no-dropout twin · validation", "dropout · validation"} <= names


def test_layers_and_neurons_change_the_graph(app: Page):
    assert app.evaluate(NETWORK)["nodes"] == {"0": 2, "1": 32, "2": 32, "3": 2}  # 128 drawn as 32
    _slider(app, "Hidden layers", ["ArrowRight"])  # 2 -> 3
    _slider(app, "Neurons per layer", ["Home"] + ["ArrowRight"] * 4)  # 1 -> 5
    assert app.evaluate(NETWORK)["nodes"] == {"0": 2, "1": 5, "2": 5, "3": 5, "4": 2}


def test_play_pause_step_and_reset(app: Page, app_url: str):
    _open(app, f"{app_url}/?epochs=5000")  # long enough not to finish while playing
    app.get_by_role("button", name="Play", exact=True).click()
    app.wait_for_timeout(2500)
    epoch, _ = _status(app)
    assert epoch > 0
    curves = {c["name"]: c["n"] for c in app.evaluate(CURVES)}
    assert curves["dropout · validation"] > 0 and curves["no-dropout twin · validation"] > 0
    app.get_by_role("button", name="Pause", exact=True).click()
    expect(app.get_by_role("button", name="Pause", exact=True)).to_have_count(0)  # the rerun has happened
    _idle(app)
    paused = _status(app)
    app.wait_for_timeout(1000)
    assert _status(app) == paused
    before = app.evaluate(NETWORK)["dropped"]
    app.get_by_role("button", name="Step", exact=True).click()
    _idle(app)
    assert _status(app)[1] == paused[1] + 1
    assert app.evaluate(NETWORK)["dropped"] != before
    app.get_by_role("button", name="Reset", exact=True).click()
    _idle(app)
    assert _status(app) == (0, 0)


def test_dropout_toggle_switches_the_dropped_neurons_off_and_keeps_training(app: Page):
    app.get_by_role("button", name="Step", exact=True).click()
    _idle(app)
    assert len(app.evaluate(NETWORK)["dropped"]) > 0  # p = 0.5 on 2 x 128
    app.get_by_label("Dropout", exact=True).click(force=True)  # the toggle (its input is visually hidden)
    _idle(app)
    expect(app.get_by_text("restarted")).to_have_count(0)  # same weights, no reset
    steps = _status(app)[1]
    app.get_by_role("button", name="Step", exact=True).click()
    _idle(app)
    assert app.evaluate(NETWORK)["dropped"] == []
    assert _status(app)[1] == steps + 1


def test_downloads_and_link_work_in_the_browser(app: Page):
    app.get_by_role("button", name="Step", exact=True).click()
    _idle(app)
    app.get_by_text("Save and share").click()
    with app.expect_download() as download:
        app.get_by_role("button", name="Curves (CSV)", exact=True).click()
    header = Path(download.value.path()).read_text().splitlines()[0]
    assert header.startswith("epoch,dropout_train_loss")
    with app.expect_download() as download:
        app.get_by_role("button", name="Trained dropout network (PyTorch)", exact=True).click()
    assert download.value.suggested_filename == "dropviz-network.pt"
    link = app.locator("[data-testid=stCode] code").first.inner_text()
    assert "?preset=overfitting+demo" in link and link.startswith("http://127.0.0.1:")


# Per chart: how often Plotly redrew the whole figure (counted on the chart's element, which a page rerun may
# replace: "mounts" tells), and the boundary's probability images as drawn.
REDRAWS = """() => {
  const plots = Array.from(document.querySelectorAll('.dropviz-chart.js-plotly-plot'));
  plots.forEach((p) => {
    if (!p.__counted) { p.__counted = true; p.__redraws = 0; p.on('plotly_afterplot', () => { p.__redraws += 1; }); }
  });
  const boundary = plots[1];
  const images = Array.from(boundary.querySelectorAll('.imagelayer image')).map((e) => e.getAttribute('href'));
  window.__mounts = window.__mounts || new WeakMap();
  plots.forEach((p) => { if (!window.__mounts.has(p)) window.__mounts.set(p, Math.random()); });
  return {redraws: plots.map((p) => p.__redraws), mounts: plots.map((p) => window.__mounts.get(p)), images};
}"""


def test_the_live_charts_change_in_place_and_stop_with_pause(app: Page, app_url: str):
    _open(app, f"{app_url}/?epochs=5000")
    first = app.evaluate(REDRAWS)
    app.get_by_role("button", name="Play", exact=True).click()
    windows = []
    for _ in range(3):  # 2 s windows; one in which no page rerun replaced a chart is enough
        start = app.evaluate(REDRAWS)
        app.wait_for_timeout(2000)
        end = app.evaluate(REDRAWS)
        if end["mounts"] == start["mounts"]:
            windows.append([after - before for after, before in zip(end["redraws"], start["redraws"])])
    assert windows, "every window saw a chart replaced"
    # The network and the curves were redrawn; the boundary's 1200 data points were not, only its images changed.
    assert any(w[0] > 2 and w[2] > 2 and w[1] == 0 for w in windows), windows
    assert len(end["images"]) == 4 and end["images"] != first["images"]  # two maps, two rings
    app.get_by_role("button", name="Pause", exact=True).click()
    expect(app.get_by_role("button", name="Play", exact=True)).to_have_count(1)
    paused = app.evaluate(REDRAWS)
    for _ in range(6):  # the last frames in flight land within a few seconds, however loaded the machine
        app.wait_for_timeout(500)
        if (now := app.evaluate(REDRAWS)) == paused:
            break
        paused = now
    app.wait_for_timeout(1500)
    assert app.evaluate(REDRAWS) == paused  # nothing queued: frames stop coming once Pause took effect


def test_while_playing_frames_come_over_http_and_a_finished_run_shows_play(app: Page, app_url: str):
    _open(app, f"{app_url}/?epochs=300")  # 3 s at the default speed of 100 epochs/s
    frames = []
    app.on("response", lambda r: frames.append(r.status) if "/dropviz/frame/" in r.url else None)
    app.get_by_role("button", name="Play", exact=True).click()
    for _ in range(300):  # the page fetches its frames itself while the run plays
        if len(frames) >= 5:
            break
        app.wait_for_timeout(100)
    assert len(frames) >= 5 and set(frames) == {200}, frames  # several frames, each fetched whole
    # The run finishes by itself; its last fetched frame says so and the page shows Play again, nobody clicking.
    expect(app.get_by_text(re.compile(r"Epoch 300 of 300"))).to_have_count(1, timeout=30_000)
    expect(app.get_by_role("button", name="Play", exact=True)).to_have_count(1, timeout=30_000)
    app.wait_for_timeout(500)
    shown = len(frames)
    app.wait_for_timeout(1500)
    assert len(frames) == shown  # stopped: no more requests
