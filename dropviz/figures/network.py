"""The network graph of one run: nodes per column, edges styled by weight sign and size, this step's dropped neurons.

Not here: the colours and sizes (theme.py), or any number it draws: weights and masks arrive in a Snapshot.
"""

from __future__ import annotations

import base64
import functools
import itertools
from dataclasses import dataclass

import numpy as np

from ..core.records import Snapshot
from . import raster
from .theme import THEME, base_layout, bottom_legend, figure_spec, note, scatter

_MAX_GAP = 0.8  # y distance between neighbouring nodes of a short column; the tallest spans [-1, 1]
# The graph's neuron maps (core/neurons.py), as the live page asks for them: points per axis of a map drawn about
# 20 px wide, and neurons per column, few enough for a map to read, the same first units in both runs.
MAP_GRID = 16
MAP_NODES = 10
_PX_PER_Y = 300 / 2.5  # about how many px one y unit takes at THEME.network_height: node and map sizes follow it
_LINE_HEIGHT = 1.3  # a line of plotly.js's text, in font sizes


@dataclass(frozen=True)
class _NetworkLayout:
    """Where every drawn node and edge of one network shape goes. Read-only arrays, cached per shape."""

    shown: tuple[int, ...]  # units drawn per column: min(size, max_nodes), always units 0..shown-1
    col_start: tuple[int, ...]  # offset of each column in the node arrays
    node_x: np.ndarray  # (N,) float32
    node_y: np.ndarray  # (N,) float32
    node_id: np.ndarray  # (N, 2) int32 [column, unit]
    node_text: tuple[str, ...]  # (N,) hover labels
    node_size: float  # px
    edge_x: np.ndarray  # (E, 2) float32 start and end x, layer by layer, (dst, src) order within a layer
    edge_y: np.ndarray  # (E, 2) float32
    edge_segments: tuple[str, ...]  # (E,) each edge as SVG, "M x0,y0L x1,y1": a class's path joins its edges' segments
    edge_src: np.ndarray  # (E,) int32 node index
    edge_dst: np.ndarray  # (E,) int32 node index
    top: float  # y of the highest node
    gap: float  # the smallest y distance between neighbouring nodes


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _column_name(column: int, columns: int) -> str:
    return "input" if column == 0 else "output" if column == columns - 1 else f"hidden {column}"


def _column_header(snapshot: Snapshot, run: str, column: int, columns: int) -> str:
    """'hidden 2', with the drop probability in force on a line of its own when the dropout run drops there:
    'hidden 2<br>p=0.5'. Short lines: eight columns' headers side by side fit a phone, and a projector's large type."""
    name = _column_name(column, columns)
    if run != "dropout" or column == columns - 1:
        return name
    if column == 0:
        p = snapshot.p_input_effective
    else:
        p = snapshot.p_effective[column - 1] if column - 1 < len(snapshot.p_effective) else 0.0
    return f"{name}<br>p={p:g}" if p > 0 else name


def _unit_name(column: int, unit: int, columns: int) -> str:
    if column == 0:
        return f"x{unit + 1}"
    if column == columns - 1:
        return f"class {unit}"
    return f"unit {unit}"


