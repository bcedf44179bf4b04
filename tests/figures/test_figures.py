"""Tests for dropviz.figures: every check reads fig.data / fig.layout and compares with the records drawn."""

import base64
import dataclasses
import itertools
import json
import math
import re
import struct
import zlib
from types import SimpleNamespace
from xml.etree import ElementTree

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.utils import PlotlyJSONEncoder

from dropviz.core.config import RunConfig
from dropviz.core.data import EXTENT
from dropviz.core.engine import Trainer
from dropviz.core.neurons import closeup, with_maps
from dropviz.core.records import RUN_NAMES, Event, History, LayerParams, RunHistory, Snapshot, frozen
from dropviz.figures import raster
from dropviz.figures.boundary import BOUNDARY_GRID, boundary_spec
from dropviz.figures.curves import CURVE_BUCKETS, MIN_EPOCH_SPAN, curves_spec
from dropviz.figures.curves import _curves as _curves_points
from dropviz.figures.network import network_spec
from dropviz.figures.neuron import neuron_spec
from dropviz.figures.theme import PROJECTOR_SCALE, THEME, display_name, for_projector

NODE_TRACES = ("kept neuron", "dropped this step")


# --- helpers ------------------------------------------------------------------------------------


def network_figure(snapshot: Snapshot, run: str = "dropout", max_nodes: int = 32) -> go.Figure:
    """network_spec checked by Plotly's object model."""
    return go.Figure(network_spec(snapshot, run, max_nodes))


def curves_figure(history: History) -> go.Figure:
    return go.Figure(curves_spec(history))


def boundary_figure(snapshot: Snapshot, data) -> go.Figure:
    return go.Figure(boundary_spec(snapshot, data))


def _trained(steps: int = 3, **settings) -> Trainer:
    settings = {"n_train": 40, "hidden": (5, 3), "p": (0.5, 0.5), "p_input": 0.5, "epochs": 3, "batch_size": 8, **settings}
    trainer = Trainer(RunConfig(**settings))
    for _ in range(steps):
        trainer.step()
    return trainer


def _run_history(e: int, offset: float = 0.0, status: str = "ok", **arrays) -> RunHistory:
    base = {
        "train_loss": np.linspace(1.0, 0.2, e) + offset,
        "val_loss": np.linspace(1.1, 0.5, e) + offset + 0.1 * np.sin(np.arange(e)),
        "train_acc": np.linspace(0.5, 0.95, e),
        "val_acc": np.linspace(0.5, 0.8, e),
        "optimized_loss": np.linspace(1.2, 0.4, e),
    }
    base.update(arrays)
    return RunHistory(**{k: frozen(v) for k, v in base.items()}, status=status)


def _snapshot(sizes, seed=0, masks=(), tracked=None, runs=RUN_NAMES) -> Snapshot:
    """A hand-built Snapshot: random weights per run, the given keep masks, a small boundary grid."""
    rng = np.random.default_rng(seed)
    params = {
        run: tuple(
            LayerParams(frozen(rng.normal(size=(n_out, n_in)).astype(np.float32)), frozen(np.zeros(n_out, np.float32)))
            for n_in, n_out in itertools.pairwise(sizes)
        )
        for run in runs
    }
    axis = np.linspace(*EXTENT, 7)
    history = History(runs={run: _run_history(0) for run in RUN_NAMES}, events=())
    return Snapshot(
        epoch=0,
        step=1,
        epoch_progress=0.1,
        sizes=tuple(sizes),
        params=params,
        activation="relu",
        masks=tuple(frozen(m) for m in masks),
        tracked_index=tracked,
        p_effective=(0.5,) * (len(sizes) - 2),
        p_input_effective=0.0,
        grid_axis=frozen(axis),
        grid_proba={run: frozen(rng.random((7, 7)).astype(np.float32)) for run in RUN_NAMES},
        history=history,
        finished=False,
    )


def _trace(fig, name, index=0):
    found = [t for t in fig.data if t.name == name]
    assert found, f"no trace named {name!r}"
    return found[index]


def _pairs(trace) -> set[tuple[int, int]]:
    data = np.asarray(trace.customdata).reshape(-1, 2)
    return {(int(c), int(u)) for c, u in data}


def _lines(shape) -> np.ndarray:
    """An edge shape's SVG path "M x0,y0L x1,y1 M ..." -> (E, 4) [x0, y0, x1, y1], checking its form."""
    path = shape.path or ""
    parts = re.findall(r"M(-?[\d.]+),(-?[\d.]+)L(-?[\d.]+),(-?[\d.]+)", path)
    assert "".join(f"M{a},{b}L{c},{d}" for a, b, c, d in parts) == path, "edges are separate M...L... lines"
    return np.array(parts, dtype=float).reshape(-1, 4)


def _segments(shape) -> int:
    return len(_lines(shape))


def _edge_image(fig):
    """The network's "edges" layout image (always its last image)."""
    image = fig.layout.images[-1]
    assert image.name == "edges" and image.source.startswith("data:image/svg+xml;base64,")
    return image


