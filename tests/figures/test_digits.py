"""Tests for dropviz.figures.digits: the pictures hold the pixels, the strip and the matrices say what the arrays say."""

import base64
import zlib

import numpy as np
import plotly.graph_objects as go
import pytest

from dropviz.core.data import make_dataset
from dropviz.core.records import RUN_NAMES
from dropviz.figures import raster
from dropviz.figures.digits import (
    PIXEL_PX,
    STRIP,
    confusion,
    confusion_picture,
    digit_rgba,
    digits_spec,
    input_image,
    input_image_uri,
    strip_examples,
)
from dropviz.figures.theme import THEME, display_name


@pytest.fixture(scope="module")
def digits():
    return make_dataset("digits", 300, 400, 0.0, 0.1, 0)


def _png_pixels(uri: str) -> np.ndarray:
    """A data URI of raster.png's PNG (RGBA, filter 0 per row) -> (H, W, 4) uint8."""
    png = base64.b64decode(uri.split(",", 1)[1])
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    start = png.index(b"IDAT") + 4
    rows = np.frombuffer(zlib.decompress(png[start : start + int.from_bytes(png[start - 8 : start - 4], "big")]), np.uint8)
    return rows.reshape(height, 1 + 4 * width)[:, 1:].reshape(height, width, 4)


def test_a_digit_is_ink_on_white_row_by_row_from_the_top_left():
    pixels = np.zeros(64)
    pixels[0], pixels[9], pixels[63] = 1.0, 0.5, 0.25  # top left, second row's second, bottom right
    rgba = digit_rgba(pixels)
    assert rgba.shape == (8, 8, 4) and (rgba[..., 3] == 255).all()
    assert rgba[0, 0, :3].tolist() == [0, 0, 0] and rgba[1, 1, :3].tolist() == [128, 128, 128]
    assert rgba[7, 7, :3].tolist() == [191, 191, 191] and rgba[0, 1, :3].tolist() == [255, 255, 255]
    assert digit_rgba(np.stack([pixels, 1 - pixels])).shape == (2, 8, 8, 4)  # a stack of digits at once


def test_the_input_image_marks_exactly_the_dropped_pixels(digits):
    pixels = digits.x_train[0]
    keep = np.ones(64, bool)
    keep[[3, 20, 41]] = False
    picture = input_image(pixels, keep)
    assert picture.shape == (8 * PIXEL_PX, 8 * PIXEL_PX, 4)
    blocks = picture.reshape(8, PIXEL_PX, 8, PIXEL_PX, 4).transpose(0, 2, 1, 3, 4).reshape(64, PIXEL_PX, PIXEL_PX, 4)
    kept = digit_rgba(pixels).reshape(64, 4)
    for unit in range(64):
        if keep[unit]:  # a kept pixel is its ink, whole
            assert (blocks[unit] == kept[unit]).all(), unit
        else:  # a dropped one is crossed corner to corner, in the dropped colour
            assert blocks[unit][0, 0, :3].tolist() == list(raster.hex_rgb(THEME.dropped))
            assert blocks[unit][PIXEL_PX - 1, 0, :3].tolist() == list(raster.hex_rgb(THEME.dropped))
    assert np.array_equal(_png_pixels(input_image_uri(pixels, keep)), picture)  # the URI carries the same picture


def test_strip_examples_show_every_class_first_then_the_next_ones_the_same_every_time(digits):
    index = strip_examples(digits.y_val)
    assert len(index) == STRIP and len(set(index.tolist())) == STRIP
    assert digits.y_val[index[:10]].tolist() == list(range(10))
    assert all(index[c] == np.flatnonzero(digits.y_val == c)[0] for c in range(10))  # the first of each class
    assert np.array_equal(strip_examples(digits.y_val), index)
    assert strip_examples(np.array([1, 1, 0]), count=5).tolist() == [2, 0, 1]  # fewer than count: all of them


