"""The live chart's Python side: what the browser receives, and plotly.js put where the page loads it from."""

import json

import plotly.graph_objects as go

from dropviz.live_chart import PLOTLY_JS, serve_plotly_js, spec


def test_spec_is_json_without_template_or_null_layout_settings():
    fig = go.Figure(go.Scatter(x=[1.0, None, 3.0], y=[1, 2, 3]), layout={"xaxis": {"range": None, "title": {"text": "epoch"}}})
    figure = spec(fig)
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
