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
_STRIP = ("x3", "y3")  # the strip's axes, above the two confusion matrices' PANEL_AXES
_ROWS = {"dropout": -0.78, "twin": -1.32}  # the strip's prediction rows, under the digits' labels, in y units of a digit
_BOTTOM = -1.58  # the strip's lowest y, under the last row
_MIN_ALPHA = 0.15  # opacity of a cell holding a single example among many: a mistake never vanishes


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


def _answers(run: str, labels: np.ndarray, predicted: np.ndarray, text_scale: float) -> dict:
    """One run's answers under the strip's digits as one text trace (not a note each: the browser lays out one trace
    faster than a dozen notes a frame): the class in the run's colour, a tick when right, a bold cross when wrong. Its
    legend entry names the row and its score, "with dropout: 8 of 12": a legend, unlike a margin of row names, leaves
    a phone's narrow chart its width."""
    known = predicted >= 0  # no answer before the first epoch ends
    texts = [f"{p} ✓" if p == label else f"<b>{p} ✗</b>" for p, label in zip(predicted[known], labels[known])]
    name = f"{display_name(run)}: {int((predicted == labels).sum())} of {len(labels)}"
    return {"type": "scatter", "mode": "text", "name": name, "legendgroup": f"answers {run}", "x": np.flatnonzero(known),
            "y": np.full(int(known.sum()), _ROWS[run] * text_scale), "text": texts, "xaxis": _STRIP[0], "yaxis": _STRIP[1],
            "textfont": {"color": THEME.run_color(run), "size": THEME.font_size * text_scale}, "hoverinfo": "skip"}  # fmt: skip


def _strip(pixels: np.ndarray, labels: np.ndarray, predictions: dict[str, np.ndarray], flipped: np.ndarray,
           text_scale: float) -> tuple[list, list, list]:  # fmt: skip
    """The strip on the axes _STRIP: its layout images (a digit each, "digit i"), a row of answers per run (_answers), and
    notes: under each digit its label (with * where label noise changed it). Rows further apart by text_scale: type
    enlarged for a projector takes more of a digit's height."""
    images, notes, traces = [], [], []
    xaxis, yaxis = _STRIP
    for i, picture in enumerate(digit_rgba(pixels)):
        source = raster.data_uri(raster.png(picture))
        images.append({"source": source, "name": f"digit {i}", "xref": xaxis, "yref": yaxis, "x": i, "y": 1.0, "sizex": 0.9,
                       "sizey": 0.9, "xanchor": "center", "yanchor": "top", "sizing": "stretch", "layer": "above"})  # fmt: skip
        notes.append(note(i, -0.06, f"{labels[i]}{'*' if flipped[i] else ''}", small=True, yanchor="top", xref=xaxis, yref=yaxis))
    for run in RUN_NAMES:
        predicted = np.asarray(predictions.get(run, np.full(len(labels), -1)), dtype=np.int64)
        traces.append(_answers(run, labels, predicted, text_scale))
    return images, notes, traces


def _shares(counts: np.ndarray) -> np.ndarray:
    """(C, C) counts -> each cell's share of its true class's examples (row), 0 for a class with none."""
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def confusion_picture(counts: np.ndarray, colour: str) -> np.ndarray:
    """(C, C) counts, row = true class -> (C, C, 4) RGBA, true class 0 at the top: each cell in the run's colour, as
    opaque as its share of the true class's examples (a rare class reads like a common one; one mistake still shows);
    an empty cell clear."""
    counts = np.asarray(counts, dtype=np.int64)
    share = _shares(counts)
    alpha = np.rint(255 * (_MIN_ALPHA + (1 - _MIN_ALPHA) * share) * (counts > 0)).astype(np.uint8)
    rgb = np.broadcast_to(np.array(raster.hex_rgb(colour), np.uint8), (*counts.shape, 3))
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def _confusion(matrices: dict[str, np.ndarray]) -> tuple[list, list, list]:
    """Per run, on its PANEL_AXES: the matrix as a layout image ("confusion, <run>"), an unseen marker per cell whose hover
    gives its count and share (numbers in the cells would not read at the size the page gives them), and a title with
    how many it got right. True class c is drawn at y = C - 1 - c, so class 0 is at the top on an ordinary axis."""
    traces, images, notes = [], [], []
    for (xaxis, yaxis), run in zip(PANEL_AXES, RUN_NAMES):
        counts = np.asarray(matrices[run], dtype=np.int64)
        classes = len(counts)
        true, predicted = np.divmod(np.arange(classes * classes), classes)  # row-major cells
        share = _shares(counts).ravel()
        source = raster.data_uri(raster.png(confusion_picture(counts, THEME.run_color(run))))
        images.append({"source": source, "name": f"confusion, {display_name(run)}", "xref": xaxis, "yref": yaxis, "x": -0.5,
                       "y": classes - 0.5, "sizex": classes, "sizey": classes, "xanchor": "left", "yanchor": "top",
                       "sizing": "stretch", "layer": "below"})  # fmt: skip
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": display_name(run),
                "x": predicted,
                "y": classes - 1 - true,
                "customdata": np.column_stack([true, counts.ravel(), share]),
                "marker": {"symbol": "square", "size": 8, "color": THEME.transparent},
                "hovertemplate": "true %{customdata[0]}, predicted %{x}: %{customdata[1]} (%{customdata[2]:.0%} of true %{customdata[0]})<extra></extra>",
                "xaxis": xaxis,
                "yaxis": yaxis,
                "showlegend": False,
            }
        )
        total = int(counts.sum())
        right = f"{int(np.trace(counts))} of {total} right" if total else "no predictions yet"
        notes.append(
            note(0.5, 1.0, f"{display_name(run)} · {right}", small=True, xref=f"{xaxis} domain", yref=f"{yaxis} domain", yanchor="bottom")
        )
    return traces, images, notes


