"""The live page's view: a Streamlit component that shows the status line and three Plotly charts and, frame after frame, updates them in place.

Why not st.markdown and st.plotly_chart: the latter redraws the whole figure on every frame, which a slow
browser cannot keep up with for the page's three figures (bench/ui.py); the page (dropviz/web/live_chart.js) redraws only
what changed, and frames never queue. And one element per frame, whose bytes the worker made, is the least a
class's page server can do per frame: four elements, each encoded here, cost its one interpreter several times more.
While the run plays, the page fetches the next frames itself (dropviz/web/frame_route.py), without a script run each.
plotly.js comes as dropviz/web/plotly_js.py serves it, and the page starts loading it with its first elements.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

JS = (Path(__file__).with_name("live_chart.js")).read_text()
CSS = (Path(__file__).with_name("live_chart.css")).read_text()  # the view's layout
_component = st.components.v2.component("dropviz.live_chart", js=JS, css=CSS, isolate_styles=False)  # plotly.js styles the page


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
