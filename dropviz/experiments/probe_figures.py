"""Pure figure builders for the probes: probes.py results -> Plotly figures. Only drawing, as dropviz/figures/.

Not here: any network arithmetic or randomness; every number arrives in a result. Colours come from
figures.THEME; backgrounds are transparent and font colour is left to the page template. Maps over
the data square have equal aspect and span data.EXTENT; data points are drawn as figures.boundary.boundary_spec
draws them (training filled, validation open and fainter). Each builder always returns the same traces
in the same order for results of the same shape.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..core.data import EXTENT, Dataset
from ..core.records import RUN_NAMES
from ..figures.theme import THEME, display_name, float32_gaps, rgba
from .probes import InsideResult, McResult, ScalingResult, SubnetResult

RUN_COLORS = THEME.run_colors  # dropout, twin
_PANEL_HEIGHT = 330
_STRIP_HEIGHT = 230


def _layout(height: int, uirevision: str, **extra) -> dict:
    return dict(
        height=height,
        paper_bgcolor=THEME.transparent,
        plot_bgcolor=THEME.transparent,
        font={"size": THEME.font_size},
        uirevision=uirevision,
        **extra,
    )


def _title(text: str, xaxis: str, small: bool = False) -> dict:
    """A panel title above the plot area of xaxis, no arrow, template font colour; each " · " part on a line of its own,
    so that side-by-side panels' titles keep to their panels on a phone."""
    text = text.replace(" · ", "<br>")
    note = {"x": 0.5, "y": 1.0, "xref": f"{xaxis} domain", "yref": "paper", "yanchor": "bottom", "text": text, "showarrow": False}
    if small:
        note["font"] = {"size": THEME.small_font_size}
    return note


def _axis_names(panel: int) -> tuple[str, str]:
    return ("x", "y") if panel == 0 else (f"x{panel + 1}", f"y{panel + 1}")