def _edge_traces(fig):
    """The edge classes drawn: each path of the "edges" image's SVG as (name, path, line.width, line.dash, opacity)."""
    svg = ElementTree.fromstring(base64.b64decode(_edge_image(fig).source.split(",", 1)[1]))
    paths = svg.findall(".//{http://www.w3.org/2000/svg}path")
    return [
        SimpleNamespace(
            name=p.get("data-name"),
            path=p.get("d"),
            line=SimpleNamespace(width=float(p.get("stroke-width")), dash="dot" if p.get("stroke-dasharray") else "solid"),
            opacity=float(p.get("stroke-opacity")),
        )
        for p in paths
    ]


def _expected_dropped(masks, shown=None) -> set[tuple[int, int]]:
    return {(c, int(u)) for c, keep in enumerate(masks) for u in np.flatnonzero(~keep) if shown is None or u < shown}


def _edges_by_class(snapshot: Snapshot, run: str, dropped: set[tuple[int, int]]) -> dict[str, int]:
    """Reference count, edge by edge in plain Python: faded, positive and negative segments."""
    counts = {"faded": 0, "positive": 0, "negative": 0}
    for layer, params in enumerate(snapshot.params[run]):
        w = params.weight
        for j in range(w.shape[0]):
            for i in range(w.shape[1]):
                if (layer, i) in dropped or (layer + 1, j) in dropped:
                    counts["faded"] += 1
                else:
                    counts["positive" if w[j, i] >= 0 else "negative"] += 1
    return counts


# --- network ------------------------------------------------------------------------------------


def test_dropped_nodes_are_exactly_the_masked_units():
    trainer = _trained(steps=3)
    snap = trainer.snapshot(BOUNDARY_GRID)
    expected = _expected_dropped(snap.masks)
    assert expected, "with p = 0.5 on 10 units some unit is dropped (seeded)"
    fig = network_figure(snap, "dropout")
    assert _pairs(_trace(fig, "dropped this step")) == expected
    every = {(c, u) for c, n in enumerate(snap.sizes) for u in range(n)}
    assert _pairs(_trace(fig, "kept neuron")) == every - expected
    # The masks drawn are the last step's: those of the tracked example in the engine's own record.
    keep = trainer.last_keep()
    assert all(np.array_equal(m, k[0, 0]) for m, k in zip(snap.masks, keep))


def test_nothing_dropped_for_the_twin_or_before_the_first_step():
    snap = _trained(steps=3).snapshot(BOUNDARY_GRID)
    assert _expected_dropped(snap.masks)
    assert len(_trace(network_figure(snap, "twin"), "dropped this step").x) == 0
    fresh = Trainer(RunConfig(n_train=40, hidden=(5, 3), p=(0.5, 0.5), epochs=3, batch_size=8)).snapshot(BOUNDARY_GRID)
    assert fresh.masks == ()
    fig = network_figure(fresh)
    assert len(_trace(fig, "dropped this step").x) == 0
    assert len(_trace(fig, "kept neuron").x) == sum(fresh.sizes)


def test_node_traces_carry_column_and_unit_and_float32():
    fig = network_figure(_trained().snapshot(BOUNDARY_GRID))
    for name in NODE_TRACES:
        trace = _trace(fig, name)
        assert np.asarray(trace.x).dtype == np.float32 and np.asarray(trace.y).dtype == np.float32
        assert np.array_equal(np.asarray(trace.x), np.asarray(trace.customdata)[:, 0])  # drawn in its column
    image = _edge_image(fig)
    assert (image.xref, image.yref, image.layer, image.sizing) == ("x", "y", "below", "stretch")
    assert [image.x, image.x + image.sizex] == pytest.approx(fig.layout.xaxis.range)  # the SVG spans the plot: edges meet nodes
    assert [image.y - image.sizey, image.y] == pytest.approx(fig.layout.yaxis.range)
    for shape in _edge_traces(fig):
        assert _segments(shape) > 0


@pytest.mark.parametrize("sizes", [(2, 1, 2), (2, 5, 3, 2), (2, 30, 2)])
def test_node_count_per_column_equals_sizes(sizes):
    fig = network_figure(_snapshot(sizes))
    drawn = _pairs(_trace(fig, "kept neuron")) | _pairs(_trace(fig, "dropped this step"))
    assert [sum(1 for c, _ in drawn if c == col) for col in range(len(sizes))] == list(sizes)
    assert sum(_segments(t) for t in _edge_traces(fig)) == sum(a * b for a, b in itertools.pairwise(sizes))
    assert not [a for a in fig.layout.annotations if " of " in a.text]  # no column cut: no "N of M"