def test_confusion_counts_rows_true_columns_predicted():
    counts = confusion(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]] and counts.dtype == np.int64


def _annotations(spec: dict) -> list[dict]:
    return go.Figure(spec).to_dict()["layout"]["annotations"]


def _matrices(y_true, predicted: dict) -> dict:
    return {run: confusion(y_true, predicted[run], 10) for run in RUN_NAMES}


def test_the_strip_shows_each_digit_its_label_and_each_run_s_answer_right_or_wrong(digits):
    index = strip_examples(digits.y_val)
    labels = digits.y_val[index]
    predictions = {"dropout": labels.copy(), "twin": (labels + 1) % 10}
    predictions["dropout"][[2, 5]] = (labels[[2, 5]] + 3) % 10
    flipped = np.zeros(len(index), bool)
    flipped[4] = True
    spec = digits_spec(digits.x_val[index], labels, predictions, _matrices(labels, predictions), flipped)
    figure = go.Figure(spec)  # Plotly's own checks of every property
    images = [image for image in figure.layout.images if image.name.startswith("digit ")]
    assert len(images) == STRIP and all(image.layer == "above" and image.xref == "x3" for image in images)
    for i, image in enumerate(images):
        assert image.x == i and np.array_equal(_png_pixels(image.source), digit_rgba(digits.x_val[index[i]]))
    texts = [(a["x"], a["y"], a["text"]) for a in _annotations(spec)]
    for i, label in enumerate(labels):
        assert (i, -0.06, f"{label}{'*' if i == 4 else ''}") in texts
    answers = {trace.legendgroup: trace for trace in figure.data if trace.mode == "text"}
    for run in RUN_NAMES:
        row = answers[f"answers {run}"]
        assert list(row.x) == list(range(STRIP)) and row.textfont.color == THEME.run_color(run) and row.xaxis == "x3"
        assert list(row.text) == [f"{p} ✓" if p == label else f"<b>{p} ✗</b>" for p, label in zip(predictions[run], labels)]
    # Each row's name and score in the legend, not in a margin left of the strip that would take a phone's width.
    assert [answers[f"answers {run}"].name for run in RUN_NAMES] == [
        f"{display_name('dropout')}: 10 of 12",
        f"{display_name('twin')}: 0 of 12",
    ]
    assert figure.layout.margin.l == 10 and all(trace.showlegend is not False for trace in answers.values())
    assert figure.layout.yaxis3.scaleanchor == "x3"  # square pixels
    assert {trace.type for trace in figure.data} == {"scatter"}  # the page's plotly.js bundle has no heatmap
    assert not [a for a in _annotations(spec) if "✓" in a["text"] or "✗" in a["text"]]  # answers are traces, not notes


def test_a_strip_without_predictions_yet_shows_the_digits_alone(digits):
    index = strip_examples(digits.y_val)
    empty = {run: np.zeros((10, 10), np.int64) for run in RUN_NAMES}
    spec = digits_spec(digits.x_val[index], digits.y_val[index], {}, empty)
    assert len([image for image in go.Figure(spec).layout.images if image.name.startswith("digit ")]) == STRIP
    answers = [trace for trace in spec["data"] if trace.get("mode") == "text"]
    assert len(answers) == 2 and not any(len(trace["text"]) for trace in answers)
    assert [a["text"] for a in _annotations(spec) if "·" in a["text"]] == [f"{display_name(r)} · no predictions yet" for r in RUN_NAMES]


