"""Loss and accuracy per epoch of both runs, measured in evaluation mode, with gap bands, best epochs and events.

Not here: the colours and line styles (theme.py), or measuring: every value arrives in a History.
"""

from __future__ import annotations

import numpy as np

from ..core.records import RUN_NAMES, History, RunHistory
from .theme import PANEL_AXES, THEME, base_layout, bottom_legend, display_name, figure_spec, float32_gaps, note, scatter

_GAP_NAMES = {"dropout": "gap (dropout)", "twin": "gap (twin)"}
# Legend prefixes, "dropout · train": short, since a fitted view's legend column takes its width from the longest name.
_CURVE_NAMES = {"dropout": "dropout", "twin": "twin"}


MIN_EPOCH_SPAN = 10  # the curves' x axis shows at least epochs 0 to 10: a new run's ticks are whole epochs
# A curve longer than twice this is drawn as each bucket's lowest and highest point: at most 300 points, about one per
# pixel of a subplot's width on a laptop, since every frame the browser recomputes and redraws every point of 11 curves.
CURVE_BUCKETS = 150


def _curves(*series: np.ndarray) -> list[dict]:
    """Per-epoch series -> each one's trace points, float32; epochs count from 1: {"x0": 1, "dx": 1, "y": values}, or
    {"x": epochs, "y": values} for a long run.

    Up to 2 x CURVE_BUCKETS epochs every epoch is drawn, at x0 + i dx, so that the 11 curves send no x arrays, a large
    share of a frame's bytes. A longer run is cut into CURVE_BUCKETS buckets of consecutive epochs, and each bucket keeps
    its lowest and highest point, in epoch order, at their own epochs: the drawn line keeps every spike and trough
    while the browser redraws at most 2 x CURVE_BUCKETS points per curve each frame (5000 epochs would be 13 x 5000). Gaps (NaN)
    stay gaps. Series of one length are cut in one pass, as rows of one array: a frame draws a run's four at once.
    """
    values = [np.asarray(v, dtype=np.float32) for v in series]
    drawn: list[dict | None] = [{"x0": 1, "dx": 1, "y": v} if len(v) <= 2 * CURVE_BUCKETS else None for v in values]
    for n in {len(v) for v, d in zip(values, drawn) if d is None}:
        rows = [i for i, v in enumerate(values) if len(v) == n and drawn[i] is None]
        for i, index in zip(rows, _bucket_ends(np.stack([values[i] for i in rows]))):
            drawn[i] = {"x": (index + 1).astype(np.float32), "y": values[i][index]}
    return drawn


