"""dropviz/web/live_chart.js in Chromium on a bare page (plotly.js, no server): frames made in Python, what the charts then show.

Playwright answers a made-up origin (http://dropviz.test) from disk: the page, plotly.js (plotly_js.bundle()) and
live_chart.js. A fake Streamlit component feeds the view frames from dropviz.web.frames.make_frame; each test waits on the
view's painted-frame count (root.dataset.painted), then reads what plotly.js drew: axis ranges, traces, layout images,
the status line, and which Plotly calls drew each chart (react, relayout, restyle and extendTraces are wrapped before any frame).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pytest

import dropviz
from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer
from dropviz.figures.boundary import BOUNDARY_GRID
from dropviz.figures.curves import CURVE_BUCKETS, MIN_EPOCH_SPAN
from dropviz.web import plotly_js
from dropviz.web.frames import make_frame
from tests.harness import chromium_launch_args

ORIGIN = "http://dropviz.test"
LIVE_CHART_JS = Path(dropviz.__file__).parent / "web" / "live_chart.js"
EPOCHS = 300
CONFIG = RunConfig(epochs=EPOCHS, n_train=40, n_val=40, hidden=(8,), p=(0.5,))  # 3 steps an epoch; 300 epochs in well under a second
WAIT_MS = 10_000  # a condition not met by then is a failure, not slowness: every frame here paints in a fraction of it

# The bare page: plotly.js first (as live_chart.py's PRELOAD puts it), the view's CSS (as Streamlit adds the component's),
# Plotly's drawing calls wrapped to record which chart each call drew (window.__draws) and to run window.__onDraw once, in
# the middle of a draw; then the module.
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="app/static/plotly.min.js" data-dropviz-plotly></script>
<link rel="stylesheet" href="/live_chart.css">
<script>
window.__draws = [];
window.__triggers = [];
const chartName = (gd) => {
  const caption = gd.previousElementSibling.textContent;
  return caption.includes("network") ? "network" : caption.includes("boundaries") ? "boundary" : "curves";
};
for (const kind of ["react", "relayout", "restyle", "extendTraces"]) {
  const original = Plotly[kind];
  Plotly[kind] = function (gd, ...rest) {
    window.__draws.push([kind, chartName(gd)]);
    const hook = window.__onDraw;
    window.__onDraw = null;
    if (hook) hook();
    return original.call(this, gd, ...rest);
  };
}
window.__component = (json) => ({
  parentElement: document.getElementById("host"),
  data: new TextEncoder().encode(json),  // bytes, as Streamlit passes a frame on
  setTriggerValue: (name, value) => window.__triggers.push([name, value]),
});
</script>
<script type="module">
import render from "/live_chart.js";
window.__render = render;
</script>
</head><body style="margin: 0; width: 1200px"><div id="host"></div></body></html>"""

# What is on screen, read back from plotly.js's drawn state and the DOM.
READ = """() => {
  const live = document.querySelector(".dropviz-live");
  const charts = {};
  for (const div of live.querySelectorAll(".dropviz-chart")) {
    const caption = div.previousElementSibling.textContent;
    charts[caption.includes("network") ? "network" : caption.includes("boundaries") ? "boundary" : "curves"] = div;
  }
  const curves = charts.curves, boundary = charts.boundary, network = charts.network;
  let lastX = null;  // the largest epoch any curve reaches
  for (const trace of curves._fullData) {
    if (trace.name === "epoch span") continue;  // the least range an axis shows, not a curve
    const n = trace.y ? trace.y.length : 0;
    for (let i = 0; i < n; i++) {
      const x = trace.x ? trace.x[i] : trace.x0 + i * trace.dx;
      if (Number.isFinite(x) && (lastX === null || x > lastX)) lastX = x;
    }
  }
  const href = (image) => image.getAttribute("href") || image.getAttributeNS("http://www.w3.org/1999/xlink", "href");
  return {
    painted: Number(live.dataset.painted),
    frameStatus: live.__dropvizFrame.status,
    status: live.querySelector(".dropviz-status").innerText,
    ranges: [curves._fullLayout.xaxis.range, curves._fullLayout.xaxis2.range],
    lastX,
    boundaryImages: [...boundary.querySelectorAll("image")].map(href).sort(),
    networkImages: [...network.querySelectorAll("image")].map(href).sort(),
    draws: window.__draws,
    paintedLog: (window.__dropvizPainted || []).map((entry) => entry[1]),
    curves: curves._fullData.map((t) => ({name: t.name, x: t.x ? Array.from(t.x) : null,
      y: Array.from(t.y || [], (v) => (Number.isNaN(v) ? null : v))})),
  };
}"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches this machine's Chromium (a missing one fails under CI=true)."""
    return {**browser_type_launch_args, **chromium_launch_args()}