def digits_spec(pixels: np.ndarray, labels: np.ndarray, predictions: dict[str, np.ndarray], matrices: dict[str, np.ndarray] | None,
                flipped: np.ndarray | None = None, text_scale: float = 1.0) -> dict:  # fmt: skip
    """The page's view of digits, where the plane's boundaries would be: on top a strip of validation digits, pixels
    (k, 64) with their labels (k,) and each run's predicted class (k,) by run name; below, a confusion matrix per run,
    matrices by run name, (C, C) counts, row = true class, column = predicted.

    matrices None: the strip alone, over the whole height (presentation mode: in its short chart, large type fits only
    so, and a matrix's cells would not read from the back). text_scale: what for_projector will enlarge the type by, so
    that the answer rows, whose type it does not reach, grow with it and stand further apart.
    Layout images, not heatmaps: the page's plotly.js bundle draws scatter, bar and pie only.
    """
    labels = np.asarray(labels, dtype=np.int64)
    flipped = np.zeros(len(labels), bool) if flipped is None else np.asarray(flipped, dtype=bool)
    strip_images, strip_notes, answers = _strip(pixels, labels, predictions, flipped, text_scale)
    # constrain "domain": square pixels by a narrower domain; with wider ranges, plotly.js shrank a short chart's strip.
    hidden, small = {"visible": False, "fixedrange": True, "constrain": "domain"}, {"size": THEME.small_font_size}
    strip_axes = {
        "xaxis3": dict(hidden, domain=[0.0, 1.0], range=[-0.5, max(len(labels), 1) - 0.5], anchor="y3"),
        "yaxis3": dict(hidden, domain=[0.54 if matrices else 0.0, 1.0], range=[_BOTTOM * text_scale, 1.05], anchor="x3", constraintoward="top",
                       scaleanchor="x3"),  # square pixels
    }  # fmt: skip
    legend = {"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "font": {"size": THEME.small_font_size}}
    if not matrices:  # the strip, alone, is as wide as its chart allows: the page's fitting leaves the legend over it
        layout = base_layout(THEME.boundary_height, "digits", margin={"l": 10, "r": 10, "t": 10, "b": 10}, **strip_axes,
                             images=strip_images, annotations=strip_notes, legend=legend, meta={"legend": "stays"})  # fmt: skip
        return figure_spec(answers, layout)
    traces, matrix_images, matrix_notes = _confusion(matrices)
    classes = len(next(iter(matrices.values())))
    ticks = {"tickvals": list(range(classes)), "fixedrange": True, "showgrid": False, "zeroline": False, "range": [-0.5, classes - 0.5],
             "tickfont": {"size": THEME.small_font_size}, "ticklen": 0, "tickangle": 0}  # fmt: skip
    # Class 0 at the top; every other class named: ten names one above another ran together in a short chart's matrix
    # (each cell's hover names its classes).
    named = range(0, classes, 2)
    true_ticks = {**ticks, "tickvals": [classes - 1 - c for c in named], "ticktext": [str(c) for c in named]}
    layout = base_layout(
        THEME.boundary_height,
        "digits",
        margin={"l": 10, "r": 10, "t": 24, "b": 36},
        xaxis=dict(ticks, domain=[0.0, 0.44], title={"text": "answer", "standoff": 0, "font": small}, anchor="y", constrain="domain"),
        yaxis=dict(true_ticks, domain=[0.0, 0.46], title={"text": "true", "standoff": 0, "font": small}, anchor="x", scaleanchor="x"),
        xaxis2=dict(ticks, domain=[0.56, 1.0], title={"text": "answer", "standoff": 0, "font": small}, anchor="y2", constrain="domain"),
        yaxis2=dict(true_ticks, domain=[0.0, 0.46], anchor="x2", scaleanchor="x2"),
        **strip_axes,
        images=[*matrix_images, *strip_images],
        annotations=[*matrix_notes, *strip_notes],
        legend=legend,
    )
    return figure_spec([*traces, *answers], layout)