@functools.lru_cache(maxsize=32)
def _network_layout(sizes: tuple[int, ...], max_nodes: int) -> _NetworkLayout:
    """Node positions and edge endpoints for a network shape; pure, so cached per (sizes, max_nodes)."""
    columns = len(sizes)
    shown = tuple(min(size, max_nodes) for size in sizes)
    # Each column spreads over y in [-1, 1], but short columns keep neighbours at most MAX_GAP apart.
    gaps = [min(2.0 / (count - 1), _MAX_GAP) if count > 1 else _MAX_GAP for count in shown]
    col_start = tuple(int(v) for v in np.cumsum((0,) + shown[:-1]))
    xs, ys, ids, texts = [], [], [], []
    for column, count in enumerate(shown):
        units = np.arange(count)
        xs.append(np.full(count, column, dtype=np.float32))
        ys.append((((count - 1) / 2 - units) * gaps[column]).astype(np.float32))  # unit 0 on top, centred
        ids.append(np.column_stack([np.full(count, column), units]))
        name = _column_name(column, columns)
        texts.extend(f"{name} · {_unit_name(column, unit, columns)}" for unit in range(count))
    node_x, node_y = np.concatenate(xs), np.concatenate(ys)
    src, dst = [], []
    for layer in range(columns - 1):
        n_in, n_out = shown[layer], shown[layer + 1]
        # Edge order matches weight[:n_out, :n_in].ravel(): dst-major, as nn.Linear stores (out, in).
        src.append(col_start[layer] + np.tile(np.arange(n_in), n_out))
        dst.append(col_start[layer + 1] + np.repeat(np.arange(n_out), n_in))
    edge_src = np.concatenate(src).astype(np.int32)
    edge_dst = np.concatenate(dst).astype(np.int32)
    # Nodes get smaller as columns get taller: about 60% of the smallest gap, at ~300 px for 2.5 y units.
    gap_px = min(gaps) * _PX_PER_Y
    node_size = float(np.clip(0.6 * gap_px, THEME.node_size_min, THEME.node_size_max))
    edge_x = np.column_stack([node_x[edge_src], node_x[edge_dst]])
    edge_y = np.column_stack([node_y[edge_src], node_y[edge_dst]])
    return _NetworkLayout(
        shown=shown,
        col_start=col_start,
        node_x=_readonly(node_x),
        node_y=_readonly(node_y),
        node_id=_readonly(np.concatenate(ids).astype(np.int32)),
        node_text=tuple(texts),
        node_size=node_size,
        edge_x=_readonly(edge_x),
        edge_y=_readonly(edge_y),
        edge_segments=_edge_segments(edge_x, edge_y),
        edge_src=_readonly(edge_src),
        edge_dst=_readonly(edge_dst),
        top=float(node_y.max()),
        gap=float(min(gaps)),
    )


def _dropped_nodes(snapshot: Snapshot, run: str, layout: _NetworkLayout) -> np.ndarray:
    """(N,) bool over drawn nodes: switched off in the last step. Only the dropout run has masks."""
    dropped = np.zeros(len(layout.node_x), dtype=bool)
    if run != "dropout":
        return dropped
    for column, keep in enumerate(snapshot.masks[: len(layout.shown) - 1]):  # input, then hidden; never output
        start, count = layout.col_start[column], layout.shown[column]
        dropped[start : start + count] = ~np.asarray(keep, dtype=bool)[:count]
    return dropped


# Edge classes, bottom to top: faded, then thin to thick, positive before negative in each width.
_EDGE_CLASSES = 1 + 2 * len(THEME.edge_widths)


def _edge_classes(snapshot: Snapshot, run: str, layout: _NetworkLayout, dropped: np.ndarray) -> np.ndarray:
    """(E,) class of each drawn edge: 0 if it touches a dropped neuron, else 1 + 2 * width bin + (w < 0)."""
    weights, relatives = [], []
    n_bins = len(THEME.edge_widths)
    with np.errstate(all="ignore"):
        for layer, params in enumerate(snapshot.params[run]):
            w = np.asarray(params.weight, dtype=np.float32)  # (out, in)
            drawn = w[: layout.shown[layer + 1], : layout.shown[layer]].ravel()
            largest = np.nanmax(np.abs(w)) if w.size else 0.0
            weights.append(drawn)
            relatives.append(np.abs(drawn) / largest if np.isfinite(largest) and largest > 0 else np.zeros_like(drawn))
    w, relative = np.concatenate(weights), np.concatenate(relatives)  # |w| / its layer's largest, binned for all layers at once
    bins = np.minimum((np.nan_to_num(relative) * n_bins).astype(np.int64), n_bins - 1)
    classes = 1 + 2 * bins + (w < 0)
    faded = dropped[layout.edge_src] | dropped[layout.edge_dst]
    return np.where(faded, 0, classes)