def test_big_layers_are_capped_with_a_count_of_the_rest():
    sizes = (2, 100, 40, 2)
    masks = (np.array([True, False]), np.arange(100) % 3 == 0, np.arange(40) % 2 == 0)
    fig = network_figure(_snapshot(sizes, masks=masks), max_nodes=32)
    drawn = _pairs(_trace(fig, "kept neuron")) | _pairs(_trace(fig, "dropped this step"))
    assert [sum(1 for c, _ in drawn if c == col) for col in range(4)] == [2, 32, 32, 2]
    assert drawn >= {(1, u) for u in range(32)}, "units 0..max_nodes-1 are the ones drawn"
    assert _pairs(_trace(fig, "dropped this step")) == _expected_dropped(masks, shown=32)
    headers = {a.x: a.text for a in fig.layout.annotations if a.yref == "paper"}
    assert headers == {0: "input", 1: "hidden 1<br>p=0.5<br>32 of 100", 2: "hidden 2<br>p=0.5<br>32 of 40", 3: "output"}
    # Above the plot, in a top margin that holds their two lines in pixels (enlarged with the type for a projector).
    assert {(a.y, a.yanchor) for a in fig.layout.annotations if a.yref == "paper"} == {(1.0, "bottom")}
    assert fig.layout.margin.t >= 3 * 1.3 * THEME.small_font_size
    big = go.Figure(network_spec(_snapshot(sizes, masks=masks), max_nodes=32, text_scale=PROJECTOR_SCALE))
    assert big.layout.margin.t >= 3 * 1.3 * THEME.small_font_size * PROJECTOR_SCALE
    assert sum(_segments(t) for t in _edge_traces(fig)) == 2 * 32 + 32 * 32 + 32 * 2  # only between drawn nodes


def test_edge_traces_stay_few_for_six_wide_layers():
    sizes = (2, *(256,) * 6, 2)
    masks = tuple(np.arange(n) % 2 == 0 for n in sizes[:-1])
    fig = network_figure(_snapshot(sizes, masks=masks))
    assert len(_edge_traces(fig)) <= 10
    assert len(fig.data) <= 12
    assert sum(_segments(t) for t in _edge_traces(fig)) == 2 * 32 + 5 * 32 * 32 + 32 * 2


@pytest.mark.parametrize("run", RUN_NAMES)
def test_edge_colours_follow_weight_signs(run):
    sizes = (2, 6, 4, 2)
    masks = (np.array([True, True]), np.array([True, False, True, True, False, True]), np.array([False, True, True, True]))
    snap = _snapshot(sizes, seed=3, masks=masks)
    dropped = _expected_dropped(masks) if run == "dropout" else set()
    expected = _edges_by_class(snap, run, dropped)
    fig = network_figure(snap, run)
    got = {"faded": 0, "positive": 0, "negative": 0}
    for trace in _edge_traces(fig):
        if trace.name == "positive weight":
            assert trace.line.dash == "solid"
            got["positive"] += _segments(trace)
        elif trace.name == "negative weight":
            assert trace.line.dash == "dot"
            got["negative"] += _segments(trace)
        else:
            assert trace.opacity < 0.5
            got["faded"] += _segments(trace)
    assert got == expected
    assert expected["negative"] and expected["positive"] and (expected["faded"] > 0) == (run == "dropout")
    legend = sorted(t.name for t in fig.data if t.showlegend is not False and t.name in ("positive weight", "negative weight"))
    assert legend == ["negative weight", "positive weight"]


def test_edge_width_grows_with_the_share_of_the_layers_largest_weight():
    # One hidden unit: the edges are x1 -> h (1.0), x2 -> h (-0.2), h -> class 0 (0.5), h -> class 1 (-0.9).
    snap = _snapshot((2, 1, 2))
    weights = ([[1.0, -0.2]], [[0.5], [-0.9]])
    params = tuple(LayerParams(frozen(np.array(w, np.float32)), frozen(np.zeros(len(w), np.float32))) for w in weights)
    snap = Snapshot(**{**snap.__dict__, "params": {run: params for run in RUN_NAMES}})
    fig = network_figure(snap, "twin")
    widths = {}
    for shape in _edge_traces(fig):
        for x0, y0, _, y1 in _lines(shape):
            widths[(float(x0), round(float(y0), 4), round(float(y1), 4))] = (shape.name, shape.line.width)
    top, bottom = max(y for _, y, _ in widths), min(y for _, y, _ in widths)
    thin, mid, thick = THEME.edge_widths
    assert widths[(0.0, top, 0.0)] == ("positive weight", thick)  # 1.0 of max 1.0
    assert widths[(0.0, bottom, 0.0)] == ("negative weight", thin)  # 0.2 of 1.0
    assert widths[(1.0, 0.0, top)] == ("positive weight", mid)  # 0.5 of 0.9
    assert widths[(1.0, 0.0, bottom)] == ("negative weight", thick)  # 0.9 of 0.9


def test_network_layout_is_themeable_and_keeps_zoom():
    fig = network_figure(_snapshot((2, 5, 2)))
    layout = fig.layout
    assert layout.height == THEME.network_height
    assert layout.paper_bgcolor == THEME.transparent and layout.plot_bgcolor == THEME.transparent
    assert layout.font.color is None and layout.title.text is None
    assert layout.xaxis.visible is False and layout.yaxis.visible is False
    texts = {a.text for a in layout.annotations}
    assert {"x1", "x2", "class 0", "class 1"} <= texts
    assert {t.name for t in fig.data} >= {"kept neuron", "dropped this step", "positive weight", "negative weight"}
    # Same shape, new weights: the same traces in the same order, so the page can update in place.
    other = network_figure(_snapshot((2, 5, 2), seed=9))
    assert [t.name for t in other.data] == [t.name for t in fig.data] and other.layout.uirevision == layout.uirevision


# --- curves -------------------------------------------------------------------------------------


def _curves(e=6, events=(), **twin_arrays):
    history = History(runs={"dropout": _run_history(e), "twin": _run_history(e, offset=-0.1, **twin_arrays)}, events=events)
    return history, curves_figure(history)


