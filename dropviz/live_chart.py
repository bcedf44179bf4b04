"""The live page's charts: a Streamlit component that draws a Plotly figure and, frame after frame, updates it in place.

Why not st.plotly_chart: it redraws the whole figure on every frame, about 0.7 s of a slow
browser's time for the page's three figures (bench/ui.py). This component sends the same figure
JSON, and the page (dropviz/live_chart.js) redraws only what changed; frames never queue.
plotly.js comes from the installed plotly package, served by Streamlit's static file serving
(`server.enableStaticServing` in .streamlit/config.toml) from static/ next to app.py.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
from pathlib import Path

import numpy as np
import plotly
import plotly.graph_objects as go
import streamlit as st

JS = (Path(__file__).with_name("live_chart.js")).read_text()
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

_component = st.components.v2.component("dropviz.live_chart", js=JS, isolate_styles=False)  # plotly.js styles the page


@functools.cache
def serve_plotly_js(app_dir: Path) -> Path:
    """Once per process: copies plotly.js from the plotly package to app_dir/static/, where the page loads it from."""
    target = app_dir / "static" / PLOTLY_JS.name
    if not target.exists() or target.stat().st_size != PLOTLY_JS.stat().st_size:
        target.parent.mkdir(exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(PLOTLY_JS, partial)
        partial.replace(target)  # atomic: a page never loads half a file
    return target


def spec_json(fig: go.Figure) -> str:
    """The figure as the browser gets it: JSON, arrays as base64, no template (the page's theme colours it).

    Made from the figure's own data and layout without copying them:
    fig.to_json() deep-copies the figure first, a third of a live frame's making (10 of 32 ms).
    tests/test_live_chart.py checks that both give the same figure.
    """
    layout = _without_nulls({key: value for key, value in fig._layout.items() if key != "template"})
    return json.dumps({"data": fig._data, "layout": layout}, default=_typed_array, allow_nan=False)


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


# Runs in the page (st.html with JavaScript): adds the script tag that dropviz/live_chart.js then waits for.
PRELOAD = """<script>
if (!window.Plotly && !document.querySelector("script[data-dropviz-plotly]")) {
  const script = document.createElement("script");
  script.src = "app/static/plotly.min.js";
  script.dataset.dropvizPlotly = "";
  script.onerror = () => script.remove();  // the charts then load it themselves, and say so if that fails too
  document.head.appendChild(script);
}
</script>"""


def preload_plotly() -> None:
    """Makes the browser start loading plotly.js (4.8 MB) with the page's first elements, not when the first chart arrives."""
    st.html(PRELOAD, unsafe_allow_javascript=True)


def chart_data(fig: go.Figure, key: str, config: dict) -> dict:
    """What live_chart sends for fig under key: made apart from sending, so a page can make a frame before it shows it."""
    # Strings, not dicts: Streamlit looks for data frames in a dict's values, and its first look imports pandas (0.7 s).
    return {"figure": spec_json(fig), "config": json.dumps(config), "name": key, "height": fig.layout.height or 360}


def live_chart(data: dict) -> None:
    """Draws chart_data(...) under its key; on the next frames with the same key the browser changes only what changed."""
    _component(key=data["name"], data=data)
