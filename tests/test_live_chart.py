"""The live chart's Python side: what the browser receives, and plotly.js put where the page loads it from."""

import base64
import json

import numpy as np
import plotly.graph_objects as go

from dropviz import figures
from dropviz.config import RunConfig
from dropviz.engine import Trainer
from dropviz.live_chart import PLOTLY_JS, serve_plotly_js, spec_json


def test_spec_is_json_without_template_or_null_layout_settings():
    fig = go.Figure(go.Scatter(x=[1.0, None, 3.0], y=[1, 2, 3]), layout={"xaxis": {"range": None, "title": {"text": "epoch"}}})
    figure = json.loads(spec_json(fig))
    assert json.loads(json.dumps(figure)) == figure
    assert "template" not in figure["layout"] and "range" not in figure["layout"]["xaxis"]
    assert figure["layout"]["xaxis"]["title"] == {"text": "epoch"}
    assert figure["data"][0]["x"][1] is None  # a gap in the data stays a gap


def test_plotly_js_is_copied_once_and_whole(tmp_path):
    target = serve_plotly_js(tmp_path)
    assert target == tmp_path / "static" / "plotly.min.js"
    assert target.read_bytes() == PLOTLY_JS.read_bytes()
    target.write_bytes(b"stale")  # another version left behind: replaced on the next process's first call
    serve_plotly_js.cache_clear()
    assert serve_plotly_js(tmp_path).stat().st_size == PLOTLY_JS.stat().st_size
    assert not list((tmp_path / "static").glob("*.partial"))


def _plain(value):
    """JSON with plotly.js typed arrays ({dtype, bdata, shape}) decoded to flat lists of floats, NaN as None."""
    if isinstance(value, dict) and "bdata" in value:
        types = {"f4": np.float32, "f8": np.float64, "i1": np.int8, "u1": np.uint8, "i2": np.int16, "u2": np.uint16,
                 "i4": np.int32, "u4": np.uint32}
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
    trainer.advance(0.2)
    snapshot = trainer.snapshot()
    built = [figures.network_figure(snapshot), figures.boundary_figure(snapshot, trainer.data),
             figures.curves_figure(snapshot.history), figures.for_projector(figures.curves_figure(snapshot.history))]
    for fig in built:
        reference = json.loads(fig.to_json())
        reference["layout"].pop("template", None)
        ours = json.loads(spec_json(fig))
        assert _plain(ours) == _plain(reference)
        assert any(isinstance(v, dict) and "bdata" in v for trace in ours["data"] for v in trace.values())  # arrays stay binary