@functools.cache
def _files() -> dict[str, tuple[bytes, str]]:
    return {
        "/": (PAGE.encode(), "text/html"),
        "/app/static/plotly.min.js": (plotly_js.bundle().read_bytes(), "text/javascript"),
        "/live_chart.js": (LIVE_CHART_JS.read_bytes(), "text/javascript"),
        "/live_chart.css": (LIVE_CHART_JS.with_suffix(".css").read_bytes(), "text/css"),  # as the component's css
    }


@pytest.fixture
def view(page):
    """The bare page, loaded, with the module imported; frames[path] (bytes) answers fetches of the frame loop."""
    frames: dict[str, bytes] = {}

    def answer(route):
        path = route.request.url.removeprefix(ORIGIN)
        if path in frames:
            return route.fulfill(status=200, body=frames[path], content_type="application/json", headers={"X-Dropviz-Period": "0.01"})
        if path in _files():
            body, kind = _files()[path]
            return route.fulfill(status=200, body=body, content_type=kind)
        return route.fulfill(status=404, body=b"")

    page.route(f"{ORIGIN}/**", answer)
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("() => typeof window.__render === 'function'", timeout=WAIT_MS)
    page.frames_served = frames
    return page


def send(page, *frames: bytes, during_first_draw: bool = False) -> None:
    """Calls the module's default export with each frame, at once; with during_first_draw, the frames after the first
    from inside the first Plotly call the first frame makes (so they arrive while it draws)."""
    texts = [frame.decode() for frame in frames]
    page.evaluate(
        """([texts, during]) => {
          const rest = () => texts.slice(1).forEach((text) => window.__render(window.__component(text)));
          if (during) window.__onDraw = rest;
          window.__render(window.__component(texts[0]));
          if (!during) rest();
        }""",
        [texts, during_first_draw],
    )


def painted(page, count: int) -> dict:
    """Waits until the view has painted count frames in all; returns what is on screen."""
    page.wait_for_function("n => Number(document.querySelector('.dropviz-live')?.dataset.painted) >= n", arg=count, timeout=WAIT_MS)
    return page.evaluate(READ)


def frame_of(trainer: Trainer, source: str | None = None, playing: bool = False) -> bytes:
    return make_frame(trainer.snapshot(BOUNDARY_GRID), trainer.data, EPOCHS, playing, 0, False, source).view


def train_to(trainer: Trainer, epoch: int) -> Trainer:
    while trainer.epoch < epoch:
        trainer.step()
    return trainer


def draws_since(state: dict, before: int) -> dict[str, list[str]]:
    """{chart: [Plotly calls]} of the draws after the first `before`."""
    out: dict[str, list[str]] = {"network": [], "boundary": [], "curves": []}
    for kind, chart in state["draws"][before:]:
        out[chart].append(kind)
    return out


def test_curves_follow_the_run_through_a_reset(view):
    """300 epochs, a reset (no epoch yet), then 6 and 50: each time the curves' x axes show the last epoch, and not much more."""
    done = Trainer(CONFIG, backend="numpy")
    done.run()
    again = Trainer(CONFIG, backend="numpy")
    sequence = [(EPOCHS, frame_of(done)), (0, frame_of(again)), (6, frame_of(train_to(again, 6))), (50, frame_of(train_to(again, 50)))]
    for count, (epoch, frame) in enumerate(sequence, start=1):
        send(view, frame)
        state = painted(view, count)
        assert state["frameStatus"] == json.loads(frame)["status"]
        assert state["status"].startswith(f"Epoch {epoch} of {EPOCHS}"), state["status"]
        assert state["lastX"] == (epoch or None), f"epoch {epoch}: the curves end at {state['lastX']}"
        for low, high in state["ranges"]:
            assert low <= epoch <= high, f"after epoch {epoch}'s frame the x axis shows [{low:.2f}, {high:.2f}]"
            # Not the old run's span after a reset, nor far beyond the last epoch: at least MIN_EPOCH_SPAN, then the run.
            assert high <= max(1.2 * epoch + 2, 1.2 * MIN_EPOCH_SPAN), (
                f"after epoch {epoch}'s frame the x axis shows [{low:.2f}, {high:.2f}]"
            )
    assert view.evaluate("document.querySelectorAll('.dropviz-live').length") == 1  # one view, reused frame after frame


