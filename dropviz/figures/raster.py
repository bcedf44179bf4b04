"""Pictures as PNG images for Plotly layouts: a probability grid as a colour map, the tracked-example ring.

Why images and not heatmap or marker traces: the browser redraws a layout image alone when it changes,
while any trace change redraws every trace of the figure, 1200 data points included (bench/RESULTS.md).
Pure NumPy and zlib; no figure logic here.
"""

from __future__ import annotations

import base64
import functools
import struct
import zlib

import numpy as np


def png(rgba: np.ndarray) -> bytes:
    """(height, width, 4) uint8 RGBA, row 0 at the top -> PNG file bytes."""
    height, width, _ = rgba.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgba.reshape(height, width * 4)], axis=1)  # filter byte 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + chunk(b"IEND", b"")


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


@functools.cache  # a frame asks for the same few theme colours many times
def hex_rgb(colour: str) -> tuple[int, int, int]:
    """'#D55E00' -> (213, 94, 0)."""
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def probability_alpha(proba: np.ndarray, max_alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """P(class 1) on a grid, (G, G) with row i at y_i ascending -> (high, alpha), each (G, G) with row 0 at the top.

    high (bool): the cell takes the high colour (p at or above 0.5), the low one below; alpha (uint8): how opaque,
    255 * max_alpha * |2p - 1|, the surer the model the more. Non-finite cells are transparent. Any leading axes are
    pictures.
    """
    p = np.asarray(proba, dtype=np.float32)[..., ::-1, :]  # image rows run top to bottom
    finite = np.isfinite(p)
    p = np.where(finite, p, 0.5)
    alpha = np.clip(np.abs(2.0 * p - 1.0) * max_alpha, 0.0, 1.0) * 255.0 * finite
    return ~(p < 0.5), np.rint(alpha).astype(np.uint8)


def probability_map(proba: np.ndarray, low: str, high: str, max_alpha: float) -> np.ndarray:
    """P(class 1) on a grid, (G, G) with row i at y_i ascending -> (G, G, 4) RGBA with row 0 at the top.

    Below 0.5 the low colour, above it the high colour, each more opaque the surer the model is:
    alpha = max_alpha * |2p - 1| (probability_alpha). Non-finite cells are transparent.
    """
    is_high, alpha = probability_alpha(proba, max_alpha)
    return look_up(colour_table((low, high)), is_high, alpha)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@functools.cache
def colour_table(colours: tuple[str, ...]) -> np.ndarray:
    """(C * 256, 4) uint8 RGBA: row c * 256 + a is colours[c] at alpha a (look_up's rows).

    Why tables: a small picture's pixels take one of a few colours at one of 256 alphas, so laying them on a background
    or greying them (on_background_table, switched_off_table) is done once per colour and alpha, not once per pixel;
    the per-pixel arithmetic on a frame's small pictures cost more in NumPy's per-call overhead than in arithmetic.
    """
    table = np.empty((len(colours), 256, 4), np.uint8)
    table[..., :3] = np.array([hex_rgb(c) for c in colours], np.uint8)[:, None, :]
    table[..., 3] = np.arange(256, dtype=np.uint8)
    return _readonly(table.reshape(-1, 4))


def look_up(table: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Each pixel's row of a table (colour_table or one made from it): colour (...) index into its colours, alpha (...)
    uint8, broadcast together -> (..., 4) uint8."""
    return np.take(table, np.asarray(colour, np.intp) * 256 + alpha, axis=0)


@functools.cache
def on_background_table(colours: tuple[str, ...], background: str) -> np.ndarray:
    """colour_table(colours) laid on the background (on_background): the same bytes as the arithmetic, per pixel a look-up."""
    return _readonly(on_background(colour_table(colours), background))


@functools.cache
def switched_off_table(colours: tuple[str, ...], alpha_factor: float, background: str) -> np.ndarray:
    """colour_table(colours) as switched_off shows it before its cross (greyed): crossed() draws that after the look-up."""
    return _readonly(greyed(colour_table(colours), alpha_factor, background))


def class_map(proba: np.ndarray, palette: tuple[str, ...], max_alpha: float) -> np.ndarray:
    """Every class's probability on a grid, (G, G, C) with row i at y_i ascending -> (G, G, 4) RGBA, row 0 at the top.

    Each cell in the colour of its likeliest class, the more opaque the surer: alpha = max_alpha * (p_max - 1/C) /
    (1 - 1/C), 0 where every class is as likely; with C = 2 the same picture as probability_map. Non-finite cells are
    transparent."""
    p = np.asarray(proba, dtype=np.float32)[::-1]  # image rows run top to bottom
    classes = p.shape[-1]
    finite = np.isfinite(p).all(axis=-1)
    p = np.where(finite[..., None], p, 1.0 / classes)
    colours = np.array([hex_rgb(c) for c in palette[:classes]], np.uint8)  # (C, 3)
    sure = (p.max(axis=-1) - 1.0 / classes) / (1.0 - 1.0 / classes)  # 0 undecided .. 1 certain
    alpha = np.clip(sure * max_alpha, 0.0, 1.0) * 255.0 * finite
    return np.concatenate([colours[p.argmax(axis=-1)], np.rint(alpha).astype(np.uint8)[..., None]], axis=-1)


def on_background(rgba: np.ndarray, background: str) -> np.ndarray:
    """(..., H, W, 4) RGBA -> the picture laid on an opaque background colour: nothing behind it shows through."""
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    rgb = rgba[..., :3] * alpha + np.array(hex_rgb(background), np.float32) * (1.0 - alpha)
    return np.concatenate([np.rint(rgb).astype(np.uint8), np.full((*rgba.shape[:-1], 1), 255, np.uint8)], axis=-1)


def framed(rgba: np.ndarray, colour: str) -> np.ndarray:
    """(..., H, W, 4) RGBA -> a copy with a one-pixel border in the colour."""
    out = rgba.copy()
    border = (*hex_rgb(colour), 255)  # opaque
    out[..., [0, -1], :, :] = border
    out[..., :, [0, -1], :] = border
    return out


def switched_off(rgba: np.ndarray, alpha_factor: float, background: str, cross: str) -> np.ndarray:
    """(..., H, W, 4) RGBA -> a neuron switched off: its picture in grey (luminance), fainter by alpha_factor, on an opaque
    background, crossed corner to corner in the cross colour."""
    return crossed(greyed(rgba, alpha_factor, background), cross)


def greyed(rgba: np.ndarray, alpha_factor: float, background: str) -> np.ndarray:
    """(..., 4) RGBA -> its grey (luminance), fainter by alpha_factor, on an opaque background: switched_off's colours."""
    grey = np.rint(rgba[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    alpha = np.rint(rgba[..., 3] * alpha_factor).astype(np.uint8)
    return on_background(np.stack([grey, grey, grey, alpha], axis=-1), background)


def crossed(rgba: np.ndarray, cross: str) -> np.ndarray:
    """(..., H, W, 4) RGBA, changed in place and returned: crossed corner to corner in the cross colour."""
    height, width = rgba.shape[-3:-1]
    rows = np.arange(height)
    cols = np.rint(rows * (width - 1) / max(height - 1, 1)).astype(int)
    rgba[..., rows, cols, :3] = hex_rgb(cross)
    rgba[..., rows, width - 1 - cols, :3] = hex_rgb(cross)
    return rgba


@functools.cache
def ring(colour: str, line_fraction: float = 0.13, size: int = 64, halo: str | None = None) -> str:
    """A smooth ring of the colour on a transparent square, as a data URI; line width as a fraction of the size.

    halo: a second colour drawn as a wider ring under the first, so the ring reads on light and dark regions alike.
    """
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    radius = np.hypot(xx - centre, yy - centre) / (size / 2.0)  # 1 at the square's edge

    def coverage(width: float) -> np.ndarray:
        half = width / 2.0
        middle = 1.0 - line_fraction - 1.0 / size  # both rings share the middle of the halo's line
        distance = np.abs(radius - middle)
        return np.clip((half - distance) * size / 2.0 + 0.5, 0.0, 1.0)  # about one pixel of antialiasing

    core = coverage(line_fraction)
    under = coverage(2.0 * line_fraction) if halo is not None else np.zeros_like(core)
    rgb = np.where((core > 0)[..., None], np.array(hex_rgb(colour), np.float64), np.array(hex_rgb(halo or colour), np.float64))
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = np.rint(rgb).astype(np.uint8)
    rgba[..., 3] = np.rint(np.maximum(core, under) * 255).astype(np.uint8)
    return data_uri(png(rgba))
