"""Pure figure builders: frozen records -> Plotly figures (network graph, curves, decision boundary).

Each figure comes two ways: *_spec, the figure as a plain dict as plotly.js takes it, made without
Plotly's object model (what the live page sends: a frame's three figures took 18 ms as go.Figure
objects, even unvalidated); and *_figure, the same spec as a checked go.Figure (tests, other uses).

Not here: model calls, metrics, anything random or stateful. Every number drawn was computed by the
engine and arrives in a Snapshot, History or Dataset; these functions only choose where and how to
draw it. One THEME holds every colour, width and font size. Figures read right on light and dark
page themes: transparent backgrounds, mid-tone colours, and text colour left to the template.
Each builder always returns the same traces in the same order (empty when there is nothing to
draw), so the page can update a figure in place and the browser keeps zoom (uirevision).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from . import raster
from .core.data import EXTENT, Dataset
from .core.records import RUN_NAMES, History, RunHistory, Snapshot


@dataclass(frozen=True)
class Theme:
    """Every colour, width and size the figures use, one meaning per colour across the page and the Experiments tab.

    Okabe-Ito colours (safe for colour-blind readers): classes are vermillion / blue, the two runs bluish green
    (dropout) / reddish purple (twin); train vs validation is line style (dashed / solid), never colour; weight
    signs are line style too (solid / dotted) in a neutral grey. Shapes repeat each meaning for readers without colour.
    """

    class_colors: tuple[str, str] = ("#D55E00", "#0072B2")  # class 0 vermillion, class 1 blue: points and boundaries
    run_colors: tuple[str, str] = ("#009E73", "#CC79A7")  # dropout bluish green, twin reddish purple: curves, bands, runs
    run_symbols: tuple[str, str] = ("star", "diamond")  # each run's best-validation marker
    split_dash: tuple[tuple[str, str], ...] = (("train", "dash"), ("validation", "solid"))  # the split is line style
    train_width: float = 1.6  # training lines thinner than validation ones: a second cue besides the dash
    curve_width: float = 2.4  # validation lines
    weight: str = "#8C8C8C"  # every edge: grey reads on light and dark pages and means no class or run
    weight_dash: tuple[str, str] = ("solid", "dot")  # positive, negative weight
    faded_opacity: float = 0.15  # edges of a switched-off neuron
    edge_widths: tuple[float, float, float] = (0.6, 1.6, 3.2)  # |w| / layer max in [0, 1/3), [1/3, 2/3), [2/3, 1]
    dropped: str = "#8C8C8C"  # a neuron switched off this step: a grey crossed ring (kept neurons wear the run's colour)
    node_line: str = "#7F7F7F"
    node_size_max: float = 16.0  # px; shrinks with the number of nodes per column
    node_size_min: float = 5.0
    gap_alpha: tuple[float, float] = (0.22, 0.18)  # the runs' gap bands, in their run colours
    optimized: str = "#8C8C8C"  # the with-masks loss: faint, thin, dotted
    optimized_width: float = 1.0
    optimized_opacity: float = 0.8
    best_marker_size: float = 13.0
    event_line: str = "#8C8C8C"
    sequential_scale: str = "Cividis"  # a magnitude (spread, |r|) on a map: no concept's colour, colour-blind safe
    # P(class 1) -> colour: class 0 tint, transparent at 0.5, class 1 tint. Stops repeat at 0.5 so each
    # half fades its own colour rather than passing through grey.
    boundary_scale: tuple[tuple[float, str], ...] = (
        (0.0, "rgba(213, 94, 0, 0.60)"),
        (0.5, "rgba(213, 94, 0, 0.0)"),
        (0.5, "rgba(0, 114, 178, 0.0)"),
        (1.0, "rgba(0, 114, 178, 0.60)"),
    )
    boundary_alpha: float = 0.60  # the live boundary image: the same two tints as boundary_scale, this opaque at 0 and 1
    point_outline: str = "rgba(255, 255, 255, 0.85)"  # separates a point from a region of its own colour
    train_point_size: float = 7.0
    val_point_size: float = 5.0
    val_opacity: float = 0.5
    flipped: str = "#3C3C3C"  # a dark cross with a white edge over a flipped label: reads on both tints and themes
    flipped_size: float = 7.0
    tracked: str = "#000000"  # the tracked example: a thick black ring in a yellow halo, the page's only yellow
    tracked_halo: str = "#F0E442"
    tracked_size: float = 22.0
    tracked_width: float = 3.0
    tracked_ring: float = 0.34  # the boundary's ring around the tracked example: its diameter in data units
    font_size: int = 12
    small_font_size: int = 10
    transparent: str = "rgba(0, 0, 0, 0)"
    network_height: int = 360
    curves_height: int = 330
    boundary_height: int = 360

    def run_color(self, run: str) -> str:
        """'dropout' -> bluish green, anything else (the twin) -> reddish purple."""
        return self.run_colors[0 if run == "dropout" else 1]

    def gap_fill(self, index: int) -> str:
        """The gap band of run index (0 dropout, 1 twin): its run colour, translucent."""
        r, g, b = raster.hex_rgb(self.run_colors[index % 2])
        return f"rgba({r}, {g}, {b}, {self.gap_alpha[index % 2]})"


THEME = Theme()

# Plain dicts: the checks of Plotly's objects run where a *_figure is made, from the spec (tests/test_figures.py).
_scatter = functools.partial(dict, type="scatter")


def _figure(data: list[dict], layout: dict) -> dict:
    return {"data": data, "layout": layout}

_DISPLAY_NAMES = {"dropout": "with dropout", "twin": "no-dropout twin"}  # panel titles
_CURVE_NAMES = {"dropout": "dropout", "twin": "no-dropout twin"}  # legend prefixes: "dropout · train"


def display_name(run: str) -> str:
    """'dropout' -> 'with dropout', 'twin' -> 'no-dropout twin'; any other name unchanged."""
    return _DISPLAY_NAMES.get(run, run)


def float32_gaps(values) -> np.ndarray:
    """float32 copy with every non-finite value (and None) as NaN: Plotly draws a gap there."""
    with np.errstate(all="ignore"):
        out = np.asarray(values, dtype=np.float64).astype(np.float32)  # finite float64 may overflow float32
    out[~np.isfinite(out)] = np.nan
    return out


def rgba(hex_colour: str, alpha: float) -> str:
    """'#D55E00', 0.22 -> 'rgba(213, 94, 0, 0.22)'."""
    r, g, b = raster.hex_rgb(hex_colour)
    return f"rgba({r}, {g}, {b}, {alpha})"


def _base_layout(height: int, uirevision: str, **extra) -> dict:
    return dict(
        height=height,
        paper_bgcolor=THEME.transparent,
        plot_bgcolor=THEME.transparent,
        font={"size": THEME.font_size},  # no colour: the page template picks one for its theme
        uirevision=uirevision,
        **extra,
    )


def _bottom_legend(y: float) -> dict:
    return {"orientation": "h", "x": 0.5, "xanchor": "center", "y": y, "yanchor": "top", "font": {"size": THEME.small_font_size}}


def _note(x: float, y: float, text: str, small: bool = False, **place) -> dict:
    """A text annotation without an arrow; font colour left to the template."""
    note = {"x": x, "y": y, "text": text, "showarrow": False, **place}
    if small:
        note["font"] = {"size": THEME.small_font_size}
    return note


# --- network graph ------------------------------------------------------------------------------

_MAX_GAP = 0.8  # y distance between neighbouring nodes of a short column; the tallest spans [-1, 1]


@dataclass(frozen=True)
class _NetworkLayout:
    """Where every drawn node and edge of one network shape goes. Read-only arrays, cached per shape."""

    shown: tuple[int, ...]  # units drawn per column: min(size, max_nodes), always units 0..shown-1
    col_start: tuple[int, ...]  # offset of each column in the node arrays
    node_x: np.ndarray  # (N,) float32
    node_y: np.ndarray  # (N,) float32
    node_id: np.ndarray  # (N, 2) int32 [column, unit]
    node_text: tuple[str, ...]  # (N,) hover labels
    node_size: float  # px
    edge_x: np.ndarray  # (E, 2) float32 start and end x, layer by layer, (dst, src) order within a layer
    edge_y: np.ndarray  # (E, 2) float32
    edge_segments: tuple[str, ...]  # (E,) each edge as SVG, "M x0,y0L x1,y1": a class's path joins its edges' segments
    edge_src: np.ndarray  # (E,) int32 node index
    edge_dst: np.ndarray  # (E,) int32 node index
    top: float  # y of the highest node


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _column_name(column: int, columns: int) -> str:
    return "input" if column == 0 else "output" if column == columns - 1 else f"hidden {column}"


def _column_header(snapshot: Snapshot, run: str, column: int, columns: int) -> str:
    """'hidden 2', with the drop probability in force when the dropout run drops there: 'hidden 2 (p=0.5)'."""
    name = _column_name(column, columns)
    if run != "dropout" or column == columns - 1:
        return name
    if column == 0:
        p = snapshot.p_input_effective
    else:
        p = snapshot.p_effective[column - 1] if column - 1 < len(snapshot.p_effective) else 0.0
    return f"{name} (p={p:g})" if p > 0 else name


def _unit_name(column: int, unit: int, columns: int) -> str:
    if column == 0:
        return f"x{unit + 1}"
    if column == columns - 1:
        return f"class {unit}"
    return f"unit {unit}"


@functools.lru_cache(maxsize=32)
def _network_layout(sizes: tuple[int, ...], max_nodes: int) -> _NetworkLayout:
    """Node positions and edge endpoints for a network shape; pure, so cached per (sizes, max_nodes)."""
    columns = len(sizes)
    shown = tuple(min(size, max_nodes) for size in sizes)
    # Each column spreads over y in [-1, 1], but short columns keep neighbours at most MAX_GAP apart.
    gaps = [min(2.0 / (count - 1), _MAX_GAP) if count > 1 else _MAX_GAP for count in shown]
    col_start = tuple(int(v) for v in np.cumsum((0,) + shown[:-1]))
    xs, ys, ids, texts = [], [], [], []
    for column, count in enumerate(shown):
        units = np.arange(count)
        xs.append(np.full(count, column, dtype=np.float32))
        ys.append((((count - 1) / 2 - units) * gaps[column]).astype(np.float32))  # unit 0 on top, centred
        ids.append(np.column_stack([np.full(count, column), units]))
        name = _column_name(column, columns)
        texts.extend(f"{name} · {_unit_name(column, unit, columns)}" for unit in range(count))
    node_x, node_y = np.concatenate(xs), np.concatenate(ys)
    src, dst = [], []
    for layer in range(columns - 1):
        n_in, n_out = shown[layer], shown[layer + 1]
        # Edge order matches weight[:n_out, :n_in].ravel(): dst-major, as nn.Linear stores (out, in).
        src.append(col_start[layer] + np.tile(np.arange(n_in), n_out))
        dst.append(col_start[layer + 1] + np.repeat(np.arange(n_out), n_in))
    edge_src = np.concatenate(src).astype(np.int32)
    edge_dst = np.concatenate(dst).astype(np.int32)
    # Nodes get smaller as columns get taller: about 60% of the smallest gap, at ~300 px for 2.5 y units.
    gap_px = min(gaps) * 300 / 2.5
    node_size = float(np.clip(0.6 * gap_px, THEME.node_size_min, THEME.node_size_max))
    edge_x = np.column_stack([node_x[edge_src], node_x[edge_dst]])
    edge_y = np.column_stack([node_y[edge_src], node_y[edge_dst]])
    return _NetworkLayout(
        shown=shown,
        col_start=col_start,
        node_x=_readonly(node_x),
        node_y=_readonly(node_y),
        node_id=_readonly(np.concatenate(ids).astype(np.int32)),
        node_text=tuple(texts),
        node_size=node_size,
        edge_x=_readonly(edge_x),
        edge_y=_readonly(edge_y),
        edge_segments=_edge_segments(edge_x, edge_y),
        edge_src=_readonly(edge_src),
        edge_dst=_readonly(edge_dst),
        top=float(node_y.max()),
    )


def _dropped_nodes(snapshot: Snapshot, run: str, layout: _NetworkLayout) -> np.ndarray:
    """(N,) bool over drawn nodes: switched off in the last step. Only the dropout run has masks."""
    dropped = np.zeros(len(layout.node_x), dtype=bool)
    if run != "dropout":
        return dropped
    for column, keep in enumerate(snapshot.masks[: len(layout.shown) - 1]):  # input, then hidden; never output
        start, count = layout.col_start[column], layout.shown[column]
        dropped[start : start + count] = ~np.asarray(keep, dtype=bool)[:count]
    return dropped


# Edge traces, bottom to top: faded, then thin to thick, positive before negative in each width.
_EDGE_CLASSES = 1 + 2 * len(THEME.edge_widths)


def _edge_classes(snapshot: Snapshot, run: str, layout: _NetworkLayout, dropped: np.ndarray) -> np.ndarray:
    """(E,) class of each drawn edge: 0 if it touches a dropped neuron, else 1 + 2 * width bin + (w < 0)."""
    weights, bins = [], []
    n_bins = len(THEME.edge_widths)
    for layer, params in enumerate(snapshot.params[run]):
        w = np.asarray(params.weight, dtype=np.float32)  # (out, in)
        drawn = w[: layout.shown[layer + 1], : layout.shown[layer]].ravel()
        with np.errstate(all="ignore"):
            largest = np.nanmax(np.abs(w)) if w.size else 0.0
            relative = np.abs(drawn) / largest if np.isfinite(largest) and largest > 0 else np.zeros_like(drawn)
        weights.append(drawn)
        bins.append(np.minimum((np.nan_to_num(relative) * n_bins).astype(np.int64), n_bins - 1))
    w = np.concatenate(weights)
    classes = 1 + 2 * np.concatenate(bins) + (w < 0)
    faded = dropped[layout.edge_src] | dropped[layout.edge_dst]
    return np.where(faded, 0, classes)


def _short(value: float, digits: int) -> str:
    """A path coordinate in as few characters as SVG reads: 0.4000 -> ".4", -0.5 -> "-.5", 1.000 -> "1"."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    text = text.replace("0.", ".", 1) if text.startswith(("0.", "-0.")) else text
    return "0" if text in ("", "-", "-0") else text