def test_a_layout_only_change_is_relaid_out_and_an_unchanged_chart_not_drawn(view):
    """A later step of the same epoch changes the boundary's images only (relayout), not the curves (no draw at all);
    the same frame again draws nothing."""
    trainer = train_to(Trainer(CONFIG, backend="numpy"), 2)
    trainer.step()
    first = frame_of(trainer)
    trainer.step()
    later = frame_of(trainer)
    assert trainer.epoch == 2  # still within the epoch: the curves have no new point
    a, b = (json.loads(frame)["charts"] for frame in (first, later))
    assert a["curves"] == b["curves"]
    assert a["boundary"]["figure"]["data"] == b["boundary"]["figure"]["data"]
    images = [image["source"] for image in b["boundary"]["figure"]["layout"]["images"]]
    assert images != [image["source"] for image in a["boundary"]["figure"]["layout"]["images"]]
    assert {**a["boundary"]["figure"]["layout"], "images": None} == {**b["boundary"]["figure"]["layout"], "images": None}

    send(view, first)
    state = painted(view, 1)
    assert draws_since(state, 0) == {"network": ["react"], "boundary": ["react"], "curves": ["react"]}
    before, logged = len(state["draws"]), len(state["paintedLog"])

    send(view, later)
    state = painted(view, 2)
    # A step changes only pictures and edges: the network's neuron maps and the boundary maps are relaid, nothing redrawn.
    assert draws_since(state, before) == {"network": ["relayout"], "boundary": ["relayout"], "curves": []}
    assert sorted(state["paintedLog"][logged:]) == ["boundary", "network"]  # the curves chart was not painted again
    assert state["boundaryImages"] == sorted(images)  # the new maps and rings are what the page shows
    assert state["status"].startswith(f"Epoch 2 of {EPOCHS} · step {trainer.step_count}")
    before, logged = len(state["draws"]), len(state["paintedLog"])

    send(view, later)
    state = painted(view, 3)
    assert draws_since(state, before) == {"network": [], "boundary": [], "curves": []}
    assert state["paintedLog"][logged:] == []
    assert state["boundaryImages"] == sorted(images)


def test_frames_arriving_while_one_draws_do_not_queue(view):
    """Five frames, four of them sent while the first is drawing: the last is what is shown, after fewer draws than frames."""
    trainer = Trainer(CONFIG, backend="numpy")
    frames = []
    for _ in range(5):
        trainer.step()
        trainer.step()  # two steps a frame: each frame's epoch, step or dropped neurons differ from the last's
        frames.append(frame_of(trainer))
    last = json.loads(frames[-1])

    send(view, *frames, during_first_draw=True)
    state = painted(view, len(frames))
    assert state["frameStatus"] == last["status"]
    assert state["status"].startswith(f"Epoch {trainer.epoch} of {EPOCHS} · step {trainer.step_count}"), state["status"]
    assert state["lastX"] == trainer.epoch
    assert state["networkImages"] == sorted(image["source"] for image in last["charts"]["network"]["figure"]["layout"]["images"])
    assert sorted(state["boundaryImages"]) == sorted(image["source"] for image in last["charts"]["boundary"]["figure"]["layout"]["images"])
    draws = draws_since(state, 0)
    assert all(1 <= len(calls) <= 2 for calls in draws.values()), draws  # the first frame and the last, at most
    assert len(state["paintedLog"]) < len(frames)  # three charts, fewer paints in all than frames sent


def test_the_view_fetches_next_frames_while_the_run_plays(view):
    """A playing frame's source: the view fetches and shows the frames that follow until the run's route answers 404."""
    trainer = Trainer(CONFIG, backend="numpy")
    trainer.step()
    first = frame_of(trainer, source=f"{ORIGIN}/frame/1", playing=True)
    trainer.step()
    view.frames_served["/frame/1"] = frame_of(trainer, source=f"{ORIGIN}/frame/2", playing=True)
    trainer.step()
    view.frames_served["/frame/2"] = frame_of(trainer, source=f"{ORIGIN}/frame/3", playing=True)  # /frame/3: 404

    send(view, first)
    state = painted(view, 3)
    assert state["status"].startswith(f"Epoch {trainer.epoch} of {EPOCHS} · step {trainer.step_count}"), state["status"]
    assert state["lastX"] == trainer.epoch
    view.wait_for_function("() => window.__triggers.length > 0", timeout=WAIT_MS)
    assert [name for name, _ in view.evaluate("window.__triggers")] == ["stopped"]  # the page shows Play again
    assert painted(view, 3)["painted"] == 3