def _ys(fig, name):
    return [np.asarray(t.y, dtype=float) for t in fig.data if t.name == name]


def test_one_line_per_run_and_split_in_each_subplot_run_by_colour_split_by_dash():
    history, fig = _curves()
    for run, label in (("dropout", "dropout"), ("twin", "twin")):
        h = history.runs[run]
        for split, loss, acc in (("train", h.train_loss, h.train_acc), ("validation", h.val_loss, h.val_acc)):
            traces = [t for t in fig.data if t.name == f"{label} · {split}"]
            assert [(t.xaxis, t.yaxis) for t in traces] == [("x", "y"), ("x2", "y2")]
            assert np.allclose(traces[0].y, loss) and np.allclose(traces[1].y, acc)
            assert traces[0].x is None and (traces[0].x0, traces[0].dx) == (1, 1)  # epoch i + 1 at point i
            assert {t.line.dash for t in traces} == {"dash" if split == "train" else "solid"}
            assert {t.line.color for t in traces} == {THEME.run_color(run)}
            assert sum(t.showlegend is not False for t in traces) == 1


def test_gap_band_fills_between_train_and_validation_loss():
    history, fig = _curves()
    for run, name in (("dropout", "gap (dropout)"), ("twin", "gap (twin)")):
        data = list(fig.data)
        filled = [i for i, t in enumerate(data) if t.name == name and t.fill == "tonexty"]
        assert len(filled) == 1
        band, base = data[filled[0]], data[filled[0] - 1]
        assert base.name == name and base.fill in (None, "none")
        # No legend row of its own (a fitted view's short legend has room for few): it toggles with its validation lines.
        assert band.showlegend is False and base.showlegend is False
        assert band.legendgroup == base.legendgroup == _trace(fig, f"{run} · validation").legendgroup
        assert np.allclose(base.y, history.runs[run].train_loss) and np.allclose(band.y, history.runs[run].val_loss)
    fills = {t.fillcolor for t in fig.data if t.fill == "tonexty"}
    assert len(fills) == 2, "each run's band has its own tint"


def test_best_epoch_marked_and_optimized_loss_drawn():
    history, fig = _curves(e=8)
    for run in ("dropout", "twin"):
        marker = _trace(fig, f"{run} · best validation")
        best = history.runs[run].best_epoch
        assert list(marker.x) == [best] and np.isclose(marker.y[0], history.runs[run].val_loss[best - 1])
        assert marker.marker.symbol in ("star", "diamond")
    optimized = _trace(fig, "dropout · with masks")
    assert np.allclose(optimized.y, history.runs["dropout"].optimized_loss)
    assert optimized.line.dash == "dot" and optimized.xaxis == "x"


def test_one_vertical_line_per_event_in_each_subplot():
    events = (Event(2.5, "dropout off"), Event(4.25, "p 0.5 -> 0.3"))
    _, fig = _curves(events=events)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    for xref in ("x", "x2"):
        assert sorted(s.x0 for s in lines if s.xref == xref) == [2.5, 4.25]
        assert all(s.x0 == s.x1 and s.line.dash == "dot" for s in lines)
    texts = {a.text for a in fig.layout.annotations}
    assert {"dropout off", "p 0.5 -> 0.3"} <= texts


def test_events_from_the_engine_become_lines():
    trainer = _trained(steps=7)
    trainer.set_dropout(False, (0.5, 0.5), 0.5)
    for _ in range(5):
        trainer.step()
    history = trainer.snapshot(BOUNDARY_GRID).history
    assert len(history.events) == 1
    fig = curves_figure(history)
    assert sorted(s.x0 for s in fig.layout.shapes if s.xref == "x") == [history.events[0].epoch]


def test_non_finite_values_become_gaps_and_never_raise():
    bad = np.array([0.9, np.nan, np.inf, -np.inf, 0.3, 1e300])
    _, fig = _curves(e=6, train_loss=bad, val_loss=bad[::-1].copy(), optimized_loss=bad)
    for trace in fig.data:
        y = np.asarray(trace.y, dtype=float)
        assert not np.isinf(y).any(), trace.name
    twin_train = _ys(fig, "twin · train")[0]
    assert np.isnan(twin_train[[1, 2, 3, 5]]).all() and np.isclose(twin_train[[0, 4]], [0.9, 0.3]).all()
    marker = _trace(fig, "twin · best validation")
    assert list(marker.x) == [2]  # val = bad reversed: finite minimum 0.3 at epoch 2
    fig.to_json()  # serializable


def test_diverged_run_with_shorter_arrays():
    history = History(runs={"dropout": _run_history(9), "twin": _run_history(4)}, events=(Event(6.0, "dropout off"),))
    fig = curves_figure(history)
    for trace in fig.data:
        assert trace.x is None or len(trace.x) == len(trace.y)  # no x: the points are epochs 1, 2, ... (x0, dx)
    assert len(_ys(fig, "twin · validation")[0]) == 4 and len(_ys(fig, "dropout · validation")[0]) == 9


