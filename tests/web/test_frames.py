"""frames: a run's frame (status line, the live view's JSON) as the page receives it from a worker."""

import base64
import dataclasses
import json

import numpy as np
import plotly.graph_objects as go

from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer
from dropviz.core.presets import PRESETS
from dropviz.figures.boundary import BOUNDARY_GRID, boundary_spec
from dropviz.figures.curves import curves_spec
from dropviz.figures.digits import confusion, input_image_uri
from dropviz.figures.network import network_spec
from dropviz.figures.theme import for_projector
from dropviz.web.frames import CAPTIONS, make_frame, markdown_html, spec_json, status_line


def test_spec_is_json_without_template_or_null_layout_settings():
    fig = go.Figure(go.Scatter(x=[1.0, None, 3.0], y=[1, 2, 3]), layout={"xaxis": {"range": None, "title": {"text": "epoch"}}})
    figure = json.loads(spec_json(fig.to_plotly_json()))
    assert json.loads(json.dumps(figure)) == figure
    assert "template" not in figure["layout"] and "range" not in figure["layout"]["xaxis"]
    assert figure["layout"]["xaxis"]["title"] == {"text": "epoch"}
    assert figure["data"][0]["x"][1] is None  # a gap in the data stays a gap


def _plain(value):
    """JSON with plotly.js typed arrays ({dtype, bdata, shape}) decoded to flat lists of floats, NaN as None."""
    if isinstance(value, dict) and "bdata" in value:
        types = {
            "f4": np.float32,
            "f8": np.float64,
            "i1": np.int8,
            "u1": np.uint8,
            "i2": np.int16,
            "u2": np.uint16,
            "i4": np.int32,
            "u4": np.uint32,
        }
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=types[value["dtype"]]).astype(float)
        return [None if np.isnan(v) else v for v in flat]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        flat = [_plain(item) for item in value]
        if flat and all(isinstance(item, list) for item in flat):
            flat = [v for item in flat for v in item]  # a 2-D list: rows one after another, as bdata is
        return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in flat]
    return value


def test_spec_json_gives_the_figure_plotly_itself_would_send():
    trainer = Trainer(RunConfig(epochs=50, n_train=40, hidden=(40, 3), p=(0.5, 0.5)))
    trainer.train(trainer.steps_per_epoch)
    snapshot = trainer.snapshot(BOUNDARY_GRID)
    built = [
        network_spec(snapshot),
        boundary_spec(snapshot, trainer.data),
        curves_spec(snapshot.history),
        for_projector(curves_spec(snapshot.history)),
    ]
    for spec in built:
        reference = json.loads(go.Figure(spec).to_json())  # checked by Plotly's own constructor
        reference["layout"].pop("template", None)
        ours = json.loads(spec_json(spec))
        ours["layout"] = {key: value for key, value in ours["layout"].items() if value != []}  # Plotly leaves these out
        assert _plain(ours) == _plain(reference)
        assert any(isinstance(v, dict) and "bdata" in v for trace in ours["data"] for v in trace.values())  # arrays stay binary


def test_a_frame_holds_the_three_charts_and_says_when_runs_share_a_core():
    trainer = Trainer(RunConfig(epochs=3, n_train=40, hidden=(6,), p=(0.5,)))
    trainer.train(trainer.steps_per_epoch)
    alone = make_frame(trainer.snapshot(BOUNDARY_GRID), trainer.data, 3, playing=True, sharing=0, presenting=False)
    view = json.loads(alone.view)
    assert set(view["charts"]) == set(view["captions"]) == set(CAPTIONS) == {"network", "boundary", "curves"}
    assert all(chart["figure"]["data"] and chart["name"] == name for name, chart in view["charts"].items())
    assert view["status"] == markdown_html(alone.status)
    assert alone.status.startswith(f"**Epoch {trainer.epoch}** of 3") and "in turns" not in alone.status
    shared = make_frame(trainer.snapshot(BOUNDARY_GRID), trainer.data, 3, playing=True, sharing=4, presenting=True)
    assert "training in turns with 4 other runs on this processor core" in shared.status
    assert json.loads(shared.view)["charts"]["curves"]["figure"]["layout"]["font"]["size"] > (
        view["charts"]["curves"]["figure"]["layout"].get("font", {}).get("size", 0)
    )  # presentation mode: larger type


def test_the_status_becomes_html_with_everything_else_escaped():
    assert markdown_html("**Epoch 3** of 5 · step 9  \nwith dropout: <b>x</b> & y") == (
        "<div><strong>Epoch 3</strong> of 5 · step 9</div><div>with dropout: &lt;b&gt;x&lt;/b&gt; &amp; y</div>"
    )


def test_a_digits_frame_draws_the_tracked_digit_as_seen_and_validation_digits_in_place_of_boundaries():
    trainer = Trainer(PRESETS["handwritten digits"].config)
    trainer.train(trainer.steps_per_epoch)  # one epoch: predictions exist, and the last step's masks
    snapshot = trainer.snapshot(BOUNDARY_GRID)
    view = json.loads(make_frame(snapshot, trainer.data, 300, True, 0, False, "next").view)
    network = view["charts"]["network"]["figure"]["layout"]["images"]
    picture = next(image for image in network if image["name"] == "input image")
    keep = snapshot.masks[0]
    assert len(keep) == 64 and not keep.all()  # input dropout (p = 0.2) switched some pixels off this step
    assert picture["source"] == input_image_uri(trainer.data.x_train[snapshot.tracked_index], keep)
    digits = view["charts"]["boundary"]["figure"]
    counts = confusion(trainer.data.y_val, snapshot.val_predicted["twin"], 10)
    title = f"no-dropout twin · {int(np.trace(counts))} of 500 right"
    assert title in [a["text"] for a in digits["layout"]["annotations"]]
    assert "Validation digits" in view["captions"]["boundary"] and "Decision boundaries" not in view["captions"]["boundary"]


def test_presenting_digits_shows_one_digit_per_class_and_no_matrices_in_type_enlarged_by_half():
    trainer = Trainer(PRESETS["handwritten digits"].config)
    trainer.train(trainer.steps_per_epoch)
    snapshot = trainer.snapshot(BOUNDARY_GRID)
    view = json.loads(make_frame(snapshot, trainer.data, 300, True, 0, True, "next").view)
    layout = view["charts"]["boundary"]["figure"]["layout"]
    digits = [image for image in layout["images"] if image["name"].startswith("digit ")]
    assert len(digits) == 10 and not [image for image in layout["images"] if image["name"].startswith("confusion")]
    assert not {"xaxis", "yaxis", "xaxis2", "yaxis2"} & set(layout)  # no empty matrix axes left behind
    answers = [trace for trace in view["charts"]["boundary"]["figure"]["data"] if trace["mode"] == "text"]
    assert [trace["textfont"]["size"] for trace in answers] == [18, 18]  # enlarged as for_projector enlarges the rest


def test_a_gap_that_rounds_to_zero_reads_plus_zero_not_minus_zero():
    trainer = Trainer(RunConfig(epochs=5, n_train=40))
    trainer.train(trainer.steps_per_epoch)
    snapshot = trainer.snapshot(BOUNDARY_GRID)
    runs = {run: dataclasses.replace(h, val_loss=h.train_loss - 1e-5) for run, h in snapshot.history.runs.items()}
    level = dataclasses.replace(snapshot, history=dataclasses.replace(snapshot.history, runs=runs))
    status = status_line(level, 5, False, 0)
    assert status.count("gap +0.000") == 2 and "-0.000" not in status, status