def _edge_segments(x: np.ndarray, y: np.ndarray) -> tuple[str, ...]:
    """(E, 2) start and end coordinates -> E SVG lines "M x0,y0L x1,y1", made once per network shape.

    Short numbers (_short): the edges are most of the network's bytes in a frame, 26 characters an edge with fixed
    decimals, about 14 this way."""
    coords = np.column_stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]]).astype(np.float32)
    return tuple(f"M{_short(x0, 3)},{_short(y0, 4)}L{_short(x1, 3)},{_short(y1, 4)}" for x0, y0, x1, y1 in coords.tolist())


def _edge_path(segments: tuple[str, ...], pick: np.ndarray) -> str:
    """The picked edges (pick: (E,) bool) as one SVG path of separate lines: "M x0,y0L x1,y1M ...".

    One path per edge class, as a layout shape: the browser draws a thousand edges as one element
    and redraws nothing else when only they change. As trace segments with gaps, Plotly made and
    styled one element per edge, 50 ms a frame for 2 x 128 neurons in headless Chromium. Joined from
    the layout's cached segments: formatting them every frame took 0.7 ms of the frame's 6.
    """
    return "".join(itertools.compress(segments, pick.tolist()))


def network_figure(snapshot: Snapshot, run: str = "dropout", max_nodes: int = 32) -> go.Figure:
    """network_spec as a checked go.Figure."""
    return go.Figure(network_spec(snapshot, run, max_nodes))