@pytest.mark.parametrize("epochs", [0, 1, 300])
def test_the_epoch_axes_always_autorange_from_zero_so_a_reset_cannot_pin_them(epochs):
    # An explicit range in any frame stays on screen through the fixed uirevision (the curves froze after Reset).
    fig = curves_figure(History(runs={name: _run_history(epochs) for name in RUN_NAMES}, events=()))
    assert all(len(t.y) == epochs for t in fig.data if t.name and "best" not in t.name and t.name != "epoch span")
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert axis.range is None and axis.autorange is True
    spans = [t for t in fig.data if t.name == "epoch span"]
    assert sorted(t.xaxis for t in spans) == ["x", "x2"] and all(tuple(t.x) == (0, MIN_EPOCH_SPAN) for t in spans)
    fig.to_json()


def test_a_diverged_run_says_so_where_its_curves_are_missing():
    history = History(
        runs={"dropout": _run_history(0, status="diverged at epoch 1"), "twin": _run_history(0, status="diverged at epoch 1")}, events=()
    )
    texts = " ".join(a.text for a in curves_figure(history).layout.annotations)
    assert "with dropout: diverged at epoch 1" in texts and "no-dropout twin: diverged at epoch 1" in texts
    assert "learning rate" in texts
    healthy = " ".join(a.text for a in curves_figure(History(runs={n: _run_history(5) for n in RUN_NAMES}, events=())).layout.annotations)
    assert "diverged" not in healthy


def test_curves_legend_horizontal_at_bottom_and_float32():
    _, fig = _curves()
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0
    assert fig.layout.font.color is None
    for trace in fig.data:
        assert np.asarray(trace.y).dtype == np.float32, trace.name


# --- boundary -----------------------------------------------------------------------------------


def _decode_png(uri: str) -> np.ndarray:
    """A data URI of an 8-bit RGBA PNG with filter 0 on every row (what dropviz.figures.raster writes) -> (h, w, 4) uint8."""
    body = base64.b64decode(uri.removeprefix("data:image/png;base64,"))
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(body):
        (length,), kind = struct.unpack(">I", body[at : at + 4]), body[at + 4 : at + 8]
        chunks[kind] = chunks.get(kind, b"") + body[at + 8 : at + 8 + length]
        assert struct.unpack(">I", body[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + body[at + 8 : at + 8 + length])
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 6)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + 4 * width)
    assert not rows[:, 0].any()
    return rows[:, 1:].reshape(height, width, 4)


def test_boundary_images_equal_the_grid():
    trainer = _trained(steps=6)
    snap = trainer.snapshot(BOUNDARY_GRID)
    fig = boundary_figure(snap, trainer.data)
    maps = fig.layout.images[:2]
    assert [m.name for m in maps] == [f"P(class 1), {display_name(r)}" for r in RUN_NAMES]
    cell = snap.grid_axis[1] - snap.grid_axis[0]
    for image, run, axis in zip(maps, RUN_NAMES, ("x", "x2")):
        rgba = _decode_png(image.source)[::-1]  # row 0 at the bottom, as the grid
        proba = snap.grid_proba[run]
        assert rgba.shape == (*proba.shape, 4)
        expected_alpha = np.rint(np.abs(2 * proba - 1) * THEME.boundary_alpha * 255)
        assert np.abs(rgba[..., 3].astype(int) - expected_alpha).max() <= 1
        high = np.array([int(THEME.class_colors[1][i : i + 2], 16) for i in (1, 3, 5)])
        assert (rgba[proba > 0.5][:, :3] == high).all() and not (rgba[proba < 0.5][:, :3] == high).all(axis=1).any()
        assert image.xref == axis and image.layer == "below" and image.sizing == "stretch"
        assert math.isclose(image.x, snap.grid_axis[0] - cell / 2, abs_tol=1e-6)
        assert math.isclose(image.y, snap.grid_axis[-1] + cell / 2, abs_tol=1e-6)
        assert math.isclose(image.sizex, snap.grid_axis[-1] - snap.grid_axis[0] + cell, abs_tol=1e-6)
    assert not [t for t in fig.data if t.type == "heatmap"]  # a frame must not change a trace
    titles = {a.text for a in fig.layout.annotations}
    assert {"with dropout", "no-dropout twin"} <= titles


def test_boundary_traces_do_not_change_from_frame_to_frame():
    trainer = _trained(steps=2)
    before = boundary_figure(trainer.snapshot(BOUNDARY_GRID), trainer.data)
    for _ in range(5):
        trainer.step()
    after = boundary_figure(trainer.snapshot(BOUNDARY_GRID), trainer.data)

    def traces(fig):
        return json.dumps(fig.to_plotly_json()["data"], cls=PlotlyJSONEncoder)

    assert traces(before) == traces(after)
    assert [i.source for i in before.layout.images[:2]] != [i.source for i in after.layout.images[:2]]


