"""Probes: four experiments on an already-trained pair (the dropout run and its no-dropout twin), in plain NumPy.

Monte Carlo dropout, the scaling lesson, inside the network, sampled subnetworks. Each is a pure
function of a Snapshot (the weights), the Dataset and the settings the dropout run trained with; it
returns a frozen result whose arrays are read-only, with to_csv(). Not here: training, drawing
(probe_figures.py), torch, streamlit. Randomness comes only from the np.random.Generator passed in.

The network arithmetic (forward, loss, accuracy, P(class 1), masks scaled by 1 / (1 - p)) is fastnet's, the same
functions training uses; what is the probes' own is how they draw masks (uint16 levels, see KEEP_LEVELS) and read a Snapshot.
p is the DROP probability (PyTorch's convention; the dropout paper writes the keep probability 1 - p).
Dropout is inverted, as in training: a kept unit is scaled by 1 / (1 - p); evaluation mode drops and
scales nothing. `p` is the config's p (what the dropout run trained with), not the snapshot's
p_effective, which is 0 whenever the toggle happens to be off.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..core.data import Dataset
from ..core.fastnet import accuracy, activation_functions, cross_entropy_loss, forward, linear, probability, scaled_keep
from ..core.records import RUN_NAMES, Snapshot, frozen

# What to look for, as measured on the default preset over 5 seeds (dropviz/experiments/claims.py states each claim and its threshold).
MC_TEXT = (
    "The MC mean (left) is softer than evaluation mode (right): on the default preset its validation loss is lower at "
    "about the same accuracy. The spread (middle) marks where the thinned networks disagree; its largest values lie "
    "away from the training points, where nothing constrains them, but how large it gets there changes from seed to "
    "seed, so the spread is no measure of distance from the data. The running average levels off above 0: it converges "
    "to the average over masks, which for a nonlinear network is not the evaluation-mode (weight-scaled) output."
)
SCALING_TEXT = (
    "Inverted dropout and the paper's test-time scaling are the same network: the first two maps and losses match. "
    "Forgetting the (1 - p) factor feeds each layer whose input was dropped inputs 1 / (1 - p) times too large: on the "
    "default preset predictions turn over-confident and the validation loss is about 1.5 to 3 times the correct one, "
    "while accuracy drops by a few points at most, as the boundary moves little."
)
INSIDE_TEXT = (
    "On the default preset fewer of the dropout run's last-layer units are dead (never fire) than its twin's. Dropout "
    "does not make the units independent here: in the correlation maps (units sorted by mean |r|, dead ones blank at "
    "the end) the dropout run's mean |r| is about as high as the twin's, usually higher. The robustness curve is the "
    "payoff: switching off a quarter of the units at test time costs the dropout network at most a few points, less "
    "than its twin."
)
SUBNET_TEXT = (
    "Each thinned network (one fixed mask) draws a boundary of its own, and on the default preset each stays within "
    "10 points of the full network's validation accuracy. The average of these few is already closer to the full "
    "network than a single thinned network is: the full network stands in, approximately, for the average of all the "
    "thinned networks in a single pass."
)

MC_PASSES_MAX = 200  # passes of Monte Carlo dropout: the error of the average shrinks like 1 / sqrt(T)
MC_CHUNK = 2048  # points per block of the MC forward: ~1 MB of float32 activations per 128-unit layer
HIST_BINS = 40  # histogram bins of the last hidden layer's activations, shared by both runs
# |a| below this counts as "near zero" (silent). relu: off is exactly 0; sigmoid: its minimum is 0;
# tanh: 0 is its centre, where the unit passes nothing on (tanh(z) ~ z there).
NEAR_ZERO = {"relu": 1e-3, "tanh": 0.05, "sigmoid": 0.05}
SUBNET_RESOLUTION = 50  # grid points per axis of each thinned network's boundary: 50 x 50 stays cheap
SUBNET_MAX = 12
# Masks are drawn as 16-bit levels (rng.integers, uint16): cheaper than float32 uniforms, whose drawing is
# most of Monte Carlo dropout's time, at a keep probability off by less than 1 / 65536 (exact for p = 0.5).
KEEP_LEVELS = 65536
_EPS = 1e-15  # floor of the probability given to the true label in a log-loss of averaged probabilities
# progress(fraction done): called after each pass, draw or network, so a long probe reports as it goes; its answer is
# not read (a probe in the page is cancelled by ending its process, dropviz/web/jobs.py).
Progress = Callable[[float], object]


def _quiet(fraction: float) -> None:
    """The progress of a probe nobody watches."""


# --- shared arithmetic --------------------------------------------------------------------------


def grid_points(axis: np.ndarray) -> np.ndarray:
    """(G,) axis -> (G * G, 2) points, row-major with rows = y, as the engine builds its grid."""
    gx, gy = np.meshgrid(axis, axis)
    return np.column_stack([gx.ravel(), gy.ravel()])


def _drop_per_layer(snapshot: Snapshot, p, p_input: float) -> tuple[float, ...]:
    """Drop probability of each linear layer's INPUT: (p_input, p_1, ..., p_H), one per layer."""
    hidden = len(snapshot.sizes) - 2
    p = tuple(float(v) for v in p)
    if len(p) != hidden:
        raise ValueError(f"p has {len(p)} values for {hidden} hidden layers")
    q = (float(p_input), *p)
    if not all(0.0 <= v < 1.0 for v in q):
        raise ValueError(f"drop probabilities must be in [0, 1): {q}")
    return q