def _short(value: float, digits: int) -> str:
    """A path coordinate in as few characters as SVG reads: 0.4000 -> ".4", -0.5 -> "-.5", 1.000 -> "1"."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    text = text.replace("0.", ".", 1) if text.startswith(("0.", "-0.")) else text
    return "0" if text in ("", "-", "-0") else text


def _edge_segments(x: np.ndarray, y: np.ndarray) -> tuple[str, ...]:
    """(E, 2) start and end coordinates -> E SVG lines "M x0,y0L x1,y1", made once per network shape.

    Short numbers (_short): the edges are most of the network's bytes in a frame, 26 characters an edge with fixed
    decimals, about 14 this way."""
    coords = np.column_stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]]).astype(np.float32)
    return tuple(f"M{_short(x0, 3)},{_short(y0, 4)}L{_short(x1, 3)},{_short(y1, 4)}" for x0, y0, x1, y1 in coords.tolist())


def _edge_path(segments: tuple[str, ...], pick: np.ndarray) -> str:
    """The picked edges (pick: (E,) bool) as one SVG path of separate lines: "M x0,y0L x1,y1M ...", joined from the
    layout's cached segments, so that a frame formats no numbers."""
    return "".join(itertools.compress(segments, pick.tolist()))


def _tile_px(layout: _NetworkLayout) -> float:
    """A neuron map's side in px: most of the smallest gap between neighbours, at ~300 px for 2.5 y units."""
    return float(np.clip(0.85 * layout.gap * _PX_PER_Y, THEME.map_px_min, THEME.map_px_max))


def _neuron_tiles(proba: np.ndarray, dropped: np.ndarray, run_colour: str, per_class: bool = False) -> np.ndarray:
    """Maps (U, G, G) in [0, 1] as opaque (U, G, G, 4) tiles: framed in the run's colour, or grey, crossed and
    grey-framed where dropped (U,) is set. In the class colours by P(class 1), or per_class: map u is P(class u), in
    class u's colour."""
    if per_class:
        colours = THEME.class_palette[: len(proba)]
        colour = np.arange(len(proba))[:, None, None]  # unit u in class u's colour
        alpha = np.rint(np.clip(np.nan_to_num(proba[:, ::-1]), 0.0, 1.0) * THEME.map_alpha * 255).astype(np.uint8)
    else:
        colours = THEME.class_colors
        colour, alpha = raster.probability_alpha(proba, THEME.map_alpha)
    # Each pixel is one of a few colours at one of 256 alphas: its opaque colour is a table's row (raster.colour_table).
    kept = raster.on_background_table(colours, THEME.map_background)
    tiles = raster.framed(raster.look_up(kept, colour, alpha), run_colour)  # edges end under a map
    if dropped.any():
        off = raster.switched_off_table(colours, THEME.dropped_map_alpha, THEME.dropped_map_background)
        grey = raster.look_up(off, np.broadcast_to(colour, alpha.shape)[dropped], alpha[dropped])
        tiles[dropped] = raster.framed(raster.crossed(grey, THEME.dropped), THEME.dropped)
    return tiles


def _maps_name(column: int, off: np.ndarray) -> str:
    """The picture's name: "maps of column 1", then "dropped this step 1:3 1:7" when units 3 and 7 are off (tests read it)."""
    dropped = "".join(f" {column}:{unit}" for unit in off)
    return f"maps of column {column}" + (f" dropped this step{dropped}" if len(off) else "")