def _square_panels(count: int, gap: float, ticks: bool = True, per_row: int | None = None, row_gap: float = 0.12) -> dict:
    """Layout axes for `count` square maps over EXTENT (equal aspect): side by side, or in rows of per_row, each row
    below the one before it by row_gap of the plot height (room for its titles)."""
    per_row = per_row or count
    rows = -(-count // per_row)
    width = (1.0 - gap * (per_row - 1)) / per_row
    height = (1.0 - row_gap * (rows - 1)) / rows
    extent = [float(EXTENT[0]), float(EXTENT[1])]
    square = {"range": extent, "constrain": "domain", "showgrid": False, "zeroline": False}
    square.update({"ticks": "outside", "ticklen": 3} if ticks else {"showticklabels": False})
    axes = {}
    for panel in range(count):
        row, column = divmod(panel, per_row)
        xaxis, yaxis = _axis_names(panel)
        start, top = column * (width + gap), 1.0 - row * (height + row_gap)
        axes[xaxis.replace("x", "xaxis")] = dict(square, domain=[start, start + width], anchor=yaxis)
        axes[yaxis.replace("y", "yaxis")] = dict(square, anchor=xaxis, scaleanchor=xaxis, scaleratio=1)
        if rows > 1:
            axes[yaxis.replace("y", "yaxis")]["domain"] = [max(0.0, top - height), top]
    return axes


def _proba_map(axis, z, name: str, xaxis: str, yaxis: str) -> go.Heatmap:
    """P(class 1) on a grid (rows = y) in the boundary figure's colours: class 0 tint, clear at 0.5, class 1 tint."""
    values = float32_gaps(axis)
    return go.Heatmap(
        x=values,
        y=values,
        z=float32_gaps(z),
        zmin=0.0,
        zmax=1.0,
        colorscale=[list(stop) for stop in THEME.boundary_scale],
        showscale=False,
        name=name,
        xaxis=xaxis,
        yaxis=yaxis,
        hovertemplate="x1 %{x:.2f}, x2 %{y:.2f}<br>P(class 1) = %{z:.2f}<extra>" + name + "</extra>",
    )


def _data_traces(data: Dataset, xaxis: str, yaxis: str, first: bool, validation: bool = True, scale: float = 1.0) -> list[go.Scatter]:
    """Traces "train · class 0/1" filled, then (if validation) "validation · class 0/1" open, as in figures.boundary.boundary_spec."""
    splits = [("train", data.x_train, data.y_train, THEME.train_point_size * scale, 1.0, "circle")]
    if validation:
        splits.append(("validation", data.x_val, data.y_val, THEME.val_point_size * scale, THEME.val_opacity, "circle-open"))
    traces = []
    for split, x, y, size, opacity, symbol in splits:
        x, y = np.asarray(x), np.asarray(y)
        for label in (0, 1):
            pick = y == label
            line = {"color": THEME.point_outline, "width": 1} if split == "train" else {"width": 1.2}
            traces.append(
                go.Scatter(
                    x=float32_gaps(x[pick, 0]),
                    y=float32_gaps(x[pick, 1]),
                    mode="markers",
                    name=f"{split} · class {label}",
                    legendgroup=f"{split}-{label}",
                    showlegend=first,
                    opacity=opacity,
                    xaxis=xaxis,
                    yaxis=yaxis,
                    marker={"symbol": symbol, "size": size, "color": THEME.class_colors[label], "line": line},
                    hovertemplate=f"{split}, label {label}<extra></extra>",
                )
            )
    return traces


# A legend's top under an x axis and its title, in plot heights: at -0.2 a phone's wrapped legend covered the title.
_UNDER_TITLE = -0.3


def _legend(y: float) -> dict:
    return {"orientation": "h", "x": 0.5, "xanchor": "center", "y": y, "yanchor": "top", "font": {"size": THEME.small_font_size}}


def _maps_figure(panels: list[tuple[str, go.Heatmap]], data: Dataset, uirevision: str, legend_y: float = -0.08) -> go.Figure:
    """Side-by-side square maps, each with the data points over it; titles from panels."""
    traces, titles = [], []
    for panel, (title, heatmap) in enumerate(panels):
        xaxis, yaxis = _axis_names(panel)
        traces.append(heatmap.update(xaxis=xaxis, yaxis=yaxis))
        traces.extend(_data_traces(data, xaxis, yaxis, first=panel == 0))
        titles.append(_title(title, xaxis, small=True))
    bottom = 10 + int(400 * (-0.08 - legend_y))  # room for what sits between the maps and the legend
    layout = _layout(
        _PANEL_HEIGHT + bottom - 10,
        uirevision,
        margin={"l": 10, "r": 10, "t": 30, "b": bottom},
        legend=_legend(legend_y),
        hovermode="closest",
        annotations=titles,
        **_square_panels(len(panels), 0.04),
    )
    return go.Figure(data=traces, layout=layout)


# --- 1. Monte Carlo dropout ---------------------------------------------------------------------


def mc_figure(result: McResult) -> go.Figure:
    """Three maps: MC mean, MC spread (std), evaluation mode; each followed by its 4 data traces (15 traces).

    The spread map is a magnitude: THEME.sequential_scale from 0 to its largest value, with a colour bar under it.
    """
    largest = float(np.nanmax(result.std)) if np.isfinite(result.std).any() else float("nan")
    # Horizontal colour bar under the middle map, where the three maps leave no room beside it.
    colorbar = {
        "orientation": "h",
        "x": 0.5,
        "xanchor": "center",
        "y": -0.1,  # below the middle map's tick labels
        "yanchor": "top",
        "len": 0.3,
        "thickness": 10,
        # No title of its own (the panel's says "MC spread (std)") and three ticks: on a phone its title beside it had
        # left the bar a third of its length, and more ticks turned on end.
        "nticks": 3,
        "tickangle": 0,
        "tickfont": {"size": THEME.small_font_size},
    }
    spread = go.Heatmap(
        x=float32_gaps(result.grid_axis),
        y=float32_gaps(result.grid_axis),
        z=float32_gaps(result.std),
        zmin=0.0,
        zmax=largest if np.isfinite(largest) and largest > 0 else 0.5,
        colorscale=THEME.sequential_scale,
        showscale=True,
        colorbar=colorbar,
        name="MC spread",
        hovertemplate="x1 %{x:.2f}, x2 %{y:.2f}<br>std of P(class 1) = %{z:.3f}<extra>MC spread</extra>",
    )
    panels = [
        (
            f"MC mean of {result.passes} passes · val loss {result.val_loss_mc:.3f}",
            _proba_map(result.grid_axis, result.mean, "MC mean", "x", "y"),
        ),
        (f"MC spread (std, max {largest:.2f})", spread),
        (
            f"evaluation mode · val loss {result.val_loss_eval:.3f}",
            _proba_map(result.grid_axis, result.eval_proba, "evaluation mode", "x", "y"),
        ),
    ]
    return _maps_figure(panels, result.data, uirevision="probe-mc", legend_y=-0.3)


def mc_convergence_figure(result: McResult) -> go.Figure:
    """Two traces against passes t: "running MC average vs evaluation mode" (mean |difference| over the grid) and
    "sampling noise alone" (result.noise, dotted grey), with a note at the floor the first levels off at.

    The first falls with the noise at first, then levels off above 0: the MC average converges to the expected output
    over masks, which for a nonlinear network is not the evaluation-mode (weight-scaled) output. The noise falls to 0.
    """
    t = np.arange(1, len(result.convergence) + 1, dtype=np.float32)
    traces = [
        go.Scatter(
            x=t,
            y=float32_gaps(result.convergence),
            mode="lines",
            name="mean |running MC average - evaluation mode|",
            line={"color": RUN_COLORS[0], "width": THEME.curve_width},
            hovertemplate="after %{x} passes: %{y:.4f}<extra></extra>",
        ),
        go.Scatter(
            x=t,
            y=float32_gaps(result.noise),
            mode="lines",
            name="sampling noise alone (falls like 1/√t)",
            line={"color": THEME.optimized, "width": THEME.train_width, "dash": "dot"},
            hovertemplate="sampling noise after %{x} passes: %{y:.4f}<extra></extra>",
        ),
    ]
    floor = float(result.convergence[-1]) if len(result.convergence) and np.isfinite(result.convergence[-1]) else None
    notes = [_title("running MC average vs evaluation mode · it levels off above 0", "x")]
    if floor is not None:
        notes.append({"x": float(len(t)), "y": floor, "xref": "x", "yref": "y", "xanchor": "right", "yanchor": "bottom",
                      "text": f"floor {floor:.3f}: the average over masks ≠ the weight-scaled network", "showarrow": False,
                      "font": {"size": THEME.small_font_size}})  # fmt: skip
    layout = _layout(
        THEME.curves_height,
        "probe-mc-convergence",
        margin={"l": 60, "r": 10, "t": 50, "b": 40},  # the title's two lines
        xaxis={"title": {"text": "passes t"}, "zeroline": False, "range": [0.5, max(len(t), 1) + 0.5]},
        yaxis={"title": {"text": "mean |difference| over the grid"}, "rangemode": "tozero", "zeroline": False},
        legend=_legend(_UNDER_TITLE),
        annotations=notes,
    )
    return go.Figure(data=traces, layout=layout)


# --- 2. the scaling lesson ----------------------------------------------------------------------


def scaling_figure(result: ScalingResult) -> go.Figure:
    """Three maps, one per way of evaluating, titled with its validation loss; each with 4 data traces (15)."""
    panels = [
        (f"{way} · val loss {loss:.3f}", _proba_map(result.grid_axis, grid, way, "x", "y"))
        for way, grid, loss in zip(result.ways, result.proba, result.val_loss)
    ]
    return _maps_figure(panels, result.data, uirevision="probe-scaling")


# --- 3. inside the network ----------------------------------------------------------------------


def _run_stats(result: InsideResult, k: int) -> str:
    last = len(result.hidden) - 1
    return (
        f"{display_name(RUN_NAMES[k])}: mean {result.mean_activation[k, last]:.3f}, "
        f"{result.sparsity[k, last]:.0%} near zero, {result.dead_units[k, last]}/{result.hidden[last]} dead"
    )


def _bar_style(k: int) -> dict:
    """The dropout run's bars filled, the twin's outlined only, so that overlapping bars stay readable."""
    if k == 0:
        return {"color": rgba(RUN_COLORS[0], 0.55), "line": {"width": 0}}
    return {"color": THEME.transparent, "line": {"color": RUN_COLORS[k], "width": 1.5}}


def inside_figure(result: InsideResult) -> go.Figure:
    """Histograms of the last hidden layer's activations, both runs overlaid on shared bins (2 bar traces).

    Counts on a log axis: with relu most activations are exactly 0 and would flatten the rest. The
    dropout run's bars are filled, the twin's outlined.
    The statistics of each run (mean, near-zero share, dead units of that layer) are written above.
    """
    edges = np.asarray(result.hist_edges, dtype=np.float64)
    centres, widths = float32_gaps((edges[:-1] + edges[1:]) / 2), float32_gaps(np.diff(edges))
    traces = [
        go.Bar(
            x=centres,
            y=np.asarray(result.hist_counts[k], dtype=np.int64),
            width=widths,
            name=display_name(run),
            marker=_bar_style(k),
            hovertemplate="activation %{x:.3f}: %{y} values (validation points x units)<extra>" + display_name(run) + "</extra>",
        )
        for k, run in enumerate(RUN_NAMES)
    ]
    notes = [
        {
            "x": 0.0,
            "y": 1.0 + 0.09 * (1 - k),
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "bottom",
            "text": _run_stats(result, k),
            "showarrow": False,
            "font": {"size": THEME.small_font_size},
        }
        for k in range(len(RUN_NAMES))
    ]
    layout = _layout(
        THEME.curves_height,
        "probe-inside",
        margin={"l": 60, "r": 10, "t": 50, "b": 40},
        barmode="overlay",
        bargap=0,
        xaxis={
            "title": {"text": f"activation of hidden layer {len(result.hidden)} ({result.activation})"},
            "zeroline": False,
        },
        yaxis={"title": {"text": "count (log scale)"}, "type": "log"},  # of activations (points x units); short titles fit a phone
        legend=_legend(_UNDER_TITLE),
        annotations=notes,
    )
    return go.Figure(data=traces, layout=layout)


def correlation_figure(result: InsideResult) -> go.Figure:
    """Two heatmaps of |r| (Pearson) between the last hidden layer's units: dropout run left, twin right.

    |r| is a magnitude: THEME.sequential_scale from 0 to 1, with a colour bar. Each run's units are ordered by
    result.order (mean |r| with the others, highest first), so the most correlated units gather top left; constant
    units (r undefined) come last, blank. Hover names the real unit numbers and the signed r.
    """
    units = result.correlation.shape[1]
    index = np.arange(units, dtype=np.float32)
    traces, titles, axes = [], [], {}
    gap = 0.1
    width = (1.0 - gap) / 2
    for k, run in enumerate(RUN_NAMES):
        xaxis, yaxis = _axis_names(k)
        order = np.asarray(result.order[k])
        r = np.asarray(result.correlation[k])[np.ix_(order, order)]
        unit = np.broadcast_to(order, (units, units))
        traces.append(
            go.Heatmap(
                x=index,
                y=index,
                z=float32_gaps(np.abs(r)),
                zmin=0.0,
                zmax=1.0,
                colorscale=THEME.sequential_scale,
                name=display_name(run),
                customdata=np.stack([unit.T, unit, float32_gaps(r)], axis=-1),
                showscale=k == len(RUN_NAMES) - 1,
                colorbar={"thickness": 10, "len": 0.8, "title": {"text": "|r|"}},
                xaxis=xaxis,
                yaxis=yaxis,
                hovertemplate="unit %{customdata[0]} vs unit %{customdata[1]}: r = %{customdata[2]:.2f}<extra>"
                + display_name(run)
                + "</extra>",
            )
        )
        live = int(np.isfinite(np.diag(result.correlation[k])).sum())
        titles.append(_title(f"{display_name(run)} · mean |r| {result.mean_abs_correlation[k]:.2f} · {live}/{units} units vary", xaxis,
                             small=True))  # fmt: skip
        start = k * (width + gap)
        axes[xaxis.replace("x", "xaxis")] = {
            "domain": [start, start + width],
            "anchor": yaxis,
            "constrain": "domain",
            "showgrid": False,
            "zeroline": False,
            "title": {"text": "units, by mean |r|"},
        }
        axes[yaxis.replace("y", "yaxis")] = {
            "anchor": xaxis,
            "scaleanchor": xaxis,
            "scaleratio": 1,
            "constrain": "domain",  # as x: square cells by a shorter domain, not a range widened past the units
            "autorange": "reversed",
            "showgrid": False,
            "zeroline": False,
        }
    layout = _layout(
        _PANEL_HEIGHT, "probe-correlation", margin={"l": 10, "r": 10, "t": 45, "b": 40}, annotations=titles, showlegend=False, **axes
    )
    return go.Figure(data=traces, layout=layout)


def robustness_figure(result: InsideResult) -> go.Figure:
    """Validation accuracy against units switched off per hidden layer: per run a band (mean +- std) and the mean.

    Traces per run in RUN_NAMES order: "<run> · +1 std" (no line), "<run> · -1 std" (filled to the one
    before), "<run>" (mean, markers in the run's symbol); 6 in all. Both lines are solid: dashes mean training data.
    """
    k = float32_gaps(result.k_values)
    traces = []
    for r, run in enumerate(RUN_NAMES):
        mean, std = np.asarray(result.robust_mean[r]), np.asarray(result.robust_std[r])
        band = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False, "legendgroup": run}
        traces.append(go.Scatter(x=k, y=float32_gaps(np.minimum(mean + std, 1.0)), name=f"{display_name(run)} · +1 std", **band))
        traces.append(
            go.Scatter(
                x=k,
                y=float32_gaps(np.maximum(mean - std, 0.0)),
                name=f"{display_name(run)} · -1 std",
                fill="tonexty",
                fillcolor=THEME.gap_fill(r),
                **band,
            )
        )
        traces.append(
            go.Scatter(
                x=k,
                y=float32_gaps(mean),
                mode="lines+markers",
                name=display_name(run),
                legendgroup=run,
                line={"color": RUN_COLORS[r], "width": THEME.curve_width},
                marker={"size": 8, "symbol": THEME.run_symbols[r]},
                hovertemplate="k = %{x}: accuracy %{y:.3f}<extra>" + display_name(run) + "</extra>",
            )
        )
    draws = result.robust_acc.shape[2]
    layout = _layout(
        THEME.curves_height,
        "probe-robustness",
        margin={"l": 60, "r": 10, "t": 45, "b": 40},  # the title's two lines
        xaxis={"title": {"text": "units switched off in every hidden layer (k)"}, "zeroline": False},
        yaxis={"title": {"text": "validation accuracy"}, "tickformat": ".0%", "zeroline": False},
        legend=_legend(_UNDER_TITLE),
        hovermode="x unified",
        annotations=[_title(f"random units off at test time, no rescaling · mean and ±1 std of {draws} draws", "x", small=True)],
    )
    return go.Figure(data=traces, layout=layout)


