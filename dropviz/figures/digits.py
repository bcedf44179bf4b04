"""The page for digits, in place of the decision boundary: a strip of validation digits with each run's prediction, right
or wrong, a confusion matrix per run, and the tracked example's 64 inputs as its 8x8 image with the dropped pixels marked.

Pure: arrays in, Plotly figure specs (or an RGBA picture) out. Not here: the predictions, which the engine makes in
evaluation mode, nor the network graph (network.py), which may draw input_image where it would draw 64 input nodes.
"""

from __future__ import annotations

import numpy as np

from ..core.records import RUN_NAMES
from . import raster
from .theme import PANEL_AXES, THEME, base_layout, display_name, figure_spec, note

SIDE = 8  # pixels per side of a digit: 64 inputs, row by row from the top left
STRIP = 12  # digits in the strip: one of each class, then the next ones, so that mistakes have room to show
PIXEL_PX = 6  # picture pixels per input pixel: room for a dropped pixel's cross
INK = "#000000"  # a pixel at 1 (full ink) on white paper, as the digits were written
STRIP_HEIGHT = 190
CONFUSION_HEIGHT = 330
_ROWS = {"dropout": -0.42, "twin": -0.78}  # the strip's prediction rows, under the digits' labels, in y units of a digit
_LEFT = {"xref": "paper", "xanchor": "right", "xshift": -8}  # a row's name, in the margin left of the strip


def digit_rgba(pixels: np.ndarray) -> np.ndarray:
    """(..., 64) pixels in [0, 1] -> (..., 8, 8, 4) uint8 RGBA: ink on white, opaque, row 0 at the top."""
    ink = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, 1.0).reshape(*np.shape(pixels)[:-1], SIDE, SIDE)
    paper, dark = np.array([255, 255, 255], np.float32), np.array(raster.hex_rgb(INK), np.float32)
    rgb = np.rint(paper + (dark - paper) * ink[..., None]).astype(np.uint8)  # (..., 8, 8, 3)
    return np.concatenate([rgb, np.full((*rgb.shape[:-1], 1), 255, np.uint8)], axis=-1)


def input_image(pixels: np.ndarray, keep: np.ndarray, scale: int = PIXEL_PX) -> np.ndarray:
    """The tracked example's inputs as the network received them: pixels (64,), keep (64,) bool (input dropout's mask) ->
    (8 scale, 8 scale, 4) uint8 RGBA. A dropped pixel is the switched-off grey, crossed corner to corner."""
    keep = np.asarray(keep, dtype=bool).reshape(SIDE, SIDE)
    big = np.repeat(np.repeat(digit_rgba(pixels), scale, axis=0), scale, axis=1)  # (8 s, 8 s, 4)
    blocks = big.reshape(SIDE, scale, SIDE, scale, 4).transpose(0, 2, 1, 3, 4)  # (8, 8, s, s, 4): a view on big
    dropped = raster.switched_off(blocks[~keep], THEME.dropped_map_alpha, THEME.dropped_map_background, THEME.dropped)
    blocks[~keep] = dropped  # writes through the view into big
    return big


def input_image_uri(pixels: np.ndarray, keep: np.ndarray) -> str:
    """input_image as a PNG data URI, for a Plotly layout image."""
    return raster.data_uri(raster.png(input_image(pixels, keep)))


def strip_examples(y: np.ndarray, count: int = STRIP, classes: int = 10) -> np.ndarray:
    """(k,) indices into y (n,) for the strip: the first example of each class in class order, then the first ones not
    yet taken, k = min(count, n). The same indices every frame: the strip's digits stay where they are."""
    y = np.asarray(y)
    firsts = [int(np.flatnonzero(y == c)[0]) for c in range(classes) if (y == c).any()][:count]
    rest = np.setdiff1d(np.arange(len(y)), firsts)[: max(count - len(firsts), 0)]
    return np.concatenate([np.asarray(firsts, dtype=np.int64), rest.astype(np.int64)])


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class; the diagonal holds the right answers."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return counts


def _prediction_note(run: str, x: float, predicted: int, right: bool) -> dict:
    """One run's answer under a digit: the class in the run's colour, a tick when right; a cross, bold and boxed when wrong
    (the shape says it, not a colour)."""
    text = f"{predicted} ✓" if right else f"<b>{predicted} ✗</b>"
    box = {} if right else {"bordercolor": THEME.flipped, "borderwidth": 1, "borderpad": 1}
    return note(x, _ROWS[run], text, font={"color": THEME.run_color(run), "size": THEME.font_size}, **box)


