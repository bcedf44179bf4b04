"""The decision boundary of both runs: P(class 1) (or the likeliest of more classes) on the grid as images, under the points.

Not here: the model's evaluation on the grid (the engine's, in the Snapshot), or the PNG encoding (raster.py).
"""

from __future__ import annotations

import numpy as np

from ..core.data import EXTENT, Dataset
from ..core.records import RUN_NAMES, Snapshot
from . import raster
from .theme import PANEL_AXES, THEME, base_layout, bottom_legend, display_name, figure_spec, float32_gaps, note, plane_image, scatter

# Grid points per axis of the boundary image the page asks the engine for: the browser smooths the image, and a finer
# grid costs each frame more than it shows.
BOUNDARY_GRID = 48


def _points(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (n, 2), mask (n,) bool -> float32 coordinates of the chosen points."""
    return float32_gaps(x[mask, 0]), float32_gaps(x[mask, 1])


def _boundary_images(snapshot: Snapshot, tracked_xy: np.ndarray | None) -> list[dict]:
    """Layout images: each run's P(class 1) map under its panel's points, then the tracked example's ring on each panel.

    Images, not traces: a new frame changes only these, and the browser redraws an image without
    redrawing the 1200 data points (raster.py).
    """
    axis = np.asarray(snapshot.grid_axis, dtype=np.float64)
    low, high = THEME.class_colors
    images = []
    for (xaxis, yaxis), run in zip(PANEL_AXES, RUN_NAMES):
        proba = snapshot.grid_proba.get(run)
        if proba is None:
            proba = np.full((len(axis), len(axis)), np.nan, dtype=np.float32)
        if proba.ndim == 3:  # more than two classes: (G, G, C)
            picture, name = raster.class_map(proba, THEME.class_palette, THEME.boundary_alpha), "likeliest class"
        else:
            picture, name = raster.probability_map(proba, low, high, THEME.boundary_alpha), "P(class 1)"
        images.append(
            plane_image(raster.data_uri(raster.png(picture)), axis, xaxis, yaxis, name=f"{name}, {display_name(run)}", layer="below")
        )
    for xaxis, yaxis in PANEL_AXES:
        x, y = (float(v) for v in tracked_xy) if tracked_xy is not None else (0.0, 0.0)
        images.append(
            {
                "source": raster.ring(THEME.tracked, halo=THEME.tracked_halo),
                "name": "tracked example",
                "xref": xaxis,
                "yref": yaxis,
                "x": x,
                "y": y,
                "sizex": THEME.tracked_ring,
                "sizey": THEME.tracked_ring,
                "xanchor": "center",
                "yanchor": "middle",
                "sizing": "stretch",
                "layer": "above",
                "visible": tracked_xy is not None,
            }
        )
    return images


def _split_points(data: Dataset) -> dict:
    """Both panels' points, made once a frame: {(split, label): (x, y)} for "train" and "validation" points of each class,
    and {"flipped": (x, y)} for the training points whose label noise flipped, float32."""
    points = {}
    for split, x, y in (("train", data.x_train, data.y_train), ("validation", data.x_val, data.y_val)):
        x, y = np.asarray(x), np.asarray(y)
        for label in range(data.classes):
            points[split, label] = _points(x, y == label)
    points["flipped"] = _points(np.asarray(data.x_train), np.asarray(data.flipped_train, dtype=bool))
    return points


def _panel_traces(points: dict, classes: int, panel: int) -> list[dict]:
    """One panel's traces: train and validation points per class, the flipped labels, the tracked example's legend entry.

    points: _split_points(data), the same arrays in both panels."""
    xaxis, yaxis = PANEL_AXES[panel]
    first = panel == 0  # legend entries come once, from the left panel
    traces = []
    for split, size, opacity, symbol in (
        ("train", THEME.train_point_size, 1.0, "circle"),
        ("validation", THEME.val_point_size, THEME.val_opacity, "circle-open"),
    ):
        for label in range(classes):
            px, py = points[split, label]
            line = {"color": THEME.point_outline, "width": 1} if split == "train" else {"width": 1.2}
            traces.append(
                scatter(
                    x=px,
                    y=py,
                    mode="markers",
                    name=f"{split} · class {label}",
                    legendgroup=f"{split}-{label}",
                    showlegend=first,
                    marker={"symbol": symbol, "size": size, "color": THEME.class_palette[label], "line": line},
                    opacity=opacity,
                    xaxis=xaxis,
                    yaxis=yaxis,
                    hovertemplate=f"{split}, label {label}<extra></extra>",
                )
            )
    fx, fy = points["flipped"]
    traces.append(
        scatter(
            x=fx,
            y=fy,
            mode="markers",
            name="flipped label",
            legendgroup="flipped",
            showlegend=first,
            xaxis=xaxis,
            yaxis=yaxis,
            marker={
                "symbol": "x",
                "size": THEME.flipped_size,
                "color": THEME.flipped,
                "line": {"color": THEME.point_outline, "width": 0.8},
            },
            hovertemplate="training label flipped by label noise<extra></extra>",
        )
    )
    traces.append(
        scatter(  # a legend entry only: one point outside the drawn square
            x=[10 * EXTENT[1]],
            y=[10 * EXTENT[1]],
            mode="markers",
            name="tracked example",
            legendgroup="tracked",
            showlegend=first,
            xaxis=xaxis,
            yaxis=yaxis,
            hoverinfo="skip",
            marker={  # the ring's black on its yellow halo: a black ring alone vanished on a dark page
                "symbol": "circle",
                "size": THEME.tracked_size,
                "color": THEME.tracked_halo,
                "line": {"width": THEME.tracked_width, "color": THEME.tracked},
            },
        )
    )
    return traces


def boundary_spec(snapshot: Snapshot, data: Dataset) -> dict:
    """P(class 1) of both runs on the grid (with more classes, the likeliest class), with the data: "with dropout" left,
    "no-dropout twin" right.

    The probability maps are layout images (layout.images, one per panel in RUN_NAMES order, then
    the tracked example's ring on each panel), so that a new frame changes no trace.
    Traces per panel: "train · class c" for each class c (filled), then "validation · class c" (open, smaller,
    fainter), "flipped label" (a cross on each training point
    whose label noise flipped), "tracked example" (its legend entry only: the ring is an image).
    Legend entries appear once, from the left panel.
    """
    x_train = np.asarray(data.x_train)
    tracked = snapshot.tracked_index
    tracked_xy = x_train[tracked] if tracked is not None and 0 <= tracked < len(x_train) else None

    points = _split_points(data)
    traces = [trace for panel in range(len(RUN_NAMES)) for trace in _panel_traces(points, data.classes, panel)]

    extent = [float(EXTENT[0]), float(EXTENT[1])]
    square = {
        "range": extent,
        "constrain": "domain",
        "showgrid": False,
        "zeroline": False,
        "ticks": "outside",
        "ticklen": 3,
        "dtick": 1,
        "automargin": True,
    }
    titles = [
        note(0.5, 1.0, display_name(run), xref=f"{xaxis} domain", yref="paper", yanchor="bottom")
        for (xaxis, _), run in zip(PANEL_AXES, RUN_NAMES)
    ]
    fig_layout = base_layout(
        THEME.boundary_height,
        uirevision="boundary",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis=dict(square, domain=[0.0, 0.48], anchor="y"),
        xaxis2=dict(square, domain=[0.52, 1.0], anchor="y2"),
        yaxis=dict(square, anchor="x", scaleanchor="x", scaleratio=1),
        yaxis2=dict(square, anchor="x2", scaleanchor="x2", scaleratio=1),
        legend=bottom_legend(-0.08),
        hovermode="closest",
        annotations=titles,
        images=_boundary_images(snapshot, tracked_xy),
    )
    return figure_spec(data=traces, layout=fig_layout)