def test_boundary_points_flipped_labels_and_tracked_ring():
    trainer = _trained(steps=6, label_noise=0.3, n_val=30)
    snap, data = trainer.snapshot(BOUNDARY_GRID), trainer.data
    assert data.flipped_train.any() and snap.tracked_index is not None
    fig = boundary_figure(snap, data)
    for axis in ("x", "x2"):
        panel = [t for t in fig.data if t.xaxis == axis and t.type == "scatter"]
        by_name = {t.name: t for t in panel}
        for split, x, y in (("train", data.x_train, data.y_train), ("validation", data.x_val, data.y_val)):
            for label in (0, 1):
                trace = by_name[f"{split} · class {label}"]
                assert np.allclose(trace.x, x[y == label, 0], atol=1e-6) and np.allclose(trace.y, x[y == label, 1], atol=1e-6)
                assert trace.marker.color == THEME.class_colors[label]
        assert "open" in by_name["validation · class 0"].marker.symbol and "open" not in by_name["train · class 0"].marker.symbol
        assert by_name["validation · class 1"].marker.size < by_name["train · class 1"].marker.size
        flipped = by_name["flipped label"]
        assert np.allclose(flipped.x, data.x_train[data.flipped_train, 0], atol=1e-6)
        assert by_name["tracked example"].x[0] > EXTENT[1]  # a legend entry only, outside the square
        legend_ring = by_name["tracked example"].marker  # black on its yellow halo: it reads on a dark page too
        assert (legend_ring.color, legend_ring.line.color) == (THEME.tracked_halo, THEME.tracked)
    rings = [image for image in fig.layout.images if image.name == "tracked example"]
    assert [r.xref for r in rings] == ["x", "x2"] and all(r.visible for r in rings)
    for ring in rings:
        assert np.allclose([ring.x, ring.y], data.x_train[snap.tracked_index], atol=1e-6)
        assert (ring.xanchor, ring.yanchor, ring.layer) == ("center", "middle", "above")
        alpha = _decode_png(ring.source)[..., 3]
        assert alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] == 0 and alpha.max() == 255  # a ring, not a disc
    assert sum(t.showlegend is not False for t in fig.data if t.name == "tracked example") == 1


def test_boundary_without_tracked_example_and_square_axes():
    trainer = Trainer(RunConfig(n_train=40, hidden=(5, 3), p=(0.5, 0.5), epochs=3, batch_size=8))
    snap = trainer.snapshot(BOUNDARY_GRID)
    assert snap.tracked_index is None
    fig = boundary_figure(snap, trainer.data)
    assert not any(image.visible for image in fig.layout.images if image.name == "tracked example")
    layout = fig.layout
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis2.scaleanchor == "x2"
    for axis in (layout.xaxis, layout.yaxis, layout.xaxis2, layout.yaxis2):
        assert tuple(axis.range) == EXTENT
    assert layout.height == THEME.boundary_height and layout.paper_bgcolor == THEME.transparent


def test_display_name():
    assert display_name("dropout") == "with dropout"
    assert display_name("twin") == "no-dropout twin"


def test_theme_colours_are_hex_or_rgba():
    styles = {"run_symbols", "split_dash", "weight_dash", "sequential_scale"}  # names plotly.js knows, not colours
    for name, value in THEME.__dict__.items():
        for colour in value if isinstance(value, tuple) else (value,):
            if isinstance(colour, str) and name not in styles:
                assert colour.startswith(("#", "rgba(")), name
    assert math.isclose(THEME.boundary_scale[0][0], 0) and math.isclose(THEME.boundary_scale[-1][0], 1)


def test_every_figure_passes_plotlys_property_checks():
    # The builders skip Plotly's checks for speed (figures.theme._figure); here each figure goes through them.
    trainer = _trained(steps=4)
    snap = trainer.snapshot(BOUNDARY_GRID)
    built = [
        network_figure(snap),
        boundary_figure(snap, trainer.data),
        curves_figure(snap.history),
        network_figure(_snapshot((2, 40, 40, 2))),
    ]
    for fig in built:
        checked = go.Figure(fig.to_plotly_json())  # raises ValueError on any unknown property or bad value
        assert len(checked.data) == len(fig.data)


def test_long_curves_keep_every_buckets_extremes_and_stay_short():
    rng = np.random.default_rng(0)
    values = rng.normal(size=5000).astype(np.float32)
    values[1234] = 9.0  # a spike
    values[3000:3100] = np.nan  # a diverged stretch
    e = 5000
    history = History(runs={run: _run_history(e, val_loss=values) for run in RUN_NAMES}, events=())
    fig = curves_figure(history)
    validation = next(t for t in fig.data if t.name == "dropout · validation" and t.xaxis == "x")
    x, y = np.asarray(validation.x), np.asarray(validation.y)
    assert len(x) <= 2 * CURVE_BUCKETS and np.all(np.diff(x) > 0)
    assert np.array_equal(y, values[x.astype(int) - 1], equal_nan=True)  # each point drawn at its own epoch
    assert 1235 in x and np.nanmin(y) == np.nanmin(values)
    assert np.isnan(y[(x > 3000) & (x <= 3100)]).all() and ((x > 3000) & (x <= 3100)).any()  # the gap stays a gap
    short = next(
        t for t in curves_figure(History(runs={r: _run_history(50) for r in RUN_NAMES}, events=())).data if t.name == "dropout · validation"
    )
    assert short.x is None and (short.x0, short.dx) == (1, 1) and len(short.y) == 50  # every epoch, at its own x