def _bucket_ends(values: np.ndarray) -> list[np.ndarray]:
    """(series, n) -> per series, the sorted epoch indices of each bucket's lowest and highest finite point (one for a
    bucket whose lowest is its highest, one gap for a bucket of gaps)."""
    count, n = values.shape
    size = -(-n // CURVE_BUCKETS)  # ceil: every bucket but the last is full
    padded = np.full((count, size * CURVE_BUCKETS), np.nan, dtype=np.float32)
    padded[:, :n] = values
    buckets = padded.reshape(count, CURVE_BUCKETS, size)  # (series, buckets, size)
    finite = np.isfinite(buckets)
    low = np.argmin(np.where(finite, buckets, np.inf), axis=2)
    high = np.argmax(np.where(finite, buckets, -np.inf), axis=2)
    starts = np.arange(CURVE_BUCKETS) * size  # (buckets,)
    index = np.stack([np.minimum(low, high), np.maximum(low, high)], axis=2) + starts[:, None]  # (series, buckets, 2)
    index = np.where(finite.any(axis=2)[..., None], index, starts[:, None])  # a bucket of gaps keeps one gap
    index = np.minimum(index.reshape(count, -1), n - 1)  # (series, 2 x buckets), ascending in each row
    repeated = np.zeros_like(index, dtype=bool)
    repeated[:, 1:] = index[:, 1:] == index[:, :-1]
    return [row[~again] for row, again in zip(index, repeated)]


def _run_curves(run: str, index: int, history: RunHistory | None) -> list[dict]:
    """Gap band, train / validation lines in both subplots, best-epoch marker of one run."""
    label = _CURVE_NAMES.get(run, run)
    colour = THEME.run_color(run)

    def get(name: str) -> np.ndarray:
        return float32_gaps(getattr(history, name)) if history is not None else np.zeros(0, dtype=np.float32)

    arrays = {name: get(name) for name in ("train_loss", "val_loss", "train_acc", "val_acc")}
    drawn = dict(zip(arrays, _curves(*arrays.values())))
    val_loss = arrays["val_loss"]
    gap = {  # no legend entry of its own: it toggles with the run's validation lines, and the caption names the shading
        "name": _GAP_NAMES.get(run, f"gap ({run})"),
        "legendgroup": f"{run}-validation",
        "showlegend": False,
        "mode": "lines",
        "line": {"width": 0},
        "hoverinfo": "skip",
        "xaxis": "x",
        "yaxis": "y",
    }
    traces = [
        scatter(**drawn["train_loss"], **gap),
        scatter(**drawn["val_loss"], fill="tonexty", fillcolor=THEME.gap_fill(index), **gap),
    ]
    for (xaxis, yaxis), names in zip(PANEL_AXES, (("train_loss", "val_loss"), ("train_acc", "val_acc"))):
        for (split, dash), name in zip(THEME.split_dash, names):
            width = THEME.train_width if split == "train" else THEME.curve_width
            traces.append(
                scatter(
                    **drawn[name],
                    mode="lines",
                    name=f"{label} · {split}",
                    legendgroup=f"{run}-{split}",
                    showlegend=xaxis == "x",
                    line={"color": colour, "width": width, "dash": dash},
                    xaxis=xaxis,
                    yaxis=yaxis,
                    hovertemplate="%{y:.3f}",
                )
            )
    best = None if history is None else _best_epoch(val_loss)
    traces.append(
        scatter(
            x=np.array([] if best is None else [best], dtype=np.float32),
            y=np.array([] if best is None else [val_loss[best - 1]], dtype=np.float32),
            mode="markers",
            name=f"{label} · best validation",
            xaxis="x",
            yaxis="y",
            marker={
                "symbol": THEME.run_symbols[index % 2],
                "size": THEME.best_marker_size,
                "color": colour,
                "line": {"color": THEME.node_line, "width": 1},
            },
            hovertemplate="best validation loss %{y:.3f} at epoch %{x}<extra></extra>",
        )
    )
    return traces


def _best_epoch(val_loss: np.ndarray) -> int | None:
    """RunHistory.best_epoch on the cleaned array (a hand-built record may hold anything)."""
    finite = np.isfinite(val_loss)
    return int(np.argmin(np.where(finite, val_loss, np.inf))) + 1 if finite.any() else None


def curves_spec(history: History) -> dict:
    """Loss and accuracy per epoch of both runs, side by side, measured in evaluation mode.

    Traces per run in RUN_NAMES order: the gap band pair ("gap (dropout)" / "gap (twin)", the second
    filled to the first; no legend entry: they toggle with "<run> · validation"), "<run> · train" and
    "<run> · validation" in the Loss subplot and again in the Accuracy subplot, "<run> · best validation" (a star, a diamond); then "dropout · with masks", and
    an invisible "epoch span" per subplot from epoch 0 to MIN_EPOCH_SPAN, the least each x axis shows.
    The twin's lines are dashed. Each event is a dotted vertical line in both subplots (layout
    shapes), its text once, in the Loss subplot. Non-finite values are drawn as gaps; never raises.
    """
    traces = []
    for index, run in enumerate(RUN_NAMES):
        traces.extend(_run_curves(run, index, history.runs.get(run)))
    dropout = history.runs.get("dropout")
    optimized = float32_gaps(dropout.optimized_loss) if dropout is not None else np.zeros(0, dtype=np.float32)
    traces.append(
        scatter(
            **_curves(optimized)[0],
            mode="lines",
            name="dropout · with masks",
            xaxis="x",
            yaxis="y",
            opacity=THEME.optimized_opacity,
            line={"color": THEME.optimized, "width": THEME.optimized_width, "dash": "dot"},
            hovertemplate="%{y:.3f}",
        )
    )

    shapes, notes, events = [], [], []
    for n, event in enumerate(history.events):
        x = float(event.epoch)
        if not np.isfinite(x):
            continue
        events.append(x)
        for xaxis, yaxis in PANEL_AXES:
            line = {"color": THEME.event_line, "width": 1, "dash": "dot"}
            shapes.append({"type": "line", "xref": xaxis, "yref": f"{yaxis} domain", "x0": x, "x1": x, "y0": 0, "y1": 1, "line": line})
        # Texts of nearby events would overlap: step each one down a row, three rows in turn.
        y = 0.98 - 0.1 * (n % 3)
        notes.append(note(x, y, str(event.text), small=True, xref="x", yref="y domain", xanchor="left", yanchor="top"))
    for text, xref in (("Loss", "x domain"), ("Accuracy", "x2 domain")):
        notes.append(note(0.5, 1.0, text, xref=xref, yref="paper", yanchor="bottom"))
    diverged = [f"{display_name(run)}: {h.status}" for run, h in history.runs.items() if h.status != "ok"]
    if diverged:  # its curves stop there, or never start: say why where they are missing
        text = "<br>".join(diverged) + "<br>(learning rate too high?)"
        notes.append(note(0.5, 0.5, text, xref="x domain", yref="y domain", font={"size": THEME.font_size}))

    # Never an explicit range: plotly.js keeps an axis's range through a fixed uirevision, so a reset run's first frame
    # would pin it. Autorange always, over the "epoch span" traces too (an empty run has nothing else to range over).
    # Tick labels drawn as they fall (ticklabeloverflow): hiding those past the figure's edge measures every label, every frame.
    epoch_axis = {"title": {"text": "epoch", "standoff": 4}, "zeroline": False, "autorange": True, "ticklabeloverflow": "allow"}
    for xaxis, yaxis in PANEL_AXES:
        traces.append(
            scatter(
                x=np.array([0, MIN_EPOCH_SPAN], np.float32),
                y=np.zeros(2, np.float32),
                mode="lines",
                line={"width": 0},
                name="epoch span",
                showlegend=False,
                hoverinfo="skip",
                xaxis=xaxis,
                yaxis=yaxis,
            )
        )
    fig_layout = base_layout(
        THEME.curves_height,
        uirevision="curves",
        # Fixed margins with room for the legend: plotly.js's automatic margins cost every frame a second layout pass.
        margin={"l": 50, "r": 10, "t": 30, "b": 95, "autoexpand": False},
        xaxis=dict(epoch_axis, domain=[0.0, 0.45], anchor="y"),
        xaxis2=dict(epoch_axis, domain=[0.55, 1.0], anchor="y2"),
        yaxis={"anchor": "x", "rangemode": "tozero", "zeroline": False, "autorange": True, "ticklabeloverflow": "allow"},
        yaxis2={"anchor": "x2", "range": [0.0, 1.02], "zeroline": False, "tickformat": ".0%", "ticklabeloverflow": "allow"},
        legend=bottom_legend(-0.25),
        hovermode="x unified",
        shapes=shapes,
        annotations=notes,
    )
    return figure_spec(data=traces, layout=fig_layout)