def _neuron_images(maps: tuple[np.ndarray, ...], layout: _NetworkLayout, dropped: np.ndarray, run: str) -> list[dict]:
    """One layout image per column: its drawn neurons' maps (_neuron_tiles) stacked at their nodes, transparent between.

    maps: per column (U_c, G, G), rows = y; hidden and input maps in [-1, 1] (the class colours by sign, as opaque as
    they are large), the output's P(class 1) on both output nodes (two classes) or each class's probability on its node
    in the class's colour. One image a column, not one a neuron: the browser decodes and places 4 to 8 pictures a frame
    instead of up to 100. Named "maps of column c", then "dropped this step" and the dropped neurons as "c:u" (what the
    tests read).
    """
    if not maps:
        return []
    run_colour = THEME.run_color(run)
    tile_units = _tile_px(layout) / _PX_PER_Y  # a map's side in y units
    counts, offs, probas = [], [], []
    for column, values in enumerate(maps):
        output = column == len(maps) - 1
        count = layout.shown[column] if output else min(len(values), layout.shown[column])
        start = layout.col_start[column]
        counts.append(count)
        offs.append(np.asarray(dropped[start : start + count], dtype=bool))
        one_map = output and len(values) == 1  # two classes: P(class 1) on both output nodes; more: each class's own
        picked = values[np.zeros(count, int)] if one_map else values[:count]
        probas.append(picked if output else 0.5 * (picked + 1.0))  # hidden and input maps are in [-1, 1]
    # Every column's tiles in one pass (the output's apart when it has a colour per class): a frame's small pictures
    # cost more in NumPy's per-call overhead than in pixels.
    per_class = len(maps[-1]) > 1
    shared = slice(0, len(maps) - 1 if per_class else len(maps))
    tiles = _neuron_tiles(np.concatenate(probas[shared]), np.concatenate(offs[shared]), run_colour)
    columns = np.split(tiles, np.cumsum(counts[shared])[:-1])
    if per_class:
        columns.append(_neuron_tiles(probas[-1], offs[-1], run_colour, per_class=True))
    images = []
    for column, (tiles, count, off) in enumerate(zip(columns, counts, offs)):
        start = layout.col_start[column]
        gap = float(layout.node_y[start] - layout.node_y[start + 1]) if count > 1 else _MAX_GAP
        side = tiles.shape[-2]
        slot = max(side, round(side * gap / tile_units))  # sprite pixels per node: the tile and the space around it
        sprite = np.zeros((count, slot, side, 4), np.uint8)  # a slot per node, transparent around its tile
        sprite[:, (slot - side) // 2 : (slot - side) // 2 + side] = tiles
        sprite = sprite.reshape(count * slot, side, 4)
        images.append(
            {
                "source": raster.data_uri(raster.png(sprite)),
                "name": _maps_name(column, np.flatnonzero(off)),
                "xref": "x",
                "yref": "y",
                "x": float(layout.node_x[start]),
                "y": float(layout.node_y[start]) + gap / 2,  # the top of the first node's slot
                "sizex": 0.9,
                "sizey": count * gap,
                "xanchor": "center",
                "yanchor": "top",
                "sizing": "contain",  # keeps the sprite's aspect: its height fills the column, each tile stays square
                "layer": "above",
            }
        )
    return images


def _edge_style(k: int) -> tuple[str, float, str, float]:
    """Edge class k's (name, width px, dash, opacity): 0 "touches a dropped neuron", then per width bin positive and negative."""
    if k == 0:
        return "touches a dropped neuron", THEME.edge_widths[0], "solid", THEME.faded_opacity
    width_bin, negative = divmod(k - 1, 2)
    return f"{'negative' if negative else 'positive'} weight", THEME.edge_widths[width_bin], THEME.weight_dash[negative], 1.0


def _edge_image(layout: _NetworkLayout, classes: np.ndarray, xrange: list[float], yrange: list[float]) -> dict:
    """Every drawn edge in one layout image named "edges": an SVG over the plot's whole area, one path per class
    (_edge_style; a path's data-name is its class's name), bottom to top, widths and dashes in screen px.

    An image because the browser then redraws only it when the weights or this step's dropped neurons change: a
    layout shape's new path makes plotly.js recompute and redraw the whole chart. The SVG's user units are the axes'
    (y up, through scale(1,-1)), its strokes unscaled (vector-effect), so it stretches with the plot and stays sharp.
    """
    paths = []
    for k in range(_EDGE_CLASSES):
        pick = classes == k
        if not pick.any():
            continue
        name, width, dash, opacity = _edge_style(k)
        gap = max(width, 3.0)  # plotly.js's "dot": dashes and gaps of the width, at least 3 px
        dashes = f' stroke-dasharray="{gap:g},{gap:g}"' if dash == "dot" else ""
        paths.append(
            f'<path data-name="{name}" d="{_edge_path(layout.edge_segments, pick)}" stroke-width="{width:g}" '
            f'stroke-opacity="{opacity:g}"{dashes} vector-effect="non-scaling-stroke"/>'
        )
    (x0, x1), (y0, y1) = xrange, yrange
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:g} {-y1:g} {x1 - x0:g} {y1 - y0:g}" preserveAspectRatio="none">'
        f'<g transform="scale(1,-1)" fill="none" stroke="{THEME.weight}" stroke-linecap="butt">{"".join(paths)}</g></svg>'
    )
    return {
        "source": "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"),
        "name": "edges",
        "xref": "x",
        "yref": "y",
        "x": x0,
        "y": y1,
        "sizex": x1 - x0,
        "sizey": y1 - y0,
        "xanchor": "left",
        "yanchor": "top",
        "sizing": "stretch",
        "layer": "below",
    }