def _keep_threshold(p: float) -> np.uint16:
    """Level c = ceil(p x KEEP_LEVELS): a unit whose level k (uniform on 0..65535) is >= c is kept, P = 1 - p within 1.5e-5."""
    return np.uint16(math.ceil(p * KEEP_LEVELS))


def _draw_levels(rng: np.random.Generator, shape) -> np.ndarray:
    """The one way probes draw dropout masks: uniform uint16 levels, compared with _keep_threshold(p).

    Not the Trainer's float32 uniforms (fastnet.dropout_masks): a probe draws a mask for every point of a grid in every
    pass, and drawing is most of its time; the probes' masks never need to match a training run's.
    """
    return rng.integers(0, KEEP_LEVELS, shape, dtype=np.uint16)


def _params(snapshot: Snapshot, run: str, dtype=np.float64) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One run's weights as (in, out) contiguous arrays and biases (out,), in dtype."""
    layers = snapshot.params[run]
    weights = [np.ascontiguousarray(np.asarray(layer.weight, dtype=dtype).T) for layer in layers]
    return weights, [np.asarray(layer.bias, dtype=dtype) for layer in layers]


def _loss_from_proba(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of probabilities P(class 1) (N,); the true label's probability floored at 1e-15.

    For an average of networks' probabilities, which no single logit stands for (one network: fastnet.cross_entropy_loss).
    """
    with np.errstate(all="ignore"):
        true = np.where(y == 1, proba, 1.0 - proba)
        return float(-np.mean(np.log(np.maximum(true, _EPS))))


def _accuracy_from_proba(proba: np.ndarray, y: np.ndarray) -> float:
    """Fraction of points whose averaged P(class 1) is on their label's side of 0.5 (one network: fastnet.accuracy)."""
    return float(np.mean((proba > 0.5) == (y == 1)))


# --- CSV ----------------------------------------------------------------------------------------


def _column(values) -> list[str]:
    array = np.asarray(values)
    if array.dtype == np.float32:
        return [format(v, ".9g") for v in array.tolist()]  # 9 digits: a float32 reads back exactly
    if array.dtype.kind == "f":
        return [repr(v) for v in array.tolist()]  # shortest text that reads back exactly
    if array.dtype.kind == "b":
        return ["1" if v else "0" for v in array.tolist()]
    return [str(v) for v in array.tolist()]


def _csv(columns: dict[str, object]) -> str:
    """One tidy table: a header row, then one row per observation. Every column has the same length."""
    texts = [_column(v) for v in columns.values()]
    if len({len(t) for t in texts}) > 1:
        raise ValueError("columns of different lengths")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(zip(*texts))
    return out.getvalue()


def _grid_columns(axis: np.ndarray) -> dict[str, np.ndarray]:
    """x and y of every grid point in the order of grid_points (rows = y)."""
    points = grid_points(np.asarray(axis))
    return {"x": points[:, 0], "y": points[:, 1]}


class _Tables:
    """to_csv(table) for a result: TABLES names its tables, the first is the default."""

    TABLES: ClassVar[tuple[str, ...]] = ()

    def to_csv(self, table: str | None = None) -> str:
        """One tidy table of the result's numbers as CSV text; table is one of TABLES (default: the first)."""
        name = table or self.TABLES[0]
        if name not in self.TABLES:
            raise ValueError(f"unknown table {name!r}; one of {', '.join(self.TABLES)}")
        return _csv(getattr(self, f"_{name}_table")())


# --- 1. Monte Carlo dropout ---------------------------------------------------------------------


@dataclass(frozen=True)
class McResult(_Tables):
    """Monte Carlo dropout (Gal & Ghahramani 2016) over the boundary grid and the validation set."""

    TABLES: ClassVar[tuple[str, ...]] = ("grid", "convergence", "summary")

    passes: int  # T
    p: tuple[float, ...]  # hidden-layer drop probabilities used at test time
    p_input: float
    grid_axis: np.ndarray  # (G,)
    mean: np.ndarray  # (G, G) float64 MC mean of P(class 1), rows = y
    std: np.ndarray  # (G, G) float64 standard deviation over the T passes (ddof 0)
    eval_proba: np.ndarray  # (G, G) float64 evaluation mode (weight scaling): nothing dropped or scaled
    convergence: np.ndarray  # (T,) mean over the grid of |running MC mean after t passes - eval_proba|
    noise: np.ndarray  # (T,) what sampling alone would leave of it: sqrt(2 / pi) x mean over the grid of std / sqrt(t)
    val_loss_mc: float  # cross-entropy of the MC-averaged probabilities on the validation set
    val_loss_eval: float
    val_acc_mc: float
    val_acc_eval: float
    data: Dataset  # the points drawn over the maps

    def _grid_table(self):
        return {
            **_grid_columns(self.grid_axis),
            "mc_mean": self.mean.ravel(),
            "mc_std": self.std.ravel(),
            "eval_proba": self.eval_proba.ravel(),
        }

    def _convergence_table(self):
        return {"t": np.arange(1, self.passes + 1), "mean_abs_diff": self.convergence, "sampling_noise": self.noise}

    def _summary_table(self):
        return {
            "mode": ["mc", "eval"],
            "passes": [self.passes, 0],
            "val_loss": [self.val_loss_mc, self.val_loss_eval],
            "val_acc": [self.val_acc_mc, self.val_acc_eval],
        }


def mc_dropout(
    snapshot: Snapshot,
    data: Dataset,
    activation: str,
    p,
    p_input: float,
    passes: int,
    rng: np.random.Generator,
    dtype=np.float32,
    progress: Progress = _quiet,
) -> McResult:
    """T = passes stochastic forward passes of the dropout run with dropout ON, a fresh mask per point per pass.

    Points: the G x G grid of snapshot.grid_axis (row-major, rows = y), then data.x_val, N in all.
    Draw order, the whole contract with rng: for pass t = 1..T, for each layer whose input is dropped,
    in order (the two inputs if p_input > 0, then hidden layer 1, 2, ...; a layer with p = 0 draws
    nothing): one `rng.integers(0, 65536, (N, units), dtype=np.uint16)` = levels k; a unit is kept where
    k >= ceil(p x 65536) (KEEP_LEVELS) and then scaled by 1 / (1 - p) (folded into the next layer's weights).
    The grid is computed in dtype (float32 by default, faster than float64; float64 for exact checks), the
    validation points always in float64; probabilities are accumulated and returned in float64.
    Memory: one pass at a time, points in blocks of MC_CHUNK: N x (dropped units) x 2 bytes of levels
    (~5 MB at 10,500 points x 2 x 128) plus one block's activations, and the first hidden layer's
    activations (N x h_1 x 4 bytes) when the inputs are not dropped (they are then the same every pass).
    """
    if not 1 <= int(passes) <= MC_PASSES_MAX:
        raise ValueError(f"passes must be 1 to {MC_PASSES_MAX}, got {passes}")
    passes = int(passes)
    activation_functions(activation)  # an unknown name fails before any work
    q = _drop_per_layer(snapshot, p, p_input)
    axis = np.asarray(snapshot.grid_axis, dtype=np.float64)
    g = len(axis)
    x_val, y_val = np.asarray(data.x_val, dtype=np.float64), np.asarray(data.y_val)
    x = np.concatenate([grid_points(axis), x_val])  # (N, 2)
    n_grid = g * g
    weights, biases = _params(snapshot, "dropout")
    with np.errstate(all="ignore"):  # a diverged run overflows: its numbers are NaN, not warnings
        eval_logits = forward(x[:n_grid].astype(dtype), *_params(snapshot, "dropout", dtype), activation)[0]
        eval_grid = probability(eval_logits.astype(np.float64))  # (G * G,)
        blocks = _mc_blocks(x, n_grid, weights, biases, activation, q, dtype)
        widths = [w.shape[0] for w in weights]
        sums, squares, convergence = _mc_passes(blocks, len(x), widths, q, activation, passes, rng, eval_grid, progress)
        val_logits = forward(x_val, weights, biases, activation)[0]
        val_loss_eval, val_acc_eval = float(cross_entropy_loss(val_logits, y_val)), float(accuracy(val_logits, y_val))
        mean = sums / passes
        std = np.sqrt(np.maximum(squares / passes - mean * mean, 0.0))
    return McResult(
        passes=passes,
        p=tuple(q[1:]),
        p_input=q[0],
        grid_axis=frozen(axis),
        mean=frozen(mean[:n_grid].reshape(g, g)),
        std=frozen(std[:n_grid].reshape(g, g)),
        eval_proba=frozen(eval_grid.reshape(g, g)),
        convergence=frozen(convergence),
        # The mean |error| of an average of t draws whose spread is std is sqrt(2 / pi) std / sqrt(t) (half-normal).
        noise=frozen(math.sqrt(2 / math.pi) * np.mean(std[:n_grid]) / np.sqrt(np.arange(1, passes + 1))),
        val_loss_mc=_loss_from_proba(mean[n_grid:], y_val),
        val_loss_eval=val_loss_eval,
        val_acc_mc=_accuracy_from_proba(mean[n_grid:], y_val),
        val_acc_eval=val_acc_eval,
        data=data,
    )


def _mc_blocks(x: np.ndarray, n_grid: int, weights, biases, activation: str, q, dtype) -> list[tuple]:
    """What every pass of mc_dropout starts from, per block of points: (rows, a, weights, biases, index of the first layer).

    The grid in blocks of MC_CHUNK rows, cast to dtype, then the validation points in float64. Layer l's 1 / (1 - q_l)
    is folded into its weights once, so a pass multiplies its activations by bool masks only. When the inputs are not
    dropped, a holds the first hidden layer's activations, the same in every pass, and the weights start at layer 1.
    """
    scaled = [w / (1.0 - ql) for w, ql in zip(weights, q)]
    f, _ = activation_functions(activation)
    first = 1 if q[0] == 0 and len(weights) > 1 else 0
    spans = [(slice(s, min(s + MC_CHUNK, n_grid)), np.dtype(dtype).type) for s in range(0, n_grid, MC_CHUNK)]
    blocks = []
    for rows, kind in [*spans, (slice(n_grid, len(x)), np.float64)]:
        ws, bs = [w.astype(kind) for w in scaled], [b.astype(kind) for b in biases]
        a = x[rows].astype(kind)
        if first:
            a = f(linear(a, ws[0], bs[0]))  # (block, h_1)
        blocks.append((rows, a, ws[first:], bs[first:], first))
    return blocks


def _mc_passes(blocks, n: int, widths, q, activation: str, passes: int, rng: np.random.Generator, eval_grid: np.ndarray, progress: Progress):  # fmt: skip
    """Sums and sums of squares over `passes` masked forwards of P(class 1) at the N = n points, (N,) each, and the
    convergence (T,): the grid's mean |running mean - eval_grid| after each pass. Draws as mc_dropout documents.

    widths (L + 1,) units of each layer input; blocks from _mc_blocks.
    """
    thresholds = [_keep_threshold(ql) for ql in q]
    sums, squares, proba = np.zeros(n), np.zeros(n), np.empty(n)
    convergence = np.empty(passes)
    n_grid = len(eval_grid)
    for t in range(passes):
        levels = [_draw_levels(rng, (n, units)) if ql > 0 else None for units, ql in zip(widths, q)]
        for b, (rows, a, ws, bs, first) in enumerate(blocks):
            keep = [None if lv is None else lv[rows] >= c for lv, c in zip(levels[first:], thresholds[first:])]  # (block, units)
            proba[rows] = probability(forward(a, ws, bs, activation, keep)[0].astype(np.float64))
            progress((t + (b + 1) / len(blocks)) / passes)  # a pass of a wide network is long: per block
        sums += proba
        squares += proba * proba
        convergence[t] = np.mean(np.abs(sums[:n_grid] / (t + 1) - eval_grid))
    return sums, squares, convergence


# --- 2. the scaling lesson ----------------------------------------------------------------------

SCALING_WAYS = ("inverted dropout", "paper: W' x (1 - p)", "forgot to scale")


@dataclass(frozen=True)
class ScalingResult(_Tables):
    """The dropout run evaluated three ways (SCALING_WAYS): right, right the paper's way, and the common bug."""

    TABLES: ClassVar[tuple[str, ...]] = ("grid", "summary")

    ways: tuple[str, ...]  # SCALING_WAYS
    p: tuple[float, ...]
    p_input: float
    grid_axis: np.ndarray  # (G,)
    proba: np.ndarray  # (3, G, G) float32 P(class 1), rows = y, one map per way
    val_proba: np.ndarray  # (3, n_val) float64
    val_loss: np.ndarray  # (3,)
    val_acc: np.ndarray  # (3,)
    data: Dataset

    def _grid_table(self):
        names = ("inverted", "paper", "forgot")
        return {**_grid_columns(self.grid_axis), **{name: grid.ravel() for name, grid in zip(names, self.proba)}}

    def _summary_table(self):
        return {"way": list(self.ways), "val_loss": self.val_loss, "val_acc": self.val_acc}


def scaling_lesson(snapshot: Snapshot, data: Dataset, activation: str, p, p_input: float, progress: Progress = _quiet) -> ScalingResult:
    """The same trained dropout network evaluated three ways, on the grid and the validation set.

    (a) inverted dropout, correct: the weights as trained, nothing scaled at test time.
    (b) the paper's form: a network trained WITHOUT the 1 / (1 - p) scaling holds W' = W / (1 - q) on each
        layer whose input was dropped with probability q; at test time the paper multiplies those weights
        by the keep probability: W' x (1 - q). Computed that way on purpose: it equals (a) up to rounding.
    (c) forgot to scale: W' used at test time as it is (the bug), inputs 1 / (1 - q) too large per layer.
    Biases are never scaled (dropout never touches them). All in float64; maps stored as float32.
    """
    activation_functions(activation)  # an unknown name fails before any work
    q = _drop_per_layer(snapshot, p, p_input)
    weights, biases = _params(snapshot, "dropout")
    trained_unscaled = [w / (1.0 - ql) for w, ql in zip(weights, q)]  # W'
    variants = (
        weights,
        [w * (1.0 - ql) for w, ql in zip(trained_unscaled, q)],
        trained_unscaled,
    )
    axis = np.asarray(snapshot.grid_axis, dtype=np.float64)
    grid = grid_points(axis)
    x_val, y_val = np.asarray(data.x_val, dtype=np.float64), np.asarray(data.y_val)
    maps, val_proba, losses, accs = [], [], [], []
    with np.errstate(all="ignore"):
        for way, ws in enumerate(variants):
            maps.append(probability(forward(grid, ws, biases, activation)[0]).reshape(len(axis), len(axis)))
            logits = forward(x_val, ws, biases, activation)[0]  # (n_val, 2)
            val_proba.append(probability(logits))
            losses.append(float(cross_entropy_loss(logits, y_val)))
            accs.append(float(accuracy(logits, y_val)))
            progress((way + 1) / len(variants))
    return ScalingResult(
        ways=SCALING_WAYS,
        p=tuple(q[1:]),
        p_input=q[0],
        grid_axis=frozen(axis),
        proba=frozen(np.stack(maps).astype(np.float32)),
        val_proba=frozen(np.stack(val_proba)),
        val_loss=frozen(losses),
        val_acc=frozen(accs),
        data=data,
    )


# --- 3. inside the network ----------------------------------------------------------------------


def default_k_values(sizes: tuple[int, ...]) -> tuple[int, ...]:
    """Units to switch off per hidden layer: 0 to 7/8 of the widest hidden layer, in eighths (and 1, 2)."""
    widest = max(sizes[1:-1])
    values = {0, 1, 2, *(round(widest * i / 8) for i in range(1, 8))}
    return tuple(sorted(v for v in values if v < widest or v == 0))


@dataclass(frozen=True)
class InsideResult(_Tables):
    """Evaluation-mode hidden activations of both runs on the validation points, and how they cope with damage.

    Arrays with a leading run axis follow RUN_NAMES: 0 the dropout run, 1 its twin.
    """

    TABLES: ClassVar[tuple[str, ...]] = ("summary", "histogram", "correlation", "robustness")

    activation: str
    hidden: tuple[int, ...]  # units per hidden layer
    activations: tuple[np.ndarray, ...]  # per hidden layer (2, n_val, h_l) float64
    near_zero: float  # |a| below this counts as near zero (NEAR_ZERO[activation])
    mean_activation: np.ndarray  # (2, H) mean over units and points, per hidden layer
    sparsity: np.ndarray  # (2, H) fraction of activations near zero
    dead_units: np.ndarray  # (2, H) int: units near zero (relu: exactly 0) on every validation point
    hist_edges: np.ndarray  # (HIST_BINS + 1,) shared by both runs: the LAST hidden layer
    hist_counts: np.ndarray  # (2, HIST_BINS) int64; each row sums to h_H x n_val
    correlation: np.ndarray  # (2, h_H, h_H) Pearson r between last-layer units over the points; NaN for a constant unit
    mean_abs_correlation: np.ndarray  # (2,) mean |r| over pairs of distinct non-constant units
    order: np.ndarray  # (2, h_H) int: last-layer units by mean |r| with the others, highest first; constant units last
    k_values: np.ndarray  # (K,) units switched off in EVERY hidden layer (capped at each layer's width)
    robust_acc: np.ndarray  # (2, K, draws) validation accuracy per random draw
    robust_mean: np.ndarray  # (2, K)
    robust_std: np.ndarray  # (2, K) ddof 0
    eval_acc: np.ndarray  # (2,) nothing switched off

    def _summary_table(self):
        runs = [run for run in RUN_NAMES for _ in self.hidden]
        return {
            "run": runs,
            "layer": [l + 1 for _ in RUN_NAMES for l in range(len(self.hidden))],
            "units": [h for _ in RUN_NAMES for h in self.hidden],
            "mean_activation": self.mean_activation.ravel(),
            "near_zero_fraction": self.sparsity.ravel(),
            "dead_units": self.dead_units.ravel(),
        }

    def _histogram_table(self):
        return {
            "bin_left": self.hist_edges[:-1],
            "bin_right": self.hist_edges[1:],
            **{f"count_{run}": self.hist_counts[k] for k, run in enumerate(RUN_NAMES)},
        }

    def _correlation_table(self):
        units = self.correlation.shape[1]
        i, j = np.meshgrid(np.arange(units), np.arange(units), indexing="ij")
        return {
            "run": [run for run in RUN_NAMES for _ in range(units * units)],
            "unit_i": np.tile(i.ravel(), 2),
            "unit_j": np.tile(j.ravel(), 2),
            "r": self.correlation.ravel(),
        }

    def _robustness_table(self):
        k = len(self.k_values)
        return {
            "run": [run for run in RUN_NAMES for _ in range(k)],
            "k": np.tile(self.k_values, 2),
            "draws": np.full(2 * k, self.robust_acc.shape[2]),
            "accuracy_mean": self.robust_mean.ravel(),
            "accuracy_std": self.robust_std.ravel(),
        }


def _correlation(a: np.ndarray) -> np.ndarray:
    """(n, h) -> (h, h) Pearson r between columns; rows and columns of constant units are NaN, diagonal 1 otherwise."""
    centred = a - a.mean(axis=0)
    norms = np.sqrt(np.einsum("ij,ij->j", centred, centred))  # (h,)
    scale = np.abs(a).max(axis=0) if len(a) else np.zeros(a.shape[1])
    constant = ~(norms > 1e-12 * np.maximum(scale, 1.0) * np.sqrt(max(len(a), 1)))  # also NaN-valued units
    safe = np.where(constant, 1.0, norms)
    r = np.clip((centred.T @ centred) / np.outer(safe, safe), -1.0, 1.0)
    np.fill_diagonal(r, 1.0)
    r[constant, :] = np.nan
    r[:, constant] = np.nan
    return r


def _unit_order(r: np.ndarray) -> np.ndarray:
    """(h, h) correlation -> (h,) unit indices by mean |r| with the other units, highest first; constant (NaN) units last, by index."""
    live = np.isfinite(np.diag(r))
    off = np.abs(np.where(np.eye(len(r), dtype=bool), np.nan, r))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a unit with no live partner: mean of nothing
        score = np.nan_to_num(np.nanmean(off, axis=1), nan=0.0)
    score = np.where(live, score, -1.0)
    return np.argsort(-score, kind="stable")


def inside(
    snapshot: Snapshot, data: Dataset, activation: str, k_values, draws: int, rng: np.random.Generator, progress: Progress = _quiet
) -> InsideResult:
    """Hidden activations of both runs (evaluation mode) on data.x_val, their statistics, and robustness to damage.

    Histograms use the LAST hidden layer only: it is what the output layer reads and the layer whose
    correlations the correlation matrix shows, and layers differ in scale, so pooling them would blur
    both. Means, near-zero fractions and dead units are given per layer.
    Near zero: |a| < NEAR_ZERO[activation] (relu 1e-3; sigmoid 0.05, i.e. near its minimum 0; tanh 0.05,
    near its centre, where it passes nothing on). Dead: near zero on every validation point, and for
    relu exactly 0 on every point (z <= 0 everywhere: it never passes a signal nor gets a gradient).
    Robustness: for each k, draws random draws; draw order: for k in k_values, for draw, for hidden
    layer 1, 2, ...: `rng.choice(width, min(k, width), replace=False)` units switched off (output 0,
    no rescaling). Both runs lose the same units in a draw, so their difference is paired.
    """
    activation_functions(activation)  # an unknown name fails before any work
    hidden = tuple(int(h) for h in snapshot.sizes[1:-1])
    if not hidden:
        raise ValueError("the network has no hidden layer")
    k_values = np.asarray(k_values, dtype=np.int64).reshape(-1)
    if (k_values < 0).any():
        raise ValueError("k values must be >= 0")
    if int(draws) < 1:
        raise ValueError("draws must be at least 1")
    x_val, y_val = np.asarray(data.x_val, dtype=np.float64), np.asarray(data.y_val)
    params = [_params(snapshot, run) for run in RUN_NAMES]
    with np.errstate(all="ignore"):
        runs = []  # (logits, hidden) per run
        for r, (weights, biases) in enumerate(params):  # the forwards and the statistics: about one k's worth of work
            runs.append(forward(x_val, weights, biases, activation))
            progress((r + 1) / 3 / (len(k_values) + 1))
        per_layer = [np.stack([run_hidden[l] for _, run_hidden in runs]) for l in range(len(hidden))]  # (2, n, h_l)
        stats = _unit_statistics(per_layer, activation)
        progress(1 / (len(k_values) + 1))
        robust = _robustness(params, x_val, y_val, activation, hidden, k_values, int(draws), rng, progress)
    return InsideResult(
        activation=activation,
        hidden=hidden,
        activations=tuple(frozen(a) for a in per_layer),
        near_zero=NEAR_ZERO[activation],
        **stats,
        k_values=frozen(k_values),
        robust_acc=frozen(robust),
        robust_mean=frozen(robust.mean(axis=2)),
        robust_std=frozen(robust.std(axis=2)),
        eval_acc=frozen([accuracy(logits, y_val) for logits, _ in runs]),
    )


def _unit_statistics(per_layer: list[np.ndarray], activation: str) -> dict[str, np.ndarray]:
    """InsideResult's statistics of the hidden activations [(2, n, h_l)], as frozen arrays by field name (see inside())."""
    threshold = NEAR_ZERO[activation]
    near = [np.abs(a) < threshold for a in per_layer]
    if activation == "relu":
        dead = [(a == 0).all(axis=1) for a in per_layer]  # (2, h_l)
    else:
        dead = [m.all(axis=1) for m in near]
    last = per_layer[-1]  # (2, n, h_H)
    finite = last[np.isfinite(last)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, HIST_BINS + 1)
    correlation = np.stack([_correlation(last[k]) for k in range(2)])
    upper = np.triu_indices(last.shape[2], k=1)
    stats = {
        "mean_activation": np.array([[a[k].mean() for a in per_layer] for k in range(2)]),
        "sparsity": np.array([[m[k].mean() for m in near] for k in range(2)]),
        "dead_units": np.array([[int(d[k].sum()) for d in dead] for k in range(2)], dtype=np.int64),
        "hist_edges": edges,
        "hist_counts": np.stack([np.histogram(last[k], bins=edges)[0] for k in range(2)]).astype(np.int64),
        "correlation": correlation,
        "mean_abs_correlation": np.array([np.nanmean(np.abs(r[upper])) if np.isfinite(r[upper]).any() else np.nan for r in correlation]),
        "order": np.stack([_unit_order(r) for r in correlation]),
    }
    return {name: frozen(value) for name, value in stats.items()}


def _robustness(params, x_val, y_val, activation: str, hidden, k_values, draws: int, rng: np.random.Generator, progress: Progress) -> np.ndarray:  # fmt: skip
    """(2, K, draws) validation accuracy of both runs with k units of every hidden layer switched off, in inside()'s draw order.

    A unit switched off is a fixed factor 0 on its layer's input (forward's drop), kept units unscaled.
    """
    robust = np.empty((2, len(k_values), draws))
    for i, k in enumerate(k_values):
        for d in range(draws):
            off = [None]  # the inputs are never switched off
            for width in hidden:
                keep = np.ones(width)
                keep[rng.choice(width, min(int(k), width), replace=False)] = 0.0
                off.append(keep)
            for r, (weights, biases) in enumerate(params):
                robust[r, i, d] = accuracy(forward(x_val, weights, biases, activation, off)[0], y_val)
            progress((i + 1 + (d + 1) / draws) / (len(k_values) + 1))
    return robust


# --- 4. sampled subnetworks ---------------------------------------------------------------------


@dataclass(frozen=True)
class SubnetResult(_Tables):
    """`count` thinned networks of the dropout run, each with one fixed mask, their average and the full network."""

    TABLES: ClassVar[tuple[str, ...]] = ("grid", "summary")

    p: tuple[float, ...]
    p_input: float
    hidden: tuple[int, ...]
    keep: tuple[np.ndarray, ...]  # per layer input (inputs first, then hidden layers): (count, units) bool
    grid_axis: np.ndarray  # (S,) the coarse grid, S = SUBNET_RESOLUTION by default
    proba: np.ndarray  # (count, S, S) float32 P(class 1) of each thinned network, rows = y
    average: np.ndarray  # (S, S) float32 mean of proba over the thinned networks
    full: np.ndarray  # (S, S) float32 the full network, evaluation mode
    val_proba: np.ndarray  # (count, n_val) float64
    val_acc: np.ndarray  # (count,)
    val_acc_average: float
    val_acc_full: float
    data: Dataset

    @property
    def kept_counts(self) -> np.ndarray:
        """(count, H) kept units per hidden layer of each thinned network."""
        return np.stack([k.sum(axis=1) for k in self.keep[1:]], axis=1)

    def _grid_table(self):
        parts = {f"subnet_{i + 1}": grid.ravel() for i, grid in enumerate(self.proba)}
        return {**_grid_columns(self.grid_axis), **parts, "average": self.average.ravel(), "full": self.full.ravel()}

    def _summary_table(self):
        count = len(self.val_acc)
        names = [f"subnet_{i + 1}" for i in range(count)] + ["average", "full"]
        kept = self.kept_counts
        layers = {f"kept_layer_{l + 1}": [*kept[:, l], -1, h] for l, h in enumerate(self.hidden)}  # -1: not one network
        return {"network": names, **layers, "val_acc": [*self.val_acc, self.val_acc_average, self.val_acc_full]}


def subnetworks(
    snapshot: Snapshot,
    data: Dataset,
    activation: str,
    p,
    p_input: float,
    count: int = 6,
    rng: np.random.Generator | None = None,
    resolution: int = SUBNET_RESOLUTION,
    progress: Progress = _quiet,
) -> SubnetResult:
    """`count` thinned networks of the dropout run: ONE mask per unit, the same for every point.

    Draw order: for network 1..count, for each layer whose input is dropped (the inputs if p_input > 0,
    then hidden layer 1, 2, ...; p = 0 draws nothing): `rng.integers(0, 65536, units, dtype=np.uint16)`,
    kept where the level >= ceil(p x 65536) (as mc_dropout); kept units are scaled by 1 / (1 - p), as in training. A layer with p = 0 keeps all its units
    unscaled, so with p = 0 everywhere every thinned network IS the full network; with p > 0 a mask that
    keeps everything gives the full network with inputs scaled up (see the scaling lesson).
    Boundaries on a resolution x resolution grid spanning snapshot.grid_axis; all arithmetic in float64.
    """
    if rng is None:
        raise TypeError("subnetworks() needs rng, an np.random.Generator: randomness is explicit")
    if not 1 <= int(count) <= SUBNET_MAX:
        raise ValueError(f"count must be 1 to {SUBNET_MAX}, got {count}")
    count = int(count)
    activation_functions(activation)  # an unknown name fails before any work
    q = _drop_per_layer(snapshot, p, p_input)
    weights, biases = _params(snapshot, "dropout")
    full_axis = np.asarray(snapshot.grid_axis, dtype=np.float64)
    axis = np.linspace(full_axis[0], full_axis[-1], int(resolution))
    s = len(axis)
    x = np.concatenate([grid_points(axis), np.asarray(data.x_val, dtype=np.float64)])  # coarse grid, then validation
    y_val = np.asarray(data.y_val)
    keep = [np.ones((count, units), dtype=bool) for units in snapshot.sizes[:-1]]
    proba = np.empty((count, len(x)))
    with np.errstate(all="ignore"):
        for i in range(count):
            drop = []  # per layer input: (units,) 0 or 1 / (1 - p), the same for every point; None where p = 0
            for l, ql in enumerate(q):
                if ql > 0:
                    keep[l][i] = _draw_levels(rng, snapshot.sizes[l]) >= _keep_threshold(ql)
                drop.append(scaled_keep(keep[l][i], ql) if ql > 0 else None)
            proba[i] = probability(forward(x, weights, biases, activation, drop)[0])
            progress((i + 1) / (count + 1))
        full = probability(forward(x, weights, biases, activation)[0])
        progress(1.0)
    average = proba.mean(axis=0)
    n_grid = s * s
    return SubnetResult(
        p=tuple(q[1:]),
        p_input=q[0],
        hidden=tuple(int(h) for h in snapshot.sizes[1:-1]),
        keep=tuple(frozen(k) for k in keep),
        grid_axis=frozen(axis),
        proba=frozen(proba[:, :n_grid].reshape(count, s, s).astype(np.float32)),
        average=frozen(average[:n_grid].reshape(s, s).astype(np.float32)),
        full=frozen(full[:n_grid].reshape(s, s).astype(np.float32)),
        val_proba=frozen(proba[:, n_grid:]),
        val_acc=frozen([_accuracy_from_proba(v, y_val) for v in proba[:, n_grid:]]),
        val_acc_average=_accuracy_from_proba(average[n_grid:], y_val),
        val_acc_full=_accuracy_from_proba(full[n_grid:], y_val),
        data=data,
    )
