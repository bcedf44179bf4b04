"""Frame: what one tick of the live page shows (status line and the three charts' JSON), made from a snapshot. Pure.

Made where the run trains (dropviz/worker.py), so that building figures and their JSON (about 10 ms a
frame with the snapshot, 4 of it the boundary grid) does not hold the page server's interpreter lock. No Streamlit here: the page sends
these strings through dropviz/live_chart.py.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np

from . import figures
from .data import Dataset
from .records import RUN_NAMES, Snapshot

PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


@dataclass(frozen=True)
class Frame:
    status: str  # markdown, one line per run
    charts: dict[str, dict]  # "network" / "boundary" / "curves" -> chart_data(...)
    playing: bool  # the run's state when the frame was made
    finished: bool


def make_frame(snapshot: Snapshot, data: Dataset, epochs: int, playing: bool, sharing: int, presenting: bool) -> Frame:
    """The frame of a run: epochs is the run's length, sharing how many other runs train in turns with it."""
    big = figures.for_projector if presenting else (lambda spec: spec)
    specs = {"network": figures.network_spec(snapshot), "boundary": figures.boundary_spec(snapshot, data),
             "curves": figures.curves_spec(snapshot.history)}
    charts = {key: chart_data(big(spec), key, PLOT_CONFIG) for key, spec in specs.items()}
    return Frame(status_line(snapshot, epochs, playing, sharing), charts, playing, snapshot.finished)


def status_line(snapshot: Snapshot, epochs: int, playing: bool, sharing: int) -> str:
    """One line per run: epoch, losses, accuracies, gap, and the run's status."""
    done = " · **finished**: raise Epochs to go on" if snapshot.finished else ""
    if playing and sharing:
        done += f" · training in turns with {sharing} other {'run' if sharing == 1 else 'runs'} on this processor core"
    lines = [f"**Epoch {snapshot.epoch}** of {epochs} · step {snapshot.step}{done}"]
    for run in RUN_NAMES:
        h = snapshot.history.runs[run]
        if h.epochs == 0:
            lines.append(f"{figures.display_name(run)}: {h.status if h.status != 'ok' else 'no epoch finished yet'}")
            continue
        gap = h.val_loss[-1] - h.train_loss[-1]
        status = "" if h.status == "ok" else f" · **{h.status}: lower the learning rate**"
        lines.append(
            f"{figures.display_name(run)}: loss train {h.train_loss[-1]:.3f} / validation {h.val_loss[-1]:.3f} · "
            f"accuracy {h.train_acc[-1]:.1%} / {h.val_acc[-1]:.1%} · gap {gap:+.3f}{status}"
        )
    return "  \n".join(lines)


def spec_json(spec: dict) -> str:
    """A figure spec (figures.*_spec) as the browser gets it: JSON, arrays as base64, no template (the page's theme
    colours it). tests/test_frames.py checks that it is the figure go.Figure(spec).to_json() gives.
    """
    data = [_without_nulls(trace) for trace in spec["data"]]
    layout = _without_nulls({key: value for key, value in spec["layout"].items() if key != "template"})
    return json.dumps({"data": data, "layout": layout}, default=_typed_array, allow_nan=False)


def _without_nulls(value):
    """Layout settings left None mean "Plotly's default"; plotly.js would fail on a null container. Arrays untouched."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


_TYPED = {"float32": "f4", "float64": "f8", "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4",
          "uint32": "u4"}  # plotly.js's typed arrays


def _typed_array(value):
    """A NumPy array -> plotly.js's {dtype, bdata (base64), shape}; a NumPy number -> a Python number."""
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"not JSON: {type(value).__name__}")
    if value.dtype == np.int64 and (value.size == 0 or np.abs(value).max() < 2**31):
        value = value.astype(np.int32)
    code = _TYPED.get(value.dtype.name)
    if code is None:
        return value.tolist()
    array = np.ascontiguousarray(value)
    typed = {"dtype": code, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}
    if array.ndim > 1:
        typed["shape"] = ", ".join(str(n) for n in array.shape)
    return typed




def chart_data(spec: dict, key: str, config: dict) -> dict:
    """What live_chart sends for a figure spec under key: made apart from sending, so a page can make a frame before it shows it."""
    # Strings, not dicts: Streamlit looks for data frames in a dict's values, and its first look imports pandas (0.7 s).
    return {"figure": spec_json(spec), "config": json.dumps(config), "name": key, "height": spec["layout"].get("height") or 360}