def _curves_drawn(frame: bytes) -> list[tuple[str, list]]:
    """The frame's curves as the page should draw them: (name, y) per trace (float32, NaN as None), as READ gives them."""
    out = []
    for trace in json.loads(frame)["charts"]["curves"]["figure"]["data"]:
        y = trace.get("y")
        values = np.frombuffer(base64.b64decode(y["bdata"]), np.float32) if isinstance(y, dict) else np.asarray(y or [], np.float32)
        out.append((trace["name"], [None if np.isnan(v) else float(v) for v in values]))
    return out


def _curves_shown(state: dict) -> list[tuple[str, list]]:
    return [(curve["name"], curve["y"]) for curve in state["curves"]]


def test_curves_grow_in_place_and_are_restyled_when_they_change_otherwise(view):
    """Frame after frame of a playing run, each new epoch's points are appended to the curves (Plotly.extendTraces),
    never a redraw of the figure (Plotly.react): what is drawn is then each frame's curves, point for point. A frame whose
    best-validation marker moved restyles the changed traces; past 2 x CURVE_BUCKETS epochs the curves are cut into
    buckets (new x arrays), restyled too."""
    trainer = train_to(Trainer(dataclasses.replace(CONFIG, epochs=2 * CURVE_BUCKETS + 1), backend="numpy"), 88)
    first = frame_of(trainer)
    send(view, first)
    state = painted(view, 1)
    before = len(state["draws"])
    bests = lambda frame: [t for t in json.loads(frame)["charts"]["curves"]["figure"]["data"] if "best" in t["name"]]
    shown, kinds = first, []
    for count, epoch in enumerate((90, 95, 100, 110, 133), start=2):  # the best validation moves between 110 and 133
        frame = frame_of(train_to(trainer, epoch))
        send(view, frame)
        state = painted(view, count)
        calls = draws_since(state, before)["curves"]
        before = len(state["draws"])
        assert "react" not in calls, f"epoch {epoch}: the curves were redrawn whole ({calls})"
        assert calls == (["extendTraces"] if bests(frame) == bests(shown) else ["restyle"]), f"epoch {epoch}: {calls}"
        kinds += calls
        assert _curves_shown(state) == _curves_drawn(frame), f"epoch {epoch}: the drawn curves are not the frame's"
        assert state["lastX"] == epoch
        shown = frame
    assert kinds == ["extendTraces"] * 4 + ["restyle"]
    # Past 2 x CURVE_BUCKETS epochs: x arrays appear, the traces are restyled (not extended, not redrawn).
    send(view, frame_of(train_to(trainer, 2 * CURVE_BUCKETS)))
    state = painted(view, 7)
    before = len(state["draws"])
    frame = frame_of(train_to(trainer, 2 * CURVE_BUCKETS + 1))
    send(view, frame)
    state = painted(view, 8)
    assert draws_since(state, before)["curves"] == ["restyle"]
    validation = next(curve for curve in state["curves"] if curve["name"] == "dropout · validation")
    assert validation["x"] is not None and len(validation["x"]) < 2 * CURVE_BUCKETS and state["lastX"] == 2 * CURVE_BUCKETS + 1
    assert _curves_shown(state) == _curves_drawn(frame)


def test_a_narrow_views_curves_keep_the_room_for_their_legend(view):
    """On a phone's width the curves are drawn taller, their legend's rows below the plots, and stay so frame after
    frame (Plotly's resize to the container, which the view does on a size change, must not take the room back)."""
    view.evaluate("() => { document.body.style.width = '390px'; }")
    trainer = train_to(Trainer(CONFIG, backend="numpy"), 5)
    first = frame_of(trainer)
    send(view, first)
    painted(view, 1)
    view.wait_for_timeout(300)  # a resize, if any, has run
    send(view, frame_of(train_to(trainer, 7)))
    painted(view, 2)
    view.wait_for_timeout(300)
    sent = json.loads(first)["charts"]["curves"]["figure"]["layout"]
    drawn = view.evaluate("() => { const c = document.querySelectorAll('.dropviz-chart')[2]._fullLayout; return [c.height, c.margin.b]; }")
    assert drawn[0] > sent["height"] + 50 and drawn[0] - drawn[1] == sent["height"] - sent["margin"]["b"], drawn