def network_spec(snapshot: Snapshot, run: str = "dropout", max_nodes: int = 32) -> dict:
    """The network of one run: nodes per column, edges dashed by sign (solid positive, dotted negative) and sized by |w|.

    Edges are 7 layout shapes, one SVG path each, always in this order: "touches a dropped neuron"
    (faded), then for each width bin "positive weight" and "negative weight"; an empty class is
    invisible. Traces, always in this order: the legend entries "positive weight" and "negative
    weight", then "kept neuron" and "dropped this step". Node customdata is [[column, unit], ...].
    Only run "dropout" shows this step's masks (snapshot.masks, the tracked example's); edges
    touching a dropped neuron go to the faded shape. A column with more than
    max_nodes units draws units 0..max_nodes-1 and says "+N more not shown" under it (on two lines).
    """
    sizes = tuple(int(v) for v in snapshot.sizes)
    layout = _network_layout(sizes, int(max_nodes))
    columns = len(sizes)
    dropped = _dropped_nodes(snapshot, run, layout)
    classes = _edge_classes(snapshot, run, layout, dropped)

    counts = np.bincount(classes, minlength=_EDGE_CLASSES)
    edges = []  # layout shapes, bottom to top
    for k in range(_EDGE_CLASSES):
        pick = classes == k
        if k == 0:
            line = {"color": THEME.weight, "width": THEME.edge_widths[0]}
            style = {"name": "touches a dropped neuron", "opacity": THEME.faded_opacity}
        else:
            width_bin, negative = divmod(k - 1, 2)
            line = {"color": THEME.weight, "width": THEME.edge_widths[width_bin], "dash": THEME.weight_dash[negative]}
            style = {"name": f"{'negative' if negative else 'positive'} weight", "opacity": 1.0}
        edges.append({"type": "path", "path": _edge_path(layout.edge_segments, pick), "line": line,
                      "xref": "x", "yref": "y", "layer": "below", "visible": bool(counts[k]), **style})
    traces = [  # legend entries only: the edges themselves are shapes
        _scatter(x=[-10.0, -9.0], y=[0.0, 0.0], mode="lines", name=f"{sign} weight", hoverinfo="skip",
                 line={"color": THEME.weight, "width": THEME.edge_widths[1], "dash": dash})
        for sign, dash in zip(("positive", "negative"), THEME.weight_dash)
    ]

    size = layout.node_size
    node_styles = (
        ("kept neuron", {"symbol": "circle", "color": THEME.run_color(run), "size": size, "line": {"color": THEME.node_line, "width": 1}}),
        ("dropped this step", {"symbol": "circle-x-open", "color": THEME.dropped, "size": size, "line": {"width": 2}}),
    )
    for is_dropped, (name, marker) in zip((False, True), node_styles):
        pick = dropped == is_dropped
        text = [t for t, p in zip(layout.node_text, pick) if p]
        traces.append(_scatter(
            x=layout.node_x[pick], y=layout.node_y[pick], customdata=layout.node_id[pick], text=text,
            mode="markers", name=name, marker=marker,
            hovertemplate=f"%{{text}}<br>layer %{{customdata[0]}}, unit %{{customdata[1]}}<br>{name}<extra></extra>",
        ))

    top = layout.top
    notes = []
    for column, (units, count) in enumerate(zip(sizes, layout.shown)):
        notes.append(_note(column, top + 0.1, _column_header(snapshot, run, column, columns), small=True, yanchor="bottom"))
        if units > count:
            notes.append(_note(column, -top - 0.1, f"+{units - count} more<br>not shown", small=True, yanchor="top"))
    for side, column, anchor, names in ((-0.12, 0, "right", ("x1", "x2")), (0.12, columns - 1, "left", ("class 0", "class 1"))):
        start = layout.col_start[column]
        for unit, label in enumerate(names[: layout.shown[column]]):
            notes.append(_note(column + side, float(layout.node_y[start + unit]), label, xanchor=anchor))

    axis = {"visible": False, "showgrid": False, "zeroline": False}
    fig_layout = _base_layout(
        THEME.network_height,
        uirevision=f"network-{sizes}-{max_nodes}",  # a new shape resets the view; updates keep it
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis=dict(axis, range=[-0.6, columns - 0.4]),
        yaxis=dict(axis, range=[-top - 0.35, top + 0.3]),
        showlegend=True,
        legend=_bottom_legend(0.0),
        hovermode="closest",
        annotations=notes,
        shapes=edges,
    )
    return _figure(data=traces, layout=fig_layout)