def _mapped_node_traces(layout: _NetworkLayout, run: str) -> list[dict]:
    """With maps: "kept neuron" and "dropped this step" as legend entries only (the maps show the state), then every
    drawn neuron as one unseen marker, "neuron", for hover and click: traces that no new step changes."""
    size = _tile_px(layout) + 2
    legend = [
        scatter(x=[-10.0], y=[0.0], mode="markers", name=name, hoverinfo="skip", marker={"symbol": symbol, "color": colour, "size": 12})
        for name, symbol, colour in (
            ("kept neuron", "square-open", THEME.run_color(run)),
            ("dropped this step", "square-x-open", THEME.dropped),
        )
    ]
    hover = "%{text}<br>layer %{customdata[0]}, unit %{customdata[1]}<br>click: see it up close<extra></extra>"
    nodes = scatter(
        x=layout.node_x,
        y=layout.node_y,
        customdata=layout.node_id,
        text=list(layout.node_text),
        mode="markers",
        name="neuron",
        showlegend=False,
        marker={"symbol": "square", "color": THEME.transparent, "size": size},
        hovertemplate=hover,
    )
    return [*legend, nodes]


def _legend_and_node_traces(layout: _NetworkLayout, dropped: np.ndarray, run: str, maps: bool) -> list[dict]:
    """The two weight legend entries, then the "kept neuron" and "dropped this step" markers (frames around maps)."""
    traces = [  # legend entries only: the edges themselves are an image
        scatter(
            x=[-10.0, -9.0],
            y=[0.0, 0.0],
            mode="lines",
            name=f"{sign} weight",
            hoverinfo="skip",
            line={"color": THEME.weight, "width": THEME.edge_widths[1], "dash": dash},
        )
        for sign, dash in zip(("positive", "negative"), THEME.weight_dash)
    ]

    if maps:
        return traces + _mapped_node_traces(layout, run)
    size = layout.node_size
    node_styles = (
        ("kept neuron", {"symbol": "circle", "color": THEME.run_color(run), "size": size, "line": {"color": THEME.node_line, "width": 1}}),
        ("dropped this step", {"symbol": "circle-x-open", "color": THEME.dropped, "size": size, "line": {"width": 2}}),
    )
    for is_dropped, (name, marker) in zip((False, True), node_styles):
        pick = dropped == is_dropped
        text = [t for t, p in zip(layout.node_text, pick) if p]
        traces.append(
            scatter(
                x=layout.node_x[pick],
                y=layout.node_y[pick],
                customdata=layout.node_id[pick],
                text=text,
                mode="markers",
                name=name,
                marker=marker,
                hovertemplate=f"%{{text}}<br>layer %{{customdata[0]}}, unit %{{customdata[1]}}<br>{name}<extra></extra>",
            )
        )
    return traces


def _notes(snapshot: Snapshot, run: str, layout: _NetworkLayout, image_inputs: bool = False) -> list[dict]:
    """Column headers above the plot, "N of M" on a line of their own for a cut column (N units drawn), and the input and
    output unit names.

    The headers sit in the top margin (yref paper), whose room network_spec keeps in pixels: in data units under the
    nodes, a cut column's count ran into the legend when a fitted chart was short and its type large (presentation mode).
    """
    sizes, columns = tuple(int(v) for v in snapshot.sizes), len(snapshot.sizes)
    notes = []
    for column, (units, count) in enumerate(zip(sizes, layout.shown)):
        header = _column_header(snapshot, run, column, columns)
        if units > count and not (column == 0 and image_inputs):
            header += f"<br>{count} of {units}"
        notes.append(note(column, 1.0, header, small=True, yref="paper", yanchor="bottom"))
    for side, column, anchor, name in ((-0.12, 0, "right", "x{}"), (0.12, columns - 1, "left", "class {}")):
        start = layout.col_start[column]
        for unit, label in enumerate(name.format(u + (column == 0)) for u in range(layout.shown[column])):
            notes.append(note(column + side, float(layout.node_y[start + unit]), label, xanchor=anchor))
    return notes


