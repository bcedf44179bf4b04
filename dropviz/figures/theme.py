"""One theme and the layout pieces every figure shares: THEME (each colour, width and size, one meaning per colour),
the plain-dict trace and figure, the base layout, the bottom legend, notes, and the projector's enlargement.

Not here: any figure; network.py, curves.py and boundary.py build the live page's three, dropviz/experiments/ the
Experiments tab's, all from this THEME.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import raster


@dataclass(frozen=True)
class Theme:
    """Every colour, width and size the figures use, one meaning per colour across the page and the Experiments tab.

    Okabe-Ito colours (safe for colour-blind readers): classes are vermillion / blue, the two runs bluish green
    (dropout) / reddish purple (twin); train vs validation is line style (dashed / solid), never colour; weight
    signs are line style too (solid / dotted) in a neutral grey. Shapes repeat each meaning for readers without colour.
    """

    class_colors: tuple[str, str] = ("#D55E00", "#0072B2")  # class 0 vermillion, class 1 blue: points and boundaries
    # Ten classes (a file of points may have up to ten): class_colors first, then the other Okabe-Ito colours (the runs'
    # two included: in the boundary they colour classes, never runs), black, and two greys.
    class_palette: tuple[str, ...] = (
        "#D55E00", "#0072B2", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#CC79A7", "#000000", "#7F7F7F", "#C4C4C4",
    )  # fmt: skip
    run_colors: tuple[str, str] = ("#009E73", "#CC79A7")  # dropout bluish green, twin reddish purple: curves, bands, runs
    run_symbols: tuple[str, str] = ("star", "diamond")  # each run's best-validation marker
    split_dash: tuple[tuple[str, str], ...] = (("train", "dash"), ("validation", "solid"))  # the split is line style
    train_width: float = 1.6  # training lines thinner than validation ones: a second cue besides the dash
    curve_width: float = 2.4  # validation lines
    weight: str = "#8C8C8C"  # every edge: grey reads on light and dark pages and means no class or run
    weight_dash: tuple[str, str] = ("solid", "dot")  # positive, negative weight
    faded_opacity: float = 0.15  # edges of a switched-off neuron
    edge_widths: tuple[float, float, float] = (0.6, 1.6, 3.2)  # |w| / layer max in [0, 1/3), [1/3, 2/3), [2/3, 1]
    dropped: str = "#8C8C8C"  # a neuron switched off this step: a grey crossed ring (kept neurons wear the run's colour)
    node_line: str = "#7F7F7F"
    map_px_min: float = 8.0  # px side of a neuron's map in the graph; it shrinks with the number of neurons per column
    map_px_max: float = 40.0
    map_background: str = "#FFFFFF"  # a neuron map's tile is opaque, on light and dark pages alike
    map_alpha: float = 0.95  # a neuron map's opacity where its value is largest
    dropped_map_alpha: float = 0.35  # a dropped neuron's map: grey, crossed, and this much of its opacity
    dropped_map_background: str = "#D9D9D9"
    node_size_max: float = 16.0  # px; shrinks with the number of nodes per column
    node_size_min: float = 5.0
    gap_alpha: tuple[float, float] = (0.22, 0.18)  # the runs' gap bands, in their run colours
    optimized: str = "#8C8C8C"  # the with-masks loss: faint, thin, dotted
    optimized_width: float = 1.0
    optimized_opacity: float = 0.8
    best_marker_size: float = 13.0
    event_line: str = "#8C8C8C"
    sequential_scale: str = "Cividis"  # a magnitude (spread, |r|) on a map: no concept's colour, colour-blind safe
    # P(class 1) -> colour: class 0 tint, transparent at 0.5, class 1 tint. Stops repeat at 0.5 so each
    # half fades its own colour rather than passing through grey.
    boundary_scale: tuple[tuple[float, str], ...] = (
        (0.0, "rgba(213, 94, 0, 0.60)"),
        (0.5, "rgba(213, 94, 0, 0.0)"),
        (0.5, "rgba(0, 114, 178, 0.0)"),
        (1.0, "rgba(0, 114, 178, 0.60)"),
    )
    boundary_alpha: float = 0.60  # the live boundary image: the same two tints as boundary_scale, this opaque at 0 and 1
    point_outline: str = "rgba(255, 255, 255, 0.85)"  # separates a point from a region of its own colour
    train_point_size: float = 7.0
    val_point_size: float = 5.0
    val_opacity: float = 0.5
    flipped: str = "#3C3C3C"  # a dark cross with a white edge over a flipped label: reads on both tints and themes
    flipped_size: float = 7.0
    tracked: str = "#000000"  # the tracked example: a thick black ring in a yellow halo, the page's only yellow
    tracked_halo: str = "#F0E442"
    tracked_size: float = 22.0
    tracked_width: float = 3.0
    tracked_ring: float = 0.34  # the boundary's ring around the tracked example: its diameter in data units
    font_size: int = 12
    small_font_size: int = 10
    transparent: str = "rgba(0, 0, 0, 0)"
    network_height: int = 360
    neuron_height: int = 330  # a neuron up close: two maps and its incoming weights
    curves_height: int = 330
    boundary_height: int = 360

    def run_color(self, run: str) -> str:
        """'dropout' -> bluish green, anything else (the twin) -> reddish purple."""
        return self.run_colors[0 if run == "dropout" else 1]

    def gap_fill(self, index: int) -> str:
        """The gap band of run index (0 dropout, 1 twin): its run colour, translucent."""
        r, g, b = raster.hex_rgb(self.run_colors[index % 2])
        return f"rgba({r}, {g}, {b}, {self.gap_alpha[index % 2]})"


THEME = Theme()

# Plain dicts: Plotly's object checks run where a test makes a go.Figure of a spec (tests/figures/test_figures.py).
scatter = functools.partial(dict, type="scatter")


def figure_spec(data: list[dict], layout: dict) -> dict:
    return {"data": data, "layout": layout}


_DISPLAY_NAMES = {"dropout": "with dropout", "twin": "no-dropout twin"}  # panel titles


def display_name(run: str) -> str:
    """'dropout' -> 'with dropout', 'twin' -> 'no-dropout twin'; any other name unchanged."""
    return _DISPLAY_NAMES.get(run, run)


def float32_gaps(values) -> np.ndarray:
    """float32 copy with every non-finite value (and None) as NaN: Plotly draws a gap there."""
    with np.errstate(all="ignore"):
        out = np.asarray(values, dtype=np.float64).astype(np.float32)  # finite float64 may overflow float32
    out[~np.isfinite(out)] = np.nan
    return out


def rgba(hex_colour: str, alpha: float) -> str:
    """'#D55E00', 0.22 -> 'rgba(213, 94, 0, 0.22)'."""
    r, g, b = raster.hex_rgb(hex_colour)
    return f"rgba({r}, {g}, {b}, {alpha})"


def base_layout(height: int, uirevision: str, **extra) -> dict:
    return dict(
        height=height,
        paper_bgcolor=THEME.transparent,
        plot_bgcolor=THEME.transparent,
        font={"size": THEME.font_size},  # no colour: the page template picks one for its theme
        uirevision=uirevision,
        **extra,
    )


def plane_image(source: str, axis, xaxis: str, yaxis: str, **extra) -> dict:
    """A layout image of a grid over the plane: axis (G,) holds the cell centres, so it reaches half a cell beyond them."""
    axis = np.asarray(axis, dtype=np.float64)
    cell = float(axis[1] - axis[0]) if len(axis) > 1 else 1.0
    side = float(axis[-1] - axis[0]) + cell
    return {
        "source": source,
        "xref": xaxis,
        "yref": yaxis,
        "x": float(axis[0]) - cell / 2,
        "y": float(axis[-1]) + cell / 2,
        "sizex": side,
        "sizey": side,
        "xanchor": "left",
        "yanchor": "top",
        "sizing": "stretch",
        **extra,
    }


def bottom_legend(y: float) -> dict:
    return {"orientation": "h", "x": 0.5, "xanchor": "center", "y": y, "yanchor": "top", "font": {"size": THEME.small_font_size}}


def note(x: float, y: float, text: str, small: bool = False, **place) -> dict:
    """A text annotation without an arrow; font colour left to the template."""
    note = {"x": x, "y": y, "text": text, "showarrow": False, **place}
    if small:
        note["font"] = {"size": THEME.small_font_size}
    return note


PANEL_AXES = (("x", "y"), ("x2", "y2"))  # (Loss, Accuracy) subplots of curves.py; (left, right) panels of boundary.py


PROJECTOR_SCALE = 1.5  # presentation mode's type, against the page's


def for_projector(spec: dict) -> dict:
    """The same figure spec with type and height enlarged by half, for presentation mode: the page's font, every size
    set apart from it (the legends', a note's, the title's with its margin), and each axis's ticks and title, which
    Streamlit's chart template would otherwise size. Modifies and returns spec."""
    scale = PROJECTOR_SCALE
    layout = spec["layout"]
    layout["height"] = int((layout.get("height") or 360) * scale)
    layout["font"] = {**layout.get("font", {}), "size": THEME.font_size * scale}
    legends = [part for key, part in layout.items() if key.startswith("legend") and isinstance(part, dict)]  # legend2...
    for part in [*legends, *(layout.get("annotations") or ())]:
        if (part.get("font") or {}).get("size"):
            part["font"] = {**part["font"], "size": part["font"]["size"] * scale}
    if isinstance(layout.get("title"), dict):  # it sits in the top margin, whose room grows with it
        layout["title"] = {**layout["title"], "font": _enlarged(layout["title"].get("font"), scale)}
        layout["margin"] = {**layout.get("margin", {}), "t": round(layout.get("margin", {}).get("t", 100) * scale)}  # 100: plotly.js's
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            axis["tickfont"] = _enlarged(axis.get("tickfont"), scale)
            if axis.get("title"):
                title = axis["title"] if isinstance(axis["title"], dict) else {"text": axis["title"]}
                axis["title"] = {**title, "font": _enlarged(title.get("font"), scale)}
    return spec


def _enlarged(font: dict | None, scale: float) -> dict:
    """A font spec whose size (the page's when unset) is scale times larger."""
    return {**(font or {}), "size": ((font or {}).get("size") or THEME.font_size) * scale}