def test_long_curves_cut_together_are_each_cut_as_if_alone():
    rng = np.random.default_rng(1)
    spiky, smooth, other = rng.normal(size=900), np.linspace(0, 1, 900), rng.normal(size=700)
    spiky[10:40] = np.nan
    together = _curves_points(spiky, smooth, other)  # two series of one length in one pass, a third of another
    alone = [_curves_points(series)[0] for series in (spiky, smooth, other)]
    for a, b in zip(together, alone):
        assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["y"], b["y"], equal_nan=True)
    assert len(together[1]["x"]) == 2 * CURVE_BUCKETS  # a rising line: each bucket's first and last epoch


def _mapped(units: int = 4):
    trainer = _trained(steps=5)
    return trainer, with_maps(trainer.snapshot(BOUNDARY_GRID), 8, units)


def _dropped_in_images(images) -> set[str]:
    """The neurons the maps show dropped: "c:u" after "dropped this step" in each column image's name."""
    return {
        word for image in images if "dropped this step" in image["name"] for word in image["name"].split("dropped this step")[1].split()
    }


def test_neuron_maps_are_one_image_per_column_with_a_tile_per_drawn_neuron():
    trainer, snap = _mapped(units=4)
    plain = network_figure(trainer.snapshot(BOUNDARY_GRID)).layout.images  # no maps asked for: plain circles
    assert [image.name for image in plain] == ["edges"]
    for run in RUN_NAMES:
        spec = network_spec(snap, run)
        fig = go.Figure(spec)
        images = spec["layout"]["images"][:-1]  # the last is the edges
        assert [image["name"].split()[3] for image in images] == [str(c) for c in range(len(trainer.sizes))]  # "maps of column c"
        shown = [2, *(min(4, units) for units in trainer.sizes[1:-1]), 2]
        nodes = _trace(fig, "neuron")  # one unseen marker per neuron, for hover and click; the maps show the state
        assert len(nodes.x) == sum(shown) and list(_trace(fig, "kept neuron").x) == [-10.0]
        for image, count in zip(images, shown):
            pixels = _decode_png(image["source"])
            assert pixels.shape[1] == 8 and pixels.shape[0] % count == 0 and pixels.shape[0] >= 8 * count  # a slot per node
        dropped = {f"{c}:{u}" for c, mask in enumerate(snap.masks) for u in np.flatnonzero(~mask) if u < 4}
        assert _dropped_in_images(images) == (dropped if run == "dropout" else set())


def test_a_dropped_neurons_map_is_grey_and_crossed_and_comes_back_when_kept():
    _, snap = _mapped(units=4)
    hidden_keep = np.ones(snap.sizes[1], dtype=bool)
    kept = dataclasses.replace(snap, masks=(np.ones(2, bool), hidden_keep, *snap.masks[2:]))
    hidden_keep = hidden_keep.copy()
    hidden_keep[1] = False
    dropped = dataclasses.replace(snap, masks=(np.ones(2, bool), hidden_keep, *snap.masks[2:]))
    image = 1  # the column of hidden 1; its unit 1 is the second tile

    def pixels(spec):
        sprite = _decode_png(spec["layout"]["images"][image]["source"])
        slot = sprite.shape[0] // 4
        top = slot + (slot - 8) // 2
        return sprite[top : top + 8]

    on, off = pixels(network_spec(kept)), pixels(network_spec(dropped))
    assert not np.array_equal(on, off)
    assert (off[..., 0] == off[..., 1]).all() and (off[..., 1] == off[..., 2]).all()  # grey
    assert (off[np.arange(8), np.arange(8), :3] == raster.hex_rgb(THEME.dropped)).all()  # crossed corner to corner
    assert network_spec(kept)["layout"]["images"][image] == network_spec(kept, "dropout")["layout"]["images"][image]
    twin = network_spec(dropped, "twin")["layout"]["images"][image]  # the twin never drops
    assert twin["source"] != network_spec(dropped)["layout"]["images"][image]["source"]


def test_a_neuron_up_close_shows_both_runs_maps_and_its_incoming_weights():
    trainer = _trained(steps=5)
    snap = trainer.snapshot(BOUNDARY_GRID)
    view = closeup(snap, 1, 2, 12)
    fig = go.Figure(neuron_spec(view, len(snap.params["dropout"])))
    assert [image.xref for image in fig.layout.images] == ["x", "x2"]  # dropout left, twin right
    pixels = [_decode_png(image.source) for image in fig.layout.images]
    assert all(p.shape == (12, 12, 4) and (p[..., 3] == 255).all() for p in pixels)
    bars = [trace for trace in fig.data if trace.type == "bar"]
    assert [list(bar.x) for bar in bars] == [["x1", "x2"]] * 2
    np.testing.assert_allclose(bars[1].y, snap.params["twin"][0].weight[2], rtol=1e-6)
    assert "hidden 1 · unit 2" in fig.layout.title.text
    output = go.Figure(neuron_spec(closeup(snap, 3, 0, 12), 3))
    assert "output" in output.layout.title.text and "P(class 1)" in output.layout.title.text


