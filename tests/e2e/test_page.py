"""The page as a person meets it: real server, real Chromium, driven through the visible labels."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.views import DECODE, click, open_page, settle, slider

# The rendered network graph (the first chart): neurons drawn per column, and the dropped ones' maps ('column:unit').
NETWORK = (
    """() => {"""
    + DECODE
    + """
  const plot = document.querySelectorAll('.dropviz-chart.js-plotly-plot')[0];
  const nodes = {};
  for (const t of plot.data) {
    if (t.name !== 'neuron') continue;
    for (const [column] of decode(t.customdata)) nodes[column] = (nodes[column] || 0) + 1;
  }
  const dropped = (plot.layout.images || []).map((m) => m.name).filter((n) => n.includes('dropped this step'))
    .flatMap((n) => n.split('dropped this step')[1].trim().split(' '));
  return {nodes, dropped: dropped.sort()};
}"""
)
CURVES = (
    """() => {"""
    + DECODE
    + """
  const plots = Array.from(document.querySelectorAll('.dropviz-chart.js-plotly-plot'));
  const plot = plots.find((p) => p.data.some((t) => t.name === 'dropout · validation'));
  return plot ? plot.data.map(t => ({name: t.name, n: decode(t.y).length})) : [];  // y: up to 800 epochs, x is x0 + i dx
}"""
)


@pytest.fixture
def app(watched: Page, app_url: str):
    open_page(watched, app_url)
    return watched


def test_page_loads_with_three_views_and_no_exception(app: Page):
    expect(app.locator("[data-testid=stException]")).to_have_count(0)
    expect(app.locator(".dropviz-chart.js-plotly-plot")).to_have_count(3)
    shown = settle(app)
    assert (shown["epoch"], shown["step"], shown["range"]) == (0, 0, [0, 10])  # a new run's axis: whole epochs 0 to 10
    names = {c["name"] for c in app.evaluate(CURVES)}
    assert {"twin · train", "twin · validation", "dropout · validation"} <= names


def test_layers_and_neurons_change_the_graph(app: Page):
    assert app.evaluate(NETWORK)["nodes"] == {"0": 2, "1": 10, "2": 10, "3": 2}  # 128 drawn as 10 maps (MAP_NODES)
    slider(app, "Hidden layers", ["ArrowRight"])  # 2 -> 3
    settle(app, lambda v: len(app.evaluate(NETWORK)["nodes"]) == 5)
    slider(app, "Neurons per layer", ["Home"] + ["ArrowRight"] * 4)  # 1 -> 5
    settle(app, lambda v: app.evaluate(NETWORK)["nodes"] == {"0": 2, "1": 5, "2": 5, "3": 5, "4": 2})


def test_play_pause_step_and_reset(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=5000")  # long enough not to finish while playing
    click(app, "Play")
    playing = settle(app, lambda v: v["playing"] and v["epoch"] >= 3)
    curves = {c["name"]: c["n"] for c in app.evaluate(CURVES)}
    assert curves["dropout · validation"] == playing["epoch"] == curves["twin · validation"]
    click(app, "Pause")
    paused = settle(app, lambda v: not v["playing"])
    before = app.evaluate(NETWORK)["dropped"]
    click(app, "Step")
    stepped = settle(app, lambda v: v["step"] == paused["step"] + 1)  # and not more: Pause stopped the training
    assert app.evaluate(NETWORK)["dropped"] != before and not stepped["playing"]
    click(app, "Reset")
    settle(app, lambda v: (v["epoch"], v["step"], v["last"]) == (0, 0, 0))


def test_dropout_toggle_switches_the_dropped_neurons_off_and_keeps_training(app: Page):
    click(app, "Step")
    stepped = settle(app, lambda v: v["step"] == 1)
    assert stepped["droppedCount"] > 0  # p = 0.5 on 2 x 128
    app.get_by_label("Dropout", exact=True).click(force=True)  # the toggle (its input is visually hidden)
    settle(app, lambda v: v["markers"] == 1)
    expect(app.get_by_text("restarted")).to_have_count(0)  # same weights, no reset
    click(app, "Step")
    after = settle(app, lambda v: v["step"] == 2)
    assert after["droppedCount"] == 0 and app.evaluate(NETWORK)["dropped"] == []


def test_downloads_and_link_work_in_the_browser(app: Page):
    click(app, "Step")
    settle(app, lambda v: v["step"] == 1)
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
    open_page(app, f"{app_url}/?epochs=5000")
    first = app.evaluate(REDRAWS)
    click(app, "Play")
    start = settle(app, lambda v: v["playing"] and v["epoch"] >= 1)
    counts = app.evaluate(REDRAWS)
    settle(app, lambda v: v["painted"] >= start["painted"] + 5)
    end = app.evaluate(REDRAWS)
    assert end["mounts"] == counts["mounts"], "a page rerun replaced a chart while playing"
    redraws = [after - before for after, before in zip(end["redraws"], counts["redraws"])]
    # The curves were redrawn (their new points); the network's and the boundary's traces were not, only their images
    # changed: at most once, when the charts' window-fitted heights settle after Play's rerun (a new height redraws a chart).
    assert redraws[2] >= 3 and redraws[0] <= 1 and redraws[1] <= 1, redraws
    assert len(end["images"]) == 4 and end["images"] != first["images"]  # two maps, two rings
    frames = []
    app.on("request", lambda r: frames.append(r.url) if "/dropviz/frame/" in r.url else None)
    click(app, "Pause")
    settle(app, lambda v: not v["playing"])
    asked = len(frames)
    app.wait_for_timeout(1500)  # a window for what must not happen: a slow machine only asks less
    assert len(frames) == asked  # nothing queued: frames stop coming once Pause took effect


def test_while_playing_frames_come_over_http_and_a_finished_run_shows_play(app: Page, app_url: str):
    open_page(app, f"{app_url}/?epochs=300")  # 3 s at the default speed of 100 epochs/s
    frames = []
    app.on("response", lambda r: frames.append(r.status) if "/dropviz/frame/" in r.url else None)
    click(app, "Play")
    # The run finishes by itself; its last fetched frame says so and the page shows Play again, nobody clicking.
    done = settle(app, lambda v: v["finished"] and not v["playing"], timeout=90)
    assert done["epoch"] == done["last"] == 300
    assert len(frames) >= 2 and set(frames) == {200}, frames  # the page fetched its frames itself, each whole
    shown = len(frames)
    app.wait_for_timeout(1500)  # a window for what must not happen
    assert len(frames) == shown  # stopped: no more requests