def strip_spec(pixels: np.ndarray, labels: np.ndarray, predictions: dict[str, np.ndarray], flipped: np.ndarray | None = None) -> dict:
    """A strip of validation digits: pixels (k, 64), their labels (k,) and each run's predicted class (k,) by run name.

    Under each digit its label (marked "flipped" where label noise changed it), then one row per run with its answer.
    """
    labels = np.asarray(labels, dtype=np.int64)
    flipped = np.zeros(len(labels), bool) if flipped is None else np.asarray(flipped, dtype=bool)
    pictures = digit_rgba(pixels)  # (k, 8, 8, 4)
    images, notes = [], []
    for i, picture in enumerate(pictures):
        source = raster.data_uri(raster.png(picture))
        images.append({"source": source, "name": f"digit {i}", "xref": "x", "yref": "y", "x": i, "y": 1.0, "sizex": 0.9, "sizey": 0.9,
                       "xanchor": "center", "yanchor": "top", "sizing": "stretch", "layer": "above"})  # fmt: skip
        notes.append(note(i, -0.06, f"{labels[i]}{'*' if flipped[i] else ''}", small=True, yanchor="top"))
    for run in RUN_NAMES:
        predicted = np.asarray(predictions.get(run, np.full(len(labels), -1)), dtype=np.int64)
        right = predicted == labels
        for i in range(len(labels)):
            if predicted[i] >= 0:
                notes.append(_prediction_note(run, i, int(predicted[i]), bool(right[i])))
        summary = f"{display_name(run)}: {int(right.sum())} of {len(labels)}"
        notes.append(note(0, _ROWS[run], summary, font={"color": THEME.run_color(run), "size": THEME.font_size}, **_LEFT))
    notes.append(note(0, -0.06, "label" + (" (* flipped)" if flipped.any() else ""), small=True, yanchor="top", **_LEFT))
    hidden = {"visible": False, "fixedrange": True}
    layout = base_layout(
        STRIP_HEIGHT,
        "digits-strip",
        margin={"l": 150, "r": 10, "t": 10, "b": 10},
        xaxis=dict(hidden, range=[-0.5, max(len(labels), 1) - 0.5]),
        yaxis=dict(hidden, range=[-1.0, 1.05], scaleanchor="x", scaleratio=1),  # square pixels
        images=images,
        annotations=notes,
        showlegend=False,
    )
    return figure_spec([], layout)


def confusion_spec(matrices: dict[str, np.ndarray]) -> dict:
    """One confusion matrix per run, side by side: matrices by run name, (C, C) counts, row = true class.

    Each cell's colour is its share of the true class's examples (so a rare class reads like a common one), its text
    the count; an empty cell is blank. Each panel's title says how many the run got right.
    """
    data, notes = [], []
    for (xaxis, yaxis), run in zip(PANEL_AXES, RUN_NAMES):
        counts = np.asarray(matrices[run], dtype=np.int64)
        classes = len(counts)
        totals = counts.sum(axis=1, keepdims=True)  # (C, 1)
        with np.errstate(all="ignore"):
            share = np.where(counts > 0, counts / np.maximum(totals, 1), np.nan)  # (C, C): an empty cell is left blank
        data.append(
            {
                "type": "heatmap",
                "name": display_name(run),
                "x": list(range(classes)),
                "y": list(range(classes)),
                "z": share.astype(np.float32),
                "text": np.where(counts > 0, counts.astype(str), ""),  # (C, C): an empty cell stays quiet
                "customdata": counts,
                "texttemplate": "%{text}",
                "textfont": {"size": THEME.small_font_size},
                "hovertemplate": "true %{y}, predicted %{x}: %{customdata} (%{z:.0%} of true %{y})<extra>" + display_name(run) + "</extra>",
                "colorscale": THEME.sequential_scale,
                "reversescale": True,  # pale for a few, dark for all: the diagonal stands out, and the mistakes in pale
                "zmin": 0.0,
                "zmax": 1.0,
                "xaxis": xaxis,
                "yaxis": yaxis,
                "showscale": run == RUN_NAMES[-1],
                "colorbar": {"title": {"text": "share of<br>true class"}, "tickformat": ".0%", "len": 0.9},
                "xgap": 1,
                "ygap": 1,
            }
        )
        total = int(counts.sum())
        right = f"{int(np.trace(counts))} of {total} right" if total else "no predictions yet"
        notes.append(note(0.5, 1.0, f"{display_name(run)} · {right}", xref=f"{xaxis} domain", yref="paper", yanchor="bottom"))
    ticks = {"dtick": 1, "fixedrange": True, "constrain": "domain"}
    layout = base_layout(
        CONFUSION_HEIGHT,
        "digits-confusion",
        margin={"l": 50, "r": 10, "t": 30, "b": 40},
        xaxis=dict(ticks, domain=[0.0, 0.43], title={"text": "predicted"}, anchor="y"),
        yaxis=dict(ticks, autorange="reversed", title={"text": "true"}, scaleanchor="x", anchor="x"),
        xaxis2=dict(ticks, domain=[0.5, 0.93], title={"text": "predicted"}, anchor="y2"),
        yaxis2=dict(ticks, autorange="reversed", scaleanchor="x2", anchor="x2"),
        annotations=notes,
        showlegend=False,
    )
    return figure_spec(data, layout)
