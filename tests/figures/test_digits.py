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
    confusion_spec,
    digit_rgba,
    input_image,
    input_image_uri,
    strip_examples,
    strip_spec,
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


def test_the_strip_shows_each_digit_its_label_and_each_run_s_answer_right_or_wrong(digits):
    index = strip_examples(digits.y_val)
    labels = digits.y_val[index]
    predictions = {"dropout": labels.copy(), "twin": (labels + 1) % 10}
    predictions["dropout"][[2, 5]] = (labels[[2, 5]] + 3) % 10
    flipped = np.zeros(len(index), bool)
    flipped[4] = True
    spec = strip_spec(digits.x_val[index], labels, predictions, flipped)
    figure = go.Figure(spec)  # Plotly's own checks of every property
    images = figure.layout.images
    assert len(images) == STRIP and all(image.layer == "above" for image in images)
    for i, image in enumerate(images):
        assert image.x == i and np.array_equal(_png_pixels(image.source), digit_rgba(digits.x_val[index[i]]))
    texts = [(a["x"], a["y"], a["text"]) for a in _annotations(spec)]
    for i, label in enumerate(labels):
        assert (i, -0.06, f"{label}{'*' if i == 4 else ''}") in texts
    rows = {run: sorted((a for a in _annotations(spec) if a.get("font", {}).get("color") == THEME.run_color(run) and a.get("xref", "x") == "x"),
                        key=lambda a: a["x"]) for run in RUN_NAMES}  # fmt: skip
    for run in RUN_NAMES:
        assert [a["text"] for a in rows[run]] == [f"{p} ✓" if p == label else f"<b>{p} ✗</b>" for p, label in zip(predictions[run], labels)]
        assert all(("bordercolor" in a) == ("✗" in a["text"]) for a in rows[run])  # a wrong answer is boxed, not only coloured
    assert f"{display_name('dropout')}: 10 of 12" in [t for _, _, t in texts]
    assert f"{display_name('twin')}: 0 of 12" in [t for _, _, t in texts]
    assert figure.layout.yaxis.scaleanchor == "x"  # square pixels


def test_a_strip_without_predictions_yet_shows_the_digits_alone(digits):
    index = strip_examples(digits.y_val)
    spec = strip_spec(digits.x_val[index], digits.y_val[index], {})
    assert len(go.Figure(spec).layout.images) == STRIP
    assert not any("✓" in a["text"] or "✗" in a["text"] for a in _annotations(spec))


def test_the_confusion_matrices_colour_each_cell_by_its_share_of_the_true_class(digits):
    predicted = {"dropout": digits.y_val, "twin": np.where(digits.y_val == 3, 5, digits.y_val)}
    matrices = {run: confusion(digits.y_val, predicted[run], 10) for run in RUN_NAMES}
    figure = go.Figure(confusion_spec(matrices))
    assert [trace.name for trace in figure.data] == [display_name(run) for run in RUN_NAMES]
    twin = figure.data[1]
    z = np.asarray(twin.z, dtype=np.float64)
    counts = matrices["twin"]
    assert np.isnan(z[3, 3]) and z[3, 5] == 1.0  # every 3 read as a 5
    assert np.allclose(np.nansum(z, axis=1)[counts.sum(axis=1) > 0], 1.0)  # each row's shares add up to all of it
    assert np.array_equal(np.asarray(twin.customdata), counts) and twin.text[3][5] == str(counts[3, 5]) and twin.text[3][3] == ""
    titles = [a["text"] for a in _annotations(confusion_spec(matrices))]
    n, threes = len(digits.y_val), int((digits.y_val == 3).sum())
    assert titles == [f"with dropout · {n} of {n} right", f"no-dropout twin · {n - threes} of {n} right"]
    assert [trace.showscale for trace in figure.data] == [False, True]  # one colour bar for both
    assert figure.layout.yaxis.autorange == "reversed"  # class 0 at the top, as a table reads


def test_empty_matrices_before_any_prediction_say_so():
    spec = confusion_spec({run: np.zeros((10, 10), np.int64) for run in RUN_NAMES})
    assert all(np.isnan(np.asarray(trace.z, dtype=np.float64)).all() for trace in go.Figure(spec).data)
    assert all(a["text"].endswith("no predictions yet") for a in _annotations(spec))