def test_without_matrices_the_strip_takes_the_whole_height_with_rows_and_row_names_sized_for_the_type(digits):
    index = strip_examples(digits.y_val, count=10)
    labels = digits.y_val[index]
    predictions = {"dropout": labels, "twin": (labels + 1) % 10}
    page = go.Figure(digits_spec(digits.x_val[index], labels, predictions, _matrices(labels, predictions)))
    spec = digits_spec(digits.x_val[index], labels, predictions, None, text_scale=1.5)
    alone = go.Figure(spec)
    assert not [image for image in alone.layout.images if image.name.startswith("confusion")]
    assert not {"xaxis", "yaxis", "xaxis2", "yaxis2"} & set(spec["layout"])  # no empty matrix axes
    assert tuple(alone.layout.yaxis3.domain) == (0.0, 1.0) and tuple(page.layout.yaxis3.domain) == (0.54, 1.0)
    # The answer rows 1.5 times as far under the digits, in type 1.5 times as large; the strip ends under them.
    rows = lambda figure: {trace.legendgroup: (trace.y[0], trace.textfont.size) for trace in figure.data if trace.mode == "text"}
    assert rows(alone) == {name: (1.5 * y, 1.5 * size) for name, (y, size) in rows(page).items()}
    assert alone.layout.yaxis3.range[0] == 1.5 * page.layout.yaxis3.range[0] < min(y for y, _ in rows(alone).values())
    # Square pixels by a narrower domain, never by wider ranges: plotly.js widened those far past the strip.
    assert alone.layout.xaxis3.constrain == alone.layout.yaxis3.constrain == "domain"
    # The strip alone asks the page's fitting to leave its legend over it (beside it, the legend took the answers' width);
    # with the matrices, the strip is short rather than narrow, and the legend may move beside it.
    assert alone.layout.meta == {"legend": "stays"} and page.layout.meta is None


def test_the_matrices_name_every_other_true_class_so_that_a_short_chart_s_names_do_not_run_together(digits):
    index = strip_examples(digits.y_val)
    labels = digits.y_val[index]
    figure = go.Figure(digits_spec(digits.x_val[index], labels, {}, _matrices(labels, {"dropout": labels, "twin": labels})))
    for axis in (figure.layout.yaxis, figure.layout.yaxis2):
        assert dict(zip(axis.tickvals, axis.ticktext)) == {9: "0", 7: "2", 5: "4", 3: "6", 1: "8"}  # class 0 at the top
    assert list(figure.layout.xaxis.tickvals) == list(range(10))  # side by side, every answer fits


def test_the_confusion_matrices_colour_each_cell_by_its_share_of_the_true_class(digits):
    predicted = {"dropout": digits.y_val, "twin": np.where(digits.y_val == 3, 5, digits.y_val)}
    matrices = _matrices(digits.y_val, predicted)
    index = strip_examples(digits.y_val)
    strip = {run: values[index] for run, values in predicted.items()}
    figure = go.Figure(digits_spec(digits.x_val[index], digits.y_val[index], strip, matrices))
    assert [trace.name for trace in figure.data][:2] == [display_name(run) for run in RUN_NAMES]
    twin, counts = figure.data[1], matrices["twin"]
    cells = {(int(c[0]), int(x)): (int(c[1]), float(c[2])) for x, c in zip(twin.x, twin.customdata)}  # hover: count, share
    assert cells[(3, 5)] == (counts[3, 5], 1.0) and cells[(3, 3)] == (0, 0.0)  # every 3 read as a 5
    assert all(y == 9 - c[0] for y, c in zip(twin.y, twin.customdata))  # true class 0 drawn at the top
    picture = _png_pixels(next(i for i in figure.layout.images if i.name == "confusion, no-dropout twin").source)
    assert np.array_equal(picture, confusion_picture(counts, THEME.run_color("twin")))
    assert picture[3, 3, 3] == 0 and picture[3, 5, 3] == 255  # an empty cell clear, a whole class's cell opaque
    n, threes = len(digits.y_val), int((digits.y_val == 3).sum())
    titles = [a["text"] for a in _annotations(figure.to_dict()) if "·" in a["text"]]
    assert titles == [f"with dropout · {n} of {n} right", f"no-dropout twin · {n - threes} of {n} right"]
    few = confusion_picture(np.array([[99, 1], [0, 5]]), "#000000")[..., 3]
    assert 0 < few[0, 1] < few[0, 0] and few[1, 0] == 0  # one mistake among many still shows, fainter
