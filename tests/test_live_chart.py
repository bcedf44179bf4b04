"""The live chart's Python side: plotly.js put where the page loads it from."""

from dropviz.live_chart import PLOTLY_JS, serve_plotly_js


def test_plotly_js_is_copied_once_and_whole(tmp_path):
    target = serve_plotly_js(tmp_path)
    assert target == tmp_path / "static" / "plotly.min.js"
    assert target.read_bytes() == PLOTLY_JS.read_bytes()
    target.write_bytes(b"stale")  # another version left behind: replaced on the next process's first call
    serve_plotly_js.cache_clear()
    assert serve_plotly_js(tmp_path).stat().st_size == PLOTLY_JS.stat().st_size
    assert not list((tmp_path / "static").glob("*.partial"))
