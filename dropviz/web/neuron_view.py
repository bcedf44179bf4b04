"""The "A neuron up close" panel under the live view: pick a neuron, see it large in both runs, with what the maps teach."""

from __future__ import annotations

import streamlit as st

from ..core.neurons import closeup
from ..core.presets import NEURON_MAPS_LESSON
from ..core.records import Snapshot
from ..figures.neuron import NEURON_GRID, neuron_spec
from ..figures.theme import for_projector

COLUMN_KEY, UNIT_KEY = "neuron_column", "neuron_unit"  # session state: the neuron picked (the graph's click sets them too)
OPEN_KEY = "closeup"  # session state of the panel's expander


def pick(neuron: tuple[int, int] | None, sizes: tuple[int, ...]) -> None:
    """Modifies session state: a neuron clicked in the graph, (column, unit) of sizes (2, hidden..., 2), becomes the
    picked one and opens the panel; an input, or a neuron the network does not have, changes nothing."""
    if neuron is None:
        return
    column, unit = neuron
    if 1 <= column < len(sizes) and 0 <= unit < sizes[column]:
        st.session_state[COLUMN_KEY], st.session_state[UNIT_KEY] = column, unit
        st.session_state[OPEN_KEY] = True


def _column_label(column: int, columns: int) -> str:
    return "output" if column == columns else f"hidden {column}"


def neuron_panel(snapshot: Snapshot, presenting: bool = False) -> None:
    """Writes the lesson, the neuron pickers and the close-up figure of the picked neuron into the current container;
    presenting: the figure's type enlarged for a projector."""
    st.markdown(NEURON_MAPS_LESSON)
    columns = len(snapshot.sizes) - 1  # hidden layers and the output: the columns with incoming weights
    if st.session_state.get(COLUMN_KEY) not in range(1, columns + 1):
        st.session_state[COLUMN_KEY] = 1
    left, right = st.columns(2)
    column = left.selectbox(
        "Layer", range(1, columns + 1), key=COLUMN_KEY, format_func=lambda c: _column_label(c, columns), help="Where the neuron sits."
    )
    units = int(snapshot.sizes[column])
    if not 0 <= st.session_state.get(UNIT_KEY, 0) < units:
        st.session_state[UNIT_KEY] = 0
    unit = right.number_input(
        "Unit", min_value=0, max_value=units - 1, step=1, key=UNIT_KEY, help=f"0 to {units - 1}, as the graph numbers them."
    )
    view = closeup(snapshot, column, int(unit), NEURON_GRID)
    spec = neuron_spec(view, columns)
    st.plotly_chart(for_projector(spec) if presenting else spec, key="neuron_closeup", config={"displayModeBar": False})
