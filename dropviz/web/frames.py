"""Frame: what one tick of the live page shows (status line and the three charts, as the page's JSON), made from a snapshot. Pure.

Made where the run trains (dropviz/web/worker.py), so that building figures and their JSON (the boundary
grid included) does not hold the page server's interpreter lock. No Streamlit here: the page
passes a frame's bytes to the browser as they are (dropviz/web/live_chart.py), without decoding or encoding them again.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass

import numpy as np

from ..core.data import Dataset
from ..core.neurons import with_maps
from ..core.records import RUN_NAMES, Snapshot
from ..figures.boundary import boundary_spec
from ..figures.curves import curves_spec
from ..figures.digits import confusion, digits_spec, input_image_uri, strip_examples
from ..figures.network import MAP_GRID, MAP_NODES, network_spec
from ..figures.theme import PROJECTOR_SCALE, display_name, for_projector

PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


# Over each chart, in markdown: what it shows.
CAPTIONS = {
    "network": "**The network with dropout** — each square: what that neuron computes over the plane (blue positive, "
    "vermillion negative); grey and crossed: switched off this step for the ringed example",
    "boundary": "**Decision boundaries** (evaluation mode) — filled: training points, hollow: validation; black-and-yellow ring: the tracked example",
    "curves": "**Loss and accuracy** — green: with dropout, purple: no-dropout twin; solid: validation, dashed: training; "
    "shaded: the generalization gap",
}
# Data that are not points in the plane (the digits): the input column is the tracked example's picture, and the
# boundaries' place shows validation digits and the runs' confusion matrices.
IMAGE_CAPTIONS = {
    **CAPTIONS,
    "network": "**The network with dropout** — left: the tracked training digit as the network saw it this step "
    "(grey, crossed pixels: switched off by input dropout); grey, crossed circles: neurons switched off this step",
    "boundary": "**Validation digits** (evaluation mode, as of the last epoch) — each run's answer, ✓ right or a boxed ✗; "
    "* a label flipped by label noise. **Confusion matrices**: rows the true digit, columns the answer",
}


@dataclass(frozen=True)
class Frame:
    status: str  # markdown, one line per run
    # UTF-8 JSON for the page's live view: {"source": URL of the next frame or null, "status": HTML, "captions": {name: HTML},
    # "charts": {name: chart_data(...)}}, source and status first (bench/load.py reads them without decoding the rest).
    view: bytes
    playing: bool  # the run's state when the frame was made
    finished: bool


def make_frame(
    snapshot: Snapshot, data: Dataset, epochs: int, playing: bool, sharing: int, presenting: bool, source: str | None = None
) -> Frame:
    """The frame of a run: epochs is the run's length, sharing how many other runs train in turns with it.

    source: where the page fetches the next frame from (dropviz/web/frame_route.py); kept only while the run plays, so
    the page stops asking when it stops.
    """
    big = for_projector if presenting else (lambda spec: spec)
    text_scale = PROJECTOR_SCALE if presenting else 1.0
    plane = data.x_train.shape[1] == 2
    if plane:
        mapped = with_maps(snapshot, MAP_GRID, MAP_NODES)  # each drawn neuron as its picture over the plane
        specs = {"network": network_spec(mapped, text_scale=text_scale), "boundary": boundary_spec(snapshot, data)}
    else:
        specs = {
            "network": network_spec(snapshot, max_nodes=MAP_NODES, input_image=_tracked_picture(snapshot, data), text_scale=text_scale),
            "boundary": _digits(snapshot, data, presenting),
        }
    specs["curves"] = curves_spec(snapshot.history)
    status = status_line(snapshot, epochs, playing, sharing)
    view = {
        "source": source if playing else None,
        "status": markdown_html(status),
        "captions": _CAPTIONS_HTML if plane else _IMAGE_CAPTIONS_HTML,
        "charts": {key: chart_data(big(spec), key, PLOT_CONFIG) for key, spec in specs.items()},
    }
    # One encoding, here: arrays as base64 (_typed_array); NaN refused, as plotly.js would misread it. The view is a tree
    # built for this frame (no container holds itself), so the encoder need not look for cycles.
    encoded = json.dumps(view, default=_typed_array, allow_nan=False, check_circular=False)
    return Frame(status, encoded.encode(), playing, snapshot.finished)


def markdown_html(text: str) -> str:
    """The markdown status_line and CAPTIONS use (**bold**, two spaces and a newline between lines) as HTML, a <div> per
    line (so a line's text is an element's, as a page test finds it); the rest escaped."""
    bold = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
    return "".join(f"<div>{line}</div>" for line in bold.split("  \n"))


_CAPTIONS_HTML = {key: markdown_html(text) for key, text in CAPTIONS.items()}
_IMAGE_CAPTIONS_HTML = {key: markdown_html(text) for key, text in IMAGE_CAPTIONS.items()}


def _tracked_picture(snapshot: Snapshot, data: Dataset) -> str:
    """The tracked training example's pixels as a data URI, the pixels input dropout switched off crossed; before the
    first step, the first training example, all kept."""
    index = snapshot.tracked_index or 0
    keep = snapshot.masks[0] if snapshot.masks else np.ones(data.x_train.shape[1], bool)
    return input_image_uri(data.x_train[index], keep)


def _digits(snapshot: Snapshot, data: Dataset, presenting: bool) -> dict:
    """The strip of validation digits with each run's answers and, unless presenting, the runs' confusion matrices, as
    of the last epoch. Presenting: one digit per class, so that the answers' large type has room side by side."""
    index = strip_examples(data.y_val, **({"count": data.classes} if presenting else {}), classes=data.classes)
    predicted = snapshot.val_predicted  # {} before the first epoch ends
    matrices = None if presenting else {
        run: confusion(data.y_val, predicted[run], data.classes) if predicted else np.zeros((data.classes,) * 2, np.int64)
        for run in RUN_NAMES
    }  # fmt: skip
    strip = {run: values[index] for run, values in predicted.items()}
    text_scale = PROJECTOR_SCALE if presenting else 1.0
    return digits_spec(data.x_val[index], data.y_val[index], strip, matrices, data.flipped_val[index], text_scale)