# --- curves -------------------------------------------------------------------------------------


_AXES = (("x", "y"), ("x2", "y2"))  # (Loss, Accuracy) subplots
_GAP_NAMES = {"dropout": "gap (dropout)", "twin": "gap (twin)"}


MIN_EPOCH_SPAN = 10  # the curves' x axis shows at least epochs 0 to 10: a new run's ticks are whole epochs
CURVE_BUCKETS = 400  # a curve longer than twice this is drawn as each bucket's lowest and highest point


def _curve(values: np.ndarray) -> dict:
    """A per-epoch series -> the trace's points, float32; epochs count from 1: {"x0": 1, "dx": 1, "y": values}, or
    {"x": epochs, "y": values} for a long run.

    Up to 2 x CURVE_BUCKETS epochs every epoch is drawn, at x0 + i dx: the 11 curves' x arrays would be a sixth
    of a frame's bytes. A longer run is cut into CURVE_BUCKETS buckets of consecutive epochs, and each bucket keeps
    its lowest and highest point, in epoch order, at their own epochs: the drawn line keeps every spike and trough
    while the browser redraws at most 800 points per curve each frame (5000 epochs would be 13 x 5000). Gaps (NaN)
    stay gaps.
    """
    values = np.asarray(values, dtype=np.float32)
    n = len(values)
    if n <= 2 * CURVE_BUCKETS:
        return {"x0": 1, "dx": 1, "y": values}
    epochs = np.arange(1, n + 1, dtype=np.float32)
    size = -(-n // CURVE_BUCKETS)  # ceil: every bucket but the last is full
    padded = np.full(size * CURVE_BUCKETS, np.nan, dtype=np.float32)
    padded[:n] = values
    buckets = padded.reshape(CURVE_BUCKETS, size)  # (buckets, size)
    finite = np.isfinite(buckets)
    low = np.argmin(np.where(finite, buckets, np.inf), axis=1)
    high = np.argmax(np.where(finite, buckets, -np.inf), axis=1)
    empty = ~finite.any(axis=1)  # a bucket of gaps keeps one gap
    first, second = np.minimum(low, high), np.maximum(low, high)
    index = np.stack([first, second], axis=1) + (np.arange(CURVE_BUCKETS) * size)[:, None]  # (buckets, 2)
    index[empty] = (np.arange(CURVE_BUCKETS) * size)[empty, None]
    index = np.unique(np.minimum(index.ravel(), n - 1))  # sorted; a bucket whose low is its high gives one point
    return {"x": epochs[index], "y": values[index]}


def _run_curves(run: str, index: int, history: RunHistory | None) -> list[dict]:
    """Gap band, train / validation lines in both subplots, best-epoch marker of one run."""
    label = _CURVE_NAMES.get(run, run)
    colour = THEME.run_color(run)

    def get(name: str) -> np.ndarray:
        return float32_gaps(getattr(history, name)) if history is not None else np.zeros(0, dtype=np.float32)

    train_loss, val_loss = get("train_loss"), get("val_loss")
    gap = {"name": _GAP_NAMES.get(run, f"gap ({run})"), "legendgroup": f"gap-{run}", "mode": "lines",
           "line": {"width": 0}, "hoverinfo": "skip", "xaxis": "x", "yaxis": "y"}
    traces = [
        _scatter(**_curve(train_loss), showlegend=False, **gap),
        _scatter(**_curve(val_loss), fill="tonexty", fillcolor=THEME.gap_fill(index), **gap),
    ]
    for (xaxis, yaxis), names in zip(_AXES, (("train_loss", "val_loss"), ("train_acc", "val_acc"))):
        for (split, dash), name in zip(THEME.split_dash, names):
            values = get(name)
            width = THEME.train_width if split == "train" else THEME.curve_width
            traces.append(_scatter(
                **_curve(values), mode="lines", name=f"{label} · {split}", legendgroup=f"{run}-{split}",
                showlegend=xaxis == "x", line={"color": colour, "width": width, "dash": dash},
                xaxis=xaxis, yaxis=yaxis, hovertemplate="%{y:.3f}",
            ))
    best = None if history is None else _best_epoch(val_loss)
    traces.append(_scatter(
        x=np.array([] if best is None else [best], dtype=np.float32),
        y=np.array([] if best is None else [val_loss[best - 1]], dtype=np.float32),
        mode="markers", name=f"{label} · best validation", xaxis="x", yaxis="y",
        marker={"symbol": THEME.run_symbols[index % 2], "size": THEME.best_marker_size, "color": colour,
                "line": {"color": THEME.node_line, "width": 1}},
        hovertemplate="best validation loss %{y:.3f} at epoch %{x}<extra></extra>",
    ))
    return traces


def _best_epoch(val_loss: np.ndarray) -> int | None:
    """RunHistory.best_epoch on the cleaned array (a hand-built record may hold anything)."""
    finite = np.isfinite(val_loss)
    return int(np.argmin(np.where(finite, val_loss, np.inf))) + 1 if finite.any() else None


def curves_figure(history: History) -> go.Figure:
    """curves_spec as a checked go.Figure."""
    return go.Figure(curves_spec(history))


def curves_spec(history: History) -> dict:
    """Loss and accuracy per epoch of both runs, side by side, measured in evaluation mode.

    Traces per run in RUN_NAMES order: the gap band pair ("gap (dropout)" / "gap (twin)", the second
    filled to the first), "<run> · train" and "<run> · validation" in the Loss subplot and again in
    the Accuracy subplot, "<run> · best validation" (a star, a diamond); then "dropout · optimized (with masks)", and
    an invisible "epoch span" per subplot from epoch 0 to MIN_EPOCH_SPAN, the least each x axis shows.
    The twin's lines are dashed. Each event is a dotted vertical line in both subplots (layout
    shapes), its text once, in the Loss subplot. Non-finite values are drawn as gaps; never raises.
    """
    traces = []
    for index, run in enumerate(RUN_NAMES):
        traces.extend(_run_curves(run, index, history.runs.get(run)))
    dropout = history.runs.get("dropout")
    optimized = float32_gaps(dropout.optimized_loss) if dropout is not None else np.zeros(0, dtype=np.float32)
    traces.append(_scatter(
        **_curve(optimized), mode="lines", name="dropout · optimized (with masks)", xaxis="x", yaxis="y",
        opacity=THEME.optimized_opacity, line={"color": THEME.optimized, "width": THEME.optimized_width, "dash": "dot"},
        hovertemplate="%{y:.3f}",
    ))

    shapes, notes, events = [], [], []
    for n, event in enumerate(history.events):
        x = float(event.epoch)
        if not np.isfinite(x):
            continue
        events.append(x)
        for xaxis, yaxis in _AXES:
            line = {"color": THEME.event_line, "width": 1, "dash": "dot"}
            shapes.append({"type": "line", "xref": xaxis, "yref": f"{yaxis} domain", "x0": x, "x1": x, "y0": 0, "y1": 1, "line": line})
        # Texts of nearby events would overlap: step each one down a row, three rows in turn.
        y = 0.98 - 0.1 * (n % 3)
        notes.append(_note(x, y, str(event.text), small=True, xref="x", yref="y domain", xanchor="left", yanchor="top"))
    for text, xref in (("Loss", "x domain"), ("Accuracy", "x2 domain")):
        notes.append(_note(0.5, 1.0, text, xref=xref, yref="paper", yanchor="bottom"))
    diverged = [f"{display_name(run)}: {h.status}" for run, h in history.runs.items() if h.status != "ok"]
    if diverged:  # its curves stop there, or never start: say why where they are missing
        text = "<br>".join(diverged) + "<br>(learning rate too high?)"
        notes.append(_note(0.5, 0.5, text, xref="x domain", yref="y domain", font={"size": THEME.font_size}))

    # Never an explicit range: plotly.js keeps an axis's range through a fixed uirevision, so a reset run's first frame
    # would pin it. Autorange always, over the "epoch span" traces too (an empty run has nothing else to range over).
    epoch_axis = {"title": {"text": "epoch", "standoff": 4}, "zeroline": False, "autorange": True, "automargin": True}
    for xaxis, yaxis in _AXES:
        traces.append(_scatter(x=np.array([0, MIN_EPOCH_SPAN], np.float32), y=np.zeros(2, np.float32), mode="lines", line={"width": 0}, name="epoch span",
                               showlegend=False, hoverinfo="skip", xaxis=xaxis, yaxis=yaxis))
    fig_layout = _base_layout(
        THEME.curves_height,
        uirevision="curves",
        margin={"l": 50, "r": 10, "t": 30, "b": 10},
        xaxis=dict(epoch_axis, domain=[0.0, 0.45], anchor="y"),
        xaxis2=dict(epoch_axis, domain=[0.55, 1.0], anchor="y2"),
        yaxis={"anchor": "x", "rangemode": "tozero", "zeroline": False, "autorange": True},
        yaxis2={"anchor": "x2", "range": [0.0, 1.02], "zeroline": False, "tickformat": ".0%"},
        legend=_bottom_legend(-0.25),
        hovermode="x unified",
        shapes=shapes,
        annotations=notes,
    )
    return _figure(data=traces, layout=fig_layout)


# --- decision boundary --------------------------------------------------------------------------


def _points(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (n, 2), mask (n,) bool -> float32 coordinates of the chosen points."""
    return float32_gaps(x[mask, 0]), float32_gaps(x[mask, 1])


def _boundary_images(snapshot: Snapshot, tracked_xy: np.ndarray | None) -> list[dict]:
    """Layout images: each run's P(class 1) map under its panel's points, then the tracked example's ring on each panel.

    Images, not traces: a new frame changes only these, and the browser redraws an image without
    redrawing the 1200 data points (dropviz/raster.py).
    """
    axis = np.asarray(snapshot.grid_axis, dtype=np.float64)
    cell = float(axis[1] - axis[0]) if len(axis) > 1 else 1.0
    low, high = THEME.class_colors
    images = []
    for (xaxis, yaxis), run in zip(_AXES, RUN_NAMES):
        proba = snapshot.grid_proba.get(run)
        if proba is None:
            proba = np.full((len(axis), len(axis)), np.nan, dtype=np.float32)
        source = raster.data_uri(raster.png(raster.probability_map(proba, low, high, THEME.boundary_alpha)))
        images.append({  # the grid values are cell centres: the image reaches half a cell beyond them
            "source": source, "name": f"P(class 1), {display_name(run)}", "xref": xaxis, "yref": yaxis,
            "x": float(axis[0]) - cell / 2, "y": float(axis[-1]) + cell / 2, "sizex": float(axis[-1] - axis[0]) + cell,
            "sizey": float(axis[-1] - axis[0]) + cell, "xanchor": "left", "yanchor": "top", "sizing": "stretch", "layer": "below",
        })
    for xaxis, yaxis in _AXES:
        x, y = (float(v) for v in tracked_xy) if tracked_xy is not None else (0.0, 0.0)
        images.append({
            "source": raster.ring(THEME.tracked, halo=THEME.tracked_halo), "name": "tracked example", "xref": xaxis, "yref": yaxis, "x": x, "y": y,
            "sizex": THEME.tracked_ring, "sizey": THEME.tracked_ring, "xanchor": "center", "yanchor": "middle",
            "sizing": "stretch", "layer": "above", "visible": tracked_xy is not None,
        })
    return images


def boundary_figure(snapshot: Snapshot, data: Dataset) -> go.Figure:
    """boundary_spec as a checked go.Figure."""
    return go.Figure(boundary_spec(snapshot, data))


def boundary_spec(snapshot: Snapshot, data: Dataset) -> dict:
    """P(class 1) of both runs on the grid, with the data: "with dropout" left, "no-dropout twin" right.

    The probability maps are layout images (layout.images, one per panel in RUN_NAMES order, then
    the tracked example's ring on each panel), so that a new frame changes no trace.
    Traces per panel: "train · class 0", "train · class 1" (filled), "validation · class 0",
    "validation · class 1" (open, smaller, fainter), "flipped label" (a cross on each training point
    whose label noise flipped), "tracked example" (its legend entry only: the ring is an image).
    Legend entries appear once, from the left panel.
    """
    x_train, y_train = np.asarray(data.x_train), np.asarray(data.y_train)
    x_val, y_val = np.asarray(data.x_val), np.asarray(data.y_val)
    flipped = np.asarray(data.flipped_train, dtype=bool)
    tracked = snapshot.tracked_index
    tracked_xy = x_train[tracked] if tracked is not None and 0 <= tracked < len(x_train) else None

    traces = []
    for panel, _run in enumerate(RUN_NAMES):
        xaxis, yaxis = _AXES[panel]
        first = panel == 0
        for split, x, y, size, opacity, symbol in (
            ("train", x_train, y_train, THEME.train_point_size, 1.0, "circle"),
            ("validation", x_val, y_val, THEME.val_point_size, THEME.val_opacity, "circle-open"),
        ):
            for label in (0, 1):
                px, py = _points(x, y == label)
                line = {"color": THEME.point_outline, "width": 1} if split == "train" else {"width": 1.2}
                traces.append(_scatter(
                    x=px, y=py, mode="markers", name=f"{split} · class {label}", legendgroup=f"{split}-{label}", showlegend=first,
                    marker={"symbol": symbol, "size": size, "color": THEME.class_colors[label], "line": line}, opacity=opacity,
                    xaxis=xaxis, yaxis=yaxis, hovertemplate=f"{split}, label {label}<extra></extra>",
                ))
        fx, fy = _points(x_train, flipped)
        traces.append(_scatter(
            x=fx, y=fy, mode="markers", name="flipped label", legendgroup="flipped", showlegend=first, xaxis=xaxis, yaxis=yaxis,
            marker={"symbol": "x", "size": THEME.flipped_size, "color": THEME.flipped, "line": {"color": THEME.point_outline, "width": 0.8}},
            hovertemplate="training label flipped by label noise<extra></extra>",
        ))
        traces.append(_scatter(  # a legend entry only: one point outside the drawn square
            x=[10 * EXTENT[1]], y=[10 * EXTENT[1]], mode="markers", name="tracked example", legendgroup="tracked", showlegend=first,
            xaxis=xaxis, yaxis=yaxis, hoverinfo="skip",
            marker={"symbol": "circle", "size": THEME.tracked_size, "color": THEME.transparent,
                    "line": {"width": THEME.tracked_width, "color": THEME.tracked}},
        ))

    extent = [float(EXTENT[0]), float(EXTENT[1])]
    square = {"range": extent, "constrain": "domain", "showgrid": False, "zeroline": False, "ticks": "outside", "ticklen": 3,
              "dtick": 1, "automargin": True}
    titles = [_note(0.5, 1.0, display_name(run), xref=f"{xaxis} domain", yref="paper", yanchor="bottom")
              for (xaxis, _), run in zip(_AXES, RUN_NAMES)]
    fig_layout = _base_layout(
        THEME.boundary_height,
        uirevision="boundary",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis=dict(square, domain=[0.0, 0.48], anchor="y"),
        xaxis2=dict(square, domain=[0.52, 1.0], anchor="y2"),
        yaxis=dict(square, anchor="x", scaleanchor="x", scaleratio=1),
        yaxis2=dict(square, anchor="x2", scaleanchor="x2", scaleratio=1),
        legend=_bottom_legend(-0.08),
        hovermode="closest",
        annotations=titles,
        images=_boundary_images(snapshot, tracked_xy),
    )
    return _figure(data=traces, layout=fig_layout)


def for_projector(spec: dict) -> dict:
    """The same figure spec with type and height enlarged by half, for presentation mode. Modifies and returns spec."""
    scale = 1.5
    layout = spec["layout"]
    layout["height"] = int((layout.get("height") or 360) * scale)
    layout["font"] = {**layout.get("font", {}), "size": THEME.font_size * scale}
    for part in [layout.get("legend") or {}, *(layout.get("annotations") or ())]:
        if (part.get("font") or {}).get("size"):
            part["font"] = {**part["font"], "size": part["font"]["size"] * scale}
    return spec
