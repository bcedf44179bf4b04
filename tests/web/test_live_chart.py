"""The live chart's Python side: plotly.js put where the page loads it from."""

from dropviz.web import plotly_js
from dropviz.web.live_chart import serve_plotly_js


def test_plotly_js_is_copied_once_and_whole(tmp_path):
    target = serve_plotly_js(tmp_path)
    assert target == tmp_path / "static" / "plotly.min.js"
    assert target.read_bytes() == plotly_js.bundle().read_bytes()
    target.write_bytes(b"stale")  # another version left behind: replaced on the next process's first call
    serve_plotly_js.cache_clear()
    assert serve_plotly_js(tmp_path).read_bytes() == plotly_js.bundle().read_bytes()
    assert not list((tmp_path / "static").glob("*.partial"))


def test_the_bundle_served_follows_what_npm_installed(tmp_path, monkeypatch):
    monkeypatch.setattr(plotly_js, "NODE_MODULES", tmp_path / "node_modules")  # nothing installed: the plotly package's full bundle
    serve_plotly_js.cache_clear()
    assert serve_plotly_js(tmp_path / "app").read_bytes() == plotly_js.FULL.read_bytes()
    plotly_js.basic_path().parent.mkdir(parents=True)
    plotly_js.basic_path().write_bytes(b"/* the basic bundle */")
    serve_plotly_js.cache_clear()
    assert serve_plotly_js(tmp_path / "app").read_bytes() == b"/* the basic bundle */"  # same size check would not do
    serve_plotly_js.cache_clear()