def status_line(snapshot: Snapshot, epochs: int, playing: bool, sharing: int) -> str:
    """One line per run: epoch, losses, accuracies, gap, and the run's status."""
    diverged = all(snapshot.history.runs[run].status != "ok" for run in RUN_NAMES)
    if snapshot.finished and diverged:
        done = " · **stopped: both runs diverged**: the learning rate is likely too high; lower it (training restarts) or press Reset"
    elif snapshot.finished:
        done = " · **finished**: raise Epochs to go on"
    else:
        done = ""
    if playing and sharing:
        done += f" · training in turns with {sharing} other {'run' if sharing == 1 else 'runs'} on this processor core"
    lines = [f"**Epoch {snapshot.epoch}** of {epochs} · step {snapshot.step}{done}"]
    for run in RUN_NAMES:
        h = snapshot.history.runs[run]
        if h.epochs == 0:
            state = "no epoch finished yet" if h.status == "ok" else f"**{h.status}: lower the learning rate**"
            lines.append(f"{display_name(run)}: {state}")
            continue
        gap = round(float(h.val_loss[-1] - h.train_loss[-1]), 3) + 0.0  # + 0.0: a gap that rounds to 0 reads +0.000, not -0.000
        status = "" if h.status == "ok" else f" · **{h.status}: lower the learning rate**"
        lines.append(
            f"{display_name(run)}: loss train {h.train_loss[-1]:.3f} / validation {h.val_loss[-1]:.3f} · "
            f"accuracy {h.train_acc[-1]:.1%} / {h.val_acc[-1]:.1%} · gap {gap:+.3f}{status}"
        )
    return "  \n".join(lines)


def spec_json(spec: dict) -> str:
    """A figure spec (figures.*_spec) as the browser gets it: JSON, arrays as base64, no template (the page's theme
    colours it). tests/web/test_frames.py checks that it is the figure go.Figure(spec).to_json() gives.
    """
    return json.dumps(_browser_figure(spec), default=_typed_array, allow_nan=False)


def _browser_figure(spec: dict) -> dict:
    """spec_json before encoding: NumPy arrays still in it."""
    data = [_without_nulls(trace) for trace in spec["data"]]
    layout = _without_nulls({key: value for key, value in spec["layout"].items() if key != "template"})
    return {"data": data, "layout": layout}


def _without_nulls(value):
    """Layout settings left None mean "Plotly's default"; plotly.js would fail on a null container. Arrays untouched."""
    if isinstance(value, dict):
        # Leaves are tested here rather than in a call each: a frame's figures hold hundreds of them.
        return {key: _without_nulls(item) if isinstance(item, dict) else item for key, item in value.items() if item is not None}
    return value


_TYPED = {
    np.dtype(name): code
    for name, code in (
        ("float32", "f4"),
        ("float64", "f8"),
        ("int8", "i1"),
        ("uint8", "u1"),
        ("int16", "i2"),
        ("uint16", "u2"),
        ("int32", "i4"),
        ("uint32", "u4"),
    )
}  # plotly.js's typed arrays, by dtype
# (not by dtype.name, which NumPy builds anew on each call, for every array of every frame)


def _typed_array(value):
    """A NumPy array -> plotly.js's {dtype, bdata (base64), shape}; a NumPy number -> a Python number."""
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"not JSON: {type(value).__name__}")
    if value.dtype == np.int64 and (value.size == 0 or np.abs(value).max() < 2**31):
        value = value.astype(np.int32)
    code = _TYPED.get(value.dtype)
    if code is None:
        return value.tolist()
    array = np.ascontiguousarray(value)
    typed = {"dtype": code, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}
    if array.ndim > 1:
        typed["shape"] = ", ".join(str(n) for n in array.shape)
    return typed


def chart_data(spec: dict, key: str, config: dict) -> dict:
    """One chart of a frame's view, before encoding: the figure as spec_json gives it, its config, name and height."""
    return {"figure": _browser_figure(spec), "config": config, "name": key, "height": spec["layout"].get("height") or 360}