def _header_room(notes: list[dict], text_scale: float) -> int:
    """Pixels above the plot for the column headers: their most lines at the small font (times text_scale), and a gap."""
    lines = max((1 + n["text"].count("<br>") for n in notes if n.get("yref") == "paper"), default=0)
    return round(4 + lines * _LINE_HEIGHT * THEME.small_font_size * text_scale)


def _input_picture(source: str, top: float) -> dict:
    """The input column as one square picture (an image's pixels, source a data URI) centred where its nodes would be."""
    side = min(1.2, 2 * top + 0.2)
    return {"source": source, "name": "input image", "xref": "x", "yref": "y", "x": 0.0, "y": side / 2, "sizex": 0.9,
            "sizey": side, "xanchor": "center", "yanchor": "top", "sizing": "contain", "layer": "above"}  # fmt: skip


def network_spec(
    snapshot: Snapshot, run: str = "dropout", max_nodes: int = 32, input_image: str | None = None, text_scale: float = 1.0
) -> dict:
    """The network of one run: nodes per column, edges dashed by sign (solid positive, dotted negative) and sized by |w|.

    Edges are the layout image "edges" (_edge_image), the last image: one SVG path per class that has edges, in this
    order: "touches a dropped neuron" (faded), then for each width bin "positive weight" and "negative weight".
    Traces, always in this order: the legend entries "positive weight" and "negative weight", then "kept neuron" and
    "dropped this step". Node customdata is [[column, unit], ...]. Only run "dropout" shows this step's masks
    (snapshot.masks, the tracked example's); edges touching a dropped neuron go to the faded class. A column with more than
    max_nodes units draws units 0..max_nodes-1 and says "N of M" under its header.
    With snapshot.neuron_maps, each drawn neuron is its map (layout images, _neuron_images) in a square frame, and
    only the neurons that have one are drawn: the same first units in both runs, so their maps compare.
    input_image (a data URI: the tracked example's pixels, digits.input_image_uri) draws the input column as that
    picture, the layout image "input image", instead of input nodes and their edges. text_scale: what for_projector
    will enlarge the type by (theme.PROJECTOR_SCALE when presenting), so that the headers' room grows with it.
    """
    sizes = tuple(int(v) for v in snapshot.sizes)
    maps = snapshot.neuron_maps.get(run, ())
    if len(maps) > 2:  # with maps, only the neurons that have one: the caller chose how many (the first units of each)
        max_nodes = min(max_nodes, max(len(m) for m in maps[1:-1]))
    layout = _network_layout((0, *sizes[1:]) if input_image else sizes, int(max_nodes))  # a picture: no input nodes
    columns = len(sizes)
    dropped = _dropped_nodes(snapshot, run, layout)
    classes = _edge_classes(snapshot, run, layout, dropped)

    traces = _legend_and_node_traces(layout, dropped, run, bool(maps))
    notes = _notes(snapshot, run, layout, image_inputs=input_image is not None)
    top = layout.top

    axis = {"visible": False, "showgrid": False, "zeroline": False}
    # Right of the output column, room for its names ("class 0"): their px are fixed while a column's px shrink as
    # columns are added, so the room grows with the columns (and is larger for larger type).
    xrange, yrange = [-0.6, columns - 1 + max(0.6 * text_scale, 0.15 * columns)], [-top - 0.3, top + 0.3]
    fig_layout = base_layout(
        THEME.network_height,
        uirevision=f"network-{sizes}-{max_nodes}",  # a new shape resets the view; updates keep it
        margin={"l": 10, "r": 10, "t": _header_room(notes, text_scale), "b": 10},
        xaxis=dict(axis, range=xrange),
        yaxis=dict(axis, range=yrange),
        showlegend=True,
        legend=bottom_legend(0.0),
        hovermode="closest",
        annotations=notes,
        images=[
            *([_input_picture(input_image, top)] if input_image else []),
            *_neuron_images(maps, layout, dropped, run),
            _edge_image(layout, classes, xrange, yrange),
        ],
    )
    return figure_spec(data=traces, layout=fig_layout)
