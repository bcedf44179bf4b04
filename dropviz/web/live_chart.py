"""The live page's view: a Streamlit component that shows the status line and three Plotly charts and, frame after frame, updates them in place.

Why not st.markdown and st.plotly_chart: the latter redraws the whole figure on every frame, which a slow
browser cannot keep up with for the page's three figures (bench/ui.py); the page (dropviz/web/live_chart.js) redraws only
what changed, and frames never queue. And one element per frame, whose bytes the worker made, is the least a
class's page server can do per frame: four elements, each encoded here, cost its one interpreter several times more.
While the run plays, the page fetches the next frames itself (dropviz/web/frame_route.py), without a script run each.
plotly.js (dropviz/web/plotly_js.py: its basic bundle, or the plotly package's full one) is served by Streamlit's static
file serving (`server.enableStaticServing` in .streamlit/config.toml) from static/ next to app.py.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import streamlit as st

from . import plotly_js

JS = (Path(__file__).with_name("live_chart.js")).read_text()
CSS = (Path(__file__).with_name("live_chart.css")).read_text()  # the view's layout
PLOTLY_FILE = "plotly.min.js"  # in static/, whichever bundle it is: live_chart.js and PRELOAD load app/static/plotly.min.js

_component = st.components.v2.component("dropviz.live_chart", js=JS, css=CSS, isolate_styles=False)  # plotly.js styles the page


@functools.cache
def serve_plotly_js(app_dir: Path) -> Path:
    """Once per process: copies plotly.js (plotly_js.bundle(): the basic bundle when setup fetched it) to
    app_dir/static/plotly.min.js, where the page loads it from."""
    source, target = plotly_js.bundle(), app_dir / "static" / PLOTLY_FILE
    if not target.exists() or target.read_bytes() != source.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)  # atomic: a page never loads half a file
    return target


# Runs in the page (st.html with JavaScript): adds the script tag that dropviz/web/live_chart.js then waits for.
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
    """Makes the browser start loading plotly.js (a large file, whichever bundle) with the page's first elements,
    not when the first chart arrives."""
    st.html(PRELOAD, unsafe_allow_javascript=True)


def live_view(view: bytes, on_stopped, on_neuron) -> None:
    """Shows a frame's view (frames.Frame.view); on the next frames the browser changes only what changed.

    While the view has a source (its run plays), the page fetches the next frames from it by itself. When a
    fetched frame has none (the run stopped), the page sends the "stopped" trigger: on_stopped(), then a rerun.
    A click on a neuron of the graph sends the "neuron" trigger, [column, unit]: on_neuron(), which reads
    clicked_neuron(), then a rerun.
    """
    _component(key="live", data=view, on_stopped_change=on_stopped, on_neuron_change=on_neuron)


def clicked_neuron() -> tuple[int, int] | None:
    """(column, unit) of the neuron just clicked in the graph, in on_neuron; None if the trigger carries none."""
    value = getattr(st.session_state.get("live"), "neuron", None)
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int | float) for v in value):
        return None  # a trigger comes from the browser: anything but two numbers is ignored
    return int(value[0]), int(value[1])