def test_class_map_is_the_probability_map_for_two_classes_and_colours_the_likeliest_of_more():
    rng = np.random.default_rng(0)
    p1 = rng.uniform(0, 1, (6, 6)).astype(np.float32)
    p1[np.abs(p1 - 0.5) < 0.01] = 0.9  # away from the tie, where the two pick different (invisible) colours
    two = raster.class_map(np.stack([1 - p1, p1], axis=-1), THEME.class_palette, 0.6)
    assert np.abs(two.astype(int) - raster.probability_map(p1, *THEME.class_colors, 0.6).astype(int)).max() <= 1
    logits = rng.normal(size=(6, 6, 4)) * 3
    proba = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    proba[0, 0] = np.nan  # a diverged cell is transparent
    rgba = raster.class_map(proba, THEME.class_palette, 0.6)[::-1]  # row 0 at the bottom, as the grid
    palette = np.array([raster.hex_rgb(c) for c in THEME.class_palette[:4]])
    finite = np.isfinite(proba).all(axis=-1)
    assert (rgba[finite][:, :3] == palette[proba[finite].argmax(axis=-1)]).all() and rgba[0, 0, 3] == 0
    expected = np.rint((proba.max(axis=-1) - 0.25) / 0.75 * 0.6 * 255)
    assert np.abs(rgba[finite][:, 3].astype(int) - expected[finite]).max() <= 1


def test_a_boundary_of_three_classes_shows_each_class_and_the_likeliest_class_map():
    data = SimpleNamespace(
        x_train=np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 1.0]]), y_train=np.array([0, 1, 2]), flipped_train=np.zeros(3, bool),
        x_val=np.array([[0.5, 0.5], [-0.5, 0.5], [0.2, -1.0]]), y_val=np.array([2, 1, 0]), classes=3,
    )  # fmt: skip
    axis = np.linspace(*EXTENT, 5)
    proba = {run: frozen(np.full((5, 5, 3), 1 / 3, np.float32)) for run in RUN_NAMES}
    snapshot = SimpleNamespace(grid_axis=axis, grid_proba=proba, tracked_index=1)
    fig = boundary_figure(snapshot, data)
    assert [m.name for m in fig.layout.images[:2]] == [f"likeliest class, {display_name(r)}" for r in RUN_NAMES]
    names = [t.name for t in fig.data if t.showlegend]
    assert [f"train · class {c}" for c in range(3)] + [f"validation · class {c}" for c in range(3)] == names[:6]
    colours = {t.name: t.marker.color for t in fig.data if t.name.startswith("train")}
    assert colours["train · class 2"] == THEME.class_palette[2] != THEME.class_palette[1]


def test_a_network_of_three_classes_names_every_output_and_maps_each_class_in_its_colour():
    weights = [np.full((1, 2, 4), 0.5), np.full((1, 4, 3), 0.1)]
    biases = [np.zeros((1, 4)), np.array([[0.0, 1.0, 2.0]])]  # class 2 the likeliest everywhere
    params = {run: tuple(LayerParams(frozen(w[0].T), frozen(b[0])) for w, b in zip(weights, biases)) for run in RUN_NAMES}
    snapshot = dataclasses.replace(_trained(steps=1).snapshot(8), sizes=(2, 4, 3), params=params, masks=())
    fig = go.Figure(network_spec(with_maps(snapshot, 6, 4)))
    labels = {a.text for a in fig.layout.annotations}
    assert {"x1", "x2", "class 0", "class 1", "class 2"} <= labels
    output = next(image for image in fig.layout.images if image.name.startswith("maps of column 2"))
    sprite = _decode_png(output.source)  # three tiles, top to bottom: class 0, 1, 2
    palette = [np.array(raster.hex_rgb(c)) for c in THEME.class_palette[:3]]
    centre = [sprite[(2 * k + 1) * len(sprite) // 6, sprite.shape[1] // 2, :3].astype(int) for k in range(3)]
    # each tile tints the white background towards its own class's colour, most strongly for the likeliest class
    tint = [np.abs(255 - c).sum() for c in centre]
    assert tint[2] > tint[1] > tint[0]
    assert np.abs(centre[2] - palette[2]).sum() < np.abs(centre[2] - palette[1]).sum()  # class 2's colour, not class 1's


def test_for_projector_enlarges_every_size_of_type_a_figure_sets_or_leaves_to_the_page():
    spec = {
        "data": [],
        "layout": {
            "height": 300,
            "title": {"text": "hidden 1 · unit 0"},
            "margin": {"t": 60, "b": 10},
            "legend": {"font": {"size": 10}},
            "legend2": {"font": {"size": 10}},
            "annotations": [{"text": "a", "font": {"size": 10}}, {"text": "b"}],
            "xaxis": {"title": "epoch"},
            "yaxis2": {"tickfont": {"size": 10}, "title": {"text": "loss", "font": {"size": 11}}},
        },
    }
    layout = for_projector(spec)["layout"]
    go.Figure(spec)  # still a figure Plotly accepts
    assert layout["height"] == 450 and layout["font"]["size"] == 1.5 * THEME.font_size
    assert layout["title"]["font"]["size"] == 18 and layout["margin"] == {"t": 90, "b": 10}  # the title's room grows with it
    assert layout["legend"]["font"]["size"] == layout["legend2"]["font"]["size"] == 15
    assert layout["annotations"] == [{"text": "a", "font": {"size": 15}}, {"text": "b"}]  # "b" follows the page's font
    assert layout["xaxis"] == {"title": {"text": "epoch", "font": {"size": 18}}, "tickfont": {"size": 18}}
    assert layout["yaxis2"] == {"tickfont": {"size": 15}, "title": {"text": "loss", "font": {"size": 16.5}}}
