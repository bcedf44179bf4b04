"""Pure figure builders for the two experiments: SweepResult -> the p-sweep figure, SizeResult -> the training-set size figure.

Not here: training, metrics, anything random. Means, spreads, the best p and the gain come from the records
(sweeps.SweepResult / SizeResult); these functions only place them. Colours come from figures.THEME; backgrounds
are transparent and text colour is left to the page template, as in figures.py. Each builder always returns
the same traces in the same order; non-finite values (diverged models) are drawn as gaps, never raise.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..figures.theme import THEME, float32_gaps, rgba
from .sweeps import SizeResult, SweepResult

HEIGHT = 360
_DASH = dict(THEME.split_dash)  # "train" / "validation" -> line dash: the split is line style, never colour
DROPOUT = THEME.run_colors[0]  # every model of the p-sweep drops (or, at p = 0, could): the dropout run's colour
GAIN_COLOR = THEME.weight  # the gain compares the two runs, so it wears neither run's colour
_PANELS = ((0.0, 0.45), (0.55, 1.0))  # x domains of the left and right panel


def _layout(**extra) -> dict:
    return {
        "height": HEIGHT,
        "paper_bgcolor": THEME.transparent,
        "plot_bgcolor": THEME.transparent,
        "font": {"size": THEME.font_size},  # no colour: the page template picks one for its theme
        "margin": {"l": 55, "r": 10, "t": 30, "b": 10},
        "legend": _legend(0.5),
        "hovermode": "x unified",
        **extra,
    }


def _legend(x: float) -> dict:
    """A horizontal legend under the plots, centred on x (paper coordinates)."""
    return {"orientation": "h", "x": x, "xanchor": "center", "y": -0.22, "yanchor": "top", "font": {"size": THEME.small_font_size}}


def _panel_legend(x: float) -> dict:
    """A legend under one of two panels, centred on x: a column, so that on a phone it keeps to its panel's width (a
    row wraps at the figure's width, across the other panel's legend)."""
    return {**_legend(x), "orientation": "v", "y": -0.3}  # lower than a row: a column's top met the axis title on a phone


def _title(text: str, xref: str) -> dict:
    return {"x": 0.5, "y": 1.0, "xref": xref, "yref": "paper", "yanchor": "bottom", "text": text, "showarrow": False}


def _band(
    x: np.ndarray, low, high, name: str, fillcolor: str, axes: tuple[str, str], group: str, legend: str = "legend"
) -> list[go.Scatter]:
    """Two traces: the lower edge (invisible) and the upper edge filled down to it."""
    common = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "legendgroup": group, "legend": legend,
              "xaxis": axes[0], "yaxis": axes[1]}  # fmt: skip
    return [
        go.Scatter(x=x, y=float32_gaps(low), name=f"{name} (lower)", showlegend=False, **common),
        go.Scatter(x=x, y=float32_gaps(high), name=name, fill="tonexty", fillcolor=fillcolor, showlegend=False, **common),
    ]


# --- p-sweep ---------------------------------------------------------------------------------------


def p_sweep_figure(result: SweepResult) -> go.Figure:
    """Final loss (left) and accuracy (right) against the hidden-layer p, mean over seeds with the seed range.

    Traces, in order, for panel "loss" then "accuracy": the validation seed range (two band traces,
    "validation <panel> seed range"), "validation <panel>" (solid), "training <panel>" (dashed, thinner); then
    "best p" (the dropout run's marker at the lowest mean validation loss, empty if every model diverged). Every
    line wears the dropout run's colour; train vs validation is line style. Each panel has its own legend under it
    (legend, legend2), naming that panel's metric. The best p is also a dotted vertical line in both panels.
    """
    x = np.asarray(result.p_values, dtype=np.float64)  # 9 values: exact p on hover and ticks
    best = result.best_index
    traces = []
    panels = ((("x", "y"), "loss", "loss", "legend"), (("x2", "y2"), "acc", "accuracy", "legend2"))
    for (xaxis, yaxis), metric, panel, legend in panels:
        val, train = result.summary(f"val_{metric}"), result.summary(f"train_{metric}")
        fmt = "%{y:.3f}" if metric == "loss" else "%{y:.1%}"
        axes = {"xaxis": xaxis, "yaxis": yaxis, "legend": legend}
        traces += _band(
            x, val[1], val[2], f"validation {panel} seed range", THEME.gap_fill(0), (xaxis, yaxis), f"validation {panel}", legend
        )
        traces.append(
            go.Scatter(
                x=x,
                y=float32_gaps(val[0]),
                mode="lines+markers",
                name=f"validation {panel}",
                legendgroup=f"validation {panel}",
                line={"color": DROPOUT, "width": THEME.curve_width, "dash": _DASH["validation"]},
                marker={"size": 6},
                hovertemplate=f"validation {panel} {fmt} (mean of {result.seeds})<extra></extra>",
                **axes,
            )
        )
        traces.append(
            go.Scatter(
                x=x,
                y=float32_gaps(train[0]),
                mode="lines+markers",
                name=f"training {panel}",
                legendgroup=f"training {panel}",
                line={"color": DROPOUT, "width": THEME.train_width, "dash": _DASH["train"]},
                marker={"size": 5, "symbol": "circle-open"},
                hovertemplate=f"training {panel} {fmt}<extra></extra>",
                **axes,
            )
        )
    val_loss = float32_gaps(result.summary("val_loss")[0])
    traces.append(
        go.Scatter(
            x=x[[best]] if best is not None else np.zeros(0),
            y=val_loss[[best]] if best is not None else np.zeros(0, np.float32),
            mode="markers",
            name="best p",
            xaxis="x",
            yaxis="y",
            legend="legend",
            marker={
                "symbol": THEME.run_symbols[0],
                "size": THEME.best_marker_size,
                "color": DROPOUT,
                "line": {"color": THEME.node_line, "width": 1},
            },
            hovertemplate="best p = %{x:g}: lowest mean validation loss %{y:.3f}<extra></extra>",
        )
    )
    shapes = [] if best is None else [
        {"type": "line", "xref": xaxis, "yref": f"{yaxis} domain", "x0": float(x[best]), "x1": float(x[best]), "y0": 0, "y1": 1,
         "line": {"color": THEME.event_line, "width": 1, "dash": "dot"}}
        for xaxis, yaxis in (("x", "y"), ("x2", "y2"))
    ]  # fmt: skip
    p_axis = {
        "title": {"text": "p (hidden layers)"},  # short: under each of two panels side by side on a phone
        "zeroline": False,
        "tickvals": x[::2],  # every other p: nine names side by side would turn on end in a phone's panel
        "ticktext": [f"{v:g}" for v in x[::2]],
    }
    return go.Figure(
        data=traces,
        layout=_layout(
            uirevision="p-sweep",
            legend=_panel_legend(sum(_PANELS[0]) / 2),
            legend2=_panel_legend(sum(_PANELS[1]) / 2),
            xaxis=dict(p_axis, domain=list(_PANELS[0]), anchor="y"),
            xaxis2=dict(p_axis, domain=list(_PANELS[1]), anchor="y2"),
            yaxis={"anchor": "x", "rangemode": "tozero", "zeroline": False},
            yaxis2={"anchor": "x2", "range": [0.0, 1.02], "zeroline": False, "tickformat": ".0%"},
            shapes=shapes,
            annotations=[_title(f"Loss after {result.epochs} epochs", "x domain"), _title("Accuracy", "x2 domain")],
        ),
    )


# --- training-set size -------------------------------------------------------------------------------

# Run index 0, 1 of SizeResult: (name, colour, marker); both lines are validation error, so both solid.
_RUN_STYLE = (("with dropout", THEME.run_colors[0], THEME.run_symbols[0]), ("no dropout", THEME.run_colors[1], THEME.run_symbols[1]))


def size_figure(result: SizeResult) -> go.Figure:
    """Validation error of both runs against training-set size (log x, left) and the gain (right).

    Traces, in order: for "with dropout" then "no dropout", the seed range (two band traces) and the mean line;
    then the gain's seed range (two band traces), "gain (no dropout - dropout)" and a dotted zero line ("no gain").
    The gain is the twin's error minus dropout's, per seed (same initial weights and batches), then averaged.
    """
    x = np.asarray(result.sizes, dtype=np.float64)
    error = result.summary("val_error")  # (N, 2) each
    traces = []
    for r, (name, color, symbol) in enumerate(_RUN_STYLE):
        traces += _band(x, error[1][:, r], error[2][:, r], f"{name} seed range", THEME.gap_fill(r), ("x", "y"), name)
        traces.append(
            go.Scatter(
                x=x,
                y=float32_gaps(error[0][:, r]),
                mode="lines+markers",
                name=name,
                legendgroup=name,
                xaxis="x",
                yaxis="y",
                line={"color": color, "width": THEME.curve_width, "dash": _DASH["validation"]},
                marker={"size": 8, "symbol": symbol},
                hovertemplate=f"{name}: %{{y:.1%}}<extra></extra>",
            )
        )
    gain = result.summary("gain")
    traces += _band(x, gain[1], gain[2], "gain seed range", rgba(GAIN_COLOR, THEME.gap_alpha[0]), ("x2", "y2"), "gain")
    traces.append(
        go.Scatter(
            x=x,
            y=float32_gaps(gain[0]),
            mode="lines+markers",
            name="gain (no dropout - dropout)",
            legendgroup="gain",
            xaxis="x2",
            yaxis="y2",
            line={"color": GAIN_COLOR, "width": THEME.curve_width},
            marker={"size": 6},
            hovertemplate="gain %{y:+.1%}<extra></extra>",
        )
    )
    ends = x[[0, -1]] if len(x) else np.zeros(0)
    traces.append(
        go.Scatter(
            x=ends,
            y=np.zeros(len(ends), np.float32),
            mode="lines",
            name="no gain",
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            line={"color": THEME.event_line, "width": 1, "dash": "dot"},
            hoverinfo="skip",
        )
    )
    # Every other size named, as the p-sweep's p: seven names would turn on end in a phone's panel.
    size_axis = {"title": {"text": "training points"}, "type": "log", "tickvals": x[::2], "ticktext": [f"{v:g}" for v in x[::2]]}
    return go.Figure(
        data=traces,
        layout=_layout(
            uirevision="size-sweep",
            xaxis=dict(size_axis, domain=[0.0, 0.45], anchor="y"),
            xaxis2=dict(size_axis, domain=[0.55, 1.0], anchor="y2"),
            yaxis={"anchor": "x", "rangemode": "tozero", "zeroline": False, "tickformat": ".0%"},
            yaxis2={"anchor": "x2", "zeroline": False, "tickformat": "+.0%"},
            annotations=[_title("Validation error", "x domain"), _title("Gain from dropout", "x2 domain")],
        ),
    )