# --- 4. sampled subnetworks ---------------------------------------------------------------------


def _kept_text(result: SubnetResult, i: int, whole: bool = True) -> str:
    """The units thinned network i kept per layer: "kept 66/128, 65/128" (whole; "inputs 1/2, " first with input
    dropout) or "kept 66, 65"."""
    layers = ([("inputs ", result.keep[0][i])] if result.p_input > 0 else []) + [("", k[i]) for k in result.keep[1:]]
    counts = [f"{name}{int(kept.sum())}/{kept.size}" if whole else f"{int(kept.sum())}" for name, kept in layers]
    return f"kept {', '.join(counts)}"


_SUBNET_COLUMNS = 4  # maps per row: two rows of four keep a title's two short lines over each map on a phone


def subnet_figure(result: SubnetResult) -> go.Figure:
    """Small maps in rows of _SUBNET_COLUMNS: each thinned network, then "average of the N", then "full network".

    Each panel: its heatmap, then "train · class 0", "train · class 1" (3 traces per panel, count + 2 panels).
    Titles say how many units each thinned network kept per hidden layer (hovering says of how many), and every panel's
    validation accuracy.
    """
    count = len(result.proba)
    panels = [
        (
            f"{_kept_text(result, i, whole=False)}<br>acc {result.val_acc[i]:.0%}",
            result.proba[i],
            f"thinned network {i + 1}: {_kept_text(result, i)}",
        )
        for i in range(count)
    ]
    panels.append((f"average of the {count}<br>acc {result.val_acc_average:.0%}", result.average, f"average of the {count}"))
    panels.append((f"full network<br>acc {result.val_acc_full:.0%}", result.full, "full network"))
    traces, titles = [], []
    for panel, (title, z, name) in enumerate(panels):
        xaxis, yaxis = _axis_names(panel)
        traces.append(_proba_map(result.grid_axis, z, name, xaxis, yaxis))
        traces.extend(_data_traces(result.data, xaxis, yaxis, first=panel == 0, validation=False, scale=0.5))
        titles.append(dict(_title(title, xaxis, small=True), yref=f"{yaxis} domain"))  # over its own row's map
    layout = _layout(
        _STRIP_HEIGHT * -(-len(panels) // _SUBNET_COLUMNS),
        "probe-subnets",
        margin={"l": 10, "r": 10, "t": 45, "b": 10},
        legend=_legend(-0.02),
        hovermode="closest",
        annotations=titles,
        **_square_panels(len(panels), 0.03, ticks=False, per_row=_SUBNET_COLUMNS),
    )
    return go.Figure(data=traces, layout=layout)
