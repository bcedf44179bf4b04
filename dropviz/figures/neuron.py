"""A neuron up close: its map over the input plane in both runs side by side, and the weights that feed it.

Not here: the neuron's values (core/neurons.py computes them from a Snapshot's parameters).
"""

from __future__ import annotations

import numpy as np

from ..core.neurons import NeuronCloseup
from ..core.records import RUN_NAMES
from . import raster
from .theme import PANEL_AXES, THEME, base_layout, bottom_legend, display_name, figure_spec, float32_gaps, note, plane_image, rgba

NEURON_GRID = 64  # points per axis of a close-up map: large on screen, and computed once per click, not per frame


def _column_name(column: int, columns: int) -> str:
    return "output" if column == columns else f"hidden {column}"


def _source_names(column: int, count: int) -> list[str]:
    return ["x1", "x2"] if column == 1 else [f"unit {i}" for i in range(count)]


def neuron_spec(view: NeuronCloseup, columns: int) -> dict:
    """Three panels: the neuron's map with dropout, the twin's neuron of the same index (same start), its incoming weights.

    Hidden maps share one diverging scale (class 0 tint negative, class 1 tint positive, white at 0) set by the larger
    |activation| of the two, said under them; the output's map is P(class 1) in the same tints. Maps are layout images
    (layout.images, dropout first). Traces: the incoming weights as bars, one trace per run. columns: L + 1 layers.
    """
    output = view.column == columns
    top = 1.0 if output else max(float(np.nanmax(np.abs(m))) for m in view.maps.values()) or 1.0
    low, high = THEME.class_colors
    axis = np.asarray(view.axis, dtype=np.float64)
    cell = float(axis[1] - axis[0]) if len(axis) > 1 else 1.0
    traces, notes, images = [], [], []
    for panel, run in enumerate(RUN_NAMES):
        xaxis, yaxis = PANEL_AXES[panel]
        proba = view.maps[run] if output else 0.5 * (np.asarray(view.maps[run]) / top + 1.0)  # -top..top -> 0..1
        picture = raster.on_background(raster.probability_map(proba, low, high, THEME.map_alpha), THEME.map_background)
        source = raster.data_uri(raster.png(picture))
        images.append(plane_image(source, axis, xaxis, yaxis, layer="below"))  # an image: the page's plotly.js draws no heatmaps
        notes.append(note(0.5, 1.0, display_name(run), xref=f"{xaxis} domain", yref="paper", yanchor="bottom"))
    scale = (
        "P(class 1): class 0 tint below 0.5, class 1 tint above"
        if output
        else f"activation: class 0 tint at -{top:.2g}, white at 0, class 1 tint at +{top:.2g}"
    )
    names = _source_names(view.column, len(view.incoming[RUN_NAMES[0]]))
    for run in RUN_NAMES:
        traces.append(
            {
                "type": "bar",
                "x": names,
                "y": float32_gaps(view.incoming[run]),
                "name": f"{display_name(run)} (bias {view.bias[run]:+.2f})",
                "marker": {"color": rgba(THEME.run_color(run), 0.85)},
                "xaxis": "x3",
                "yaxis": "y3",
                "hovertemplate": "from %{x}: %{y:.3f}<extra>" + display_name(run) + "</extra>",
            }
        )
    notes.append(note(0.5, 1.0, "incoming weights", xref="x3 domain", yref="paper", yanchor="bottom"))
    extent = [float(axis[0]) - cell / 2, float(axis[-1]) + cell / 2]
    square = {"range": extent, "constrain": "domain", "showgrid": False, "zeroline": False, "ticks": "outside", "ticklen": 3}
    layout = base_layout(
        THEME.neuron_height,
        uirevision=f"neuron-{view.column}-{view.unit}",
        title={
            "text": f"{_column_name(view.column, columns)} · unit {view.unit}<br><sup>{scale}</sup>",
            "x": 0.0,
            "font": {"size": THEME.font_size},
        },
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        xaxis=dict(square, domain=[0.0, 0.29], anchor="y"),
        yaxis=dict(square, anchor="x", scaleanchor="x", scaleratio=1),
        xaxis2=dict(square, domain=[0.33, 0.62], anchor="y2"),
        yaxis2=dict(square, anchor="x2", scaleanchor="x2", scaleratio=1),
        xaxis3={"domain": [0.75, 1.0], "anchor": "y3", "automargin": True, "tickangle": -45},
        yaxis3={"anchor": "x3", "zeroline": True, "automargin": True},
        barmode="group",
        legend=bottom_legend(-0.12),
        annotations=notes,
        images=images,
    )
    return figure_spec(data=traces, layout=layout)
