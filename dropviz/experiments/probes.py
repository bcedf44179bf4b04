"""Probes: four experiments on an already-trained pair (the dropout run and its no-dropout twin), in plain NumPy.

Monte Carlo dropout, the scaling lesson, inside the network, sampled subnetworks. Each is a pure
function of a Snapshot (the weights), the Dataset and the settings the dropout run trained with; it
returns a frozen result whose arrays are read-only, with to_csv(). Not here: training, drawing
(probe_figures.py), torch, streamlit. Randomness comes only from the np.random.Generator passed in.

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
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..core.data import Dataset
from ..core.fastnet import ACTIVATIONS
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
    """The one way probes draw dropout masks: uniform uint16 levels, compared with _keep_threshold(p)."""
    return rng.integers(0, KEEP_LEVELS, shape, dtype=np.uint16)


def _activation(activation: str):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[activation][0]


def _params(snapshot: Snapshot, run: str, dtype=np.float64) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One run's weights as (in, out) contiguous arrays and biases (out,), in dtype."""
    layers = snapshot.params[run]
    weights = [np.ascontiguousarray(np.asarray(layer.weight, dtype=dtype).T) for layer in layers]
    return weights, [np.asarray(layer.bias, dtype=dtype) for layer in layers]


def _forward(x: np.ndarray, weights, biases, f, unit_scale=None) -> tuple[list[np.ndarray], np.ndarray]:
    """Hidden activations and logits of one network. x (N, 2) -> [(N, h_l)], (N, 2).

    unit_scale[l] (in_l,) or None multiplies layer l's input unit by unit (a fixed mask, or 0 for a unit
    switched off); the hidden activations returned are before that multiplication.
    """
    hidden, a = [], x
    for l, (w, b) in enumerate(zip(weights, biases)):
        if unit_scale is not None and unit_scale[l] is not None:
            a = a * unit_scale[l]
        z = _linear(a, w, b)
        if l == len(weights) - 1:
            return hidden, z
        a = f(z)
        hidden.append(a)
    raise ValueError("a network needs at least one layer")


def _linear(a: np.ndarray, w: np.ndarray, b) -> np.ndarray:
    """a @ w + b. With two inputs, two broadcast products: a BLAS call is slower at an inner size of 2."""
    if w.ndim == 2 and w.shape[0] == 2:
        z = a[..., :1] * w[0]
        z += a[..., 1:] * w[1]
    else:
        z = a @ w
    z += b  # in place: one pass over the result instead of a new array
    return z


def _logistic(d: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * d))  # overflow-free, as the engine computes P(class 1)


def _loss_from_logits(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy from (N, 2) logits, as fastnet.cross_entropy computes it."""
    with np.errstate(all="ignore"):  # a diverged run: NaN, not a warning
        d = logits[:, 1] - logits[:, 0]
        return float(np.mean(np.logaddexp(0.0, d) - y * d))


def _loss_from_proba(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of probabilities P(class 1) (N,); the true label's probability floored at 1e-15."""
    with np.errstate(all="ignore"):
        true = np.where(y == 1, proba, 1.0 - proba)
        return float(-np.mean(np.log(np.maximum(true, _EPS))))


def _accuracy_from_logits(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(logits.argmax(axis=1) == y))  # argmax, as the engine; a tie goes to class 0


def _accuracy_from_proba(proba: np.ndarray, y: np.ndarray) -> float:
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
    snapshot: Snapshot, data: Dataset, activation: str, p, p_input: float, passes: int, rng: np.random.Generator, dtype=np.float32
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
    f = _activation(activation)
    q = _drop_per_layer(snapshot, p, p_input)
    axis = np.asarray(snapshot.grid_axis, dtype=np.float64)
    g = len(axis)
    x = np.concatenate([grid_points(axis), np.asarray(data.x_val, dtype=np.float64)])  # (N, 2)
    n_grid, n = g * g, len(x)
    y_val = np.asarray(data.y_val)
    weights, biases = _params(snapshot, "dropout")
    # Layer l reads its input scaled by 1 / (1 - q_l): fold that into W_l. The last layer only needs the
    # logit difference d = logit_1 - logit_0 = a @ (w_1 - w_0) + (b_1 - b_0).
    scaled = [w / (1.0 - ql) for w, ql in zip(weights, q)]
    scaled[-1] = scaled[-1][:, 1] - scaled[-1][:, 0]
    diff_bias = biases[-1][1] - biases[-1][0]

    def cast(t):
        return [w.astype(t) for w in scaled], [b.astype(t) for b in biases[:-1]], t(diff_bias)

    blocks = [(slice(s, min(s + MC_CHUNK, n_grid)), cast(np.dtype(dtype).type), dtype) for s in range(0, n_grid, MC_CHUNK)]
    blocks.append((slice(n_grid, n), cast(np.float64), np.float64))

    dropped = [ql > 0 for ql in q]
    thresholds = [_keep_threshold(ql) for ql in q]
    sums = np.zeros(n)
    squares = np.zeros(n)
    proba = np.empty(n)
    eval_logits = _forward(x[:n_grid].astype(dtype), *_params(snapshot, "dropout", dtype), f)[1].astype(np.float64)
    eval_grid = _logistic(eval_logits[:, 1] - eval_logits[:, 0])  # (G * G,)
    convergence = np.empty(passes)
    last = len(scaled) - 1
    relu = activation == "relu"  # then applied in place: about a tenth of a pass saved
    with np.errstate(all="ignore"):  # a diverged run overflows: its numbers are NaN, not warnings
        # Undropped inputs: the first hidden layer is the same in every pass, so it is computed once per block.
        first = [None if dropped[0] else f(_linear(x[rows].astype(kind), ws[0], bs[0])) for rows, (ws, bs, _), kind in blocks]
        for t in range(passes):
            levels = [_draw_levels(rng, (n, units)) if drop else None for units, drop in zip(snapshot.sizes, dropped)]
            for (rows, (ws, bs, db), kind), cached in zip(blocks, first):
                a, start = (x[rows].astype(kind), 0) if cached is None else (cached, 1)
                for l in range(start, last + 1):
                    if dropped[l]:
                        # (block, units) kept; 1 / (1 - p) is in ws[l]. In place, except on the cached layer.
                        keep = levels[l][rows] >= thresholds[l]
                        a = a * keep if a is cached else np.multiply(a, keep, out=a)
                    if l < last:
                        z = _linear(a, ws[l], bs[l])
                        a = np.maximum(z, 0.0, out=z) if relu else f(z)
                proba[rows] = _logistic((a @ ws[last] + db).astype(np.float64))
            sums += proba
            squares += proba * proba
            convergence[t] = np.mean(np.abs(sums[:n_grid] / (t + 1) - eval_grid))
        mean = sums / passes
        std = np.sqrt(np.maximum(squares / passes - mean * mean, 0.0))
        val_logits = _forward(np.asarray(data.x_val, dtype=np.float64), weights, biases, f)[1]
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
        val_loss_eval=_loss_from_logits(val_logits, y_val),
        val_acc_mc=_accuracy_from_proba(mean[n_grid:], y_val),
        val_acc_eval=_accuracy_from_logits(val_logits, y_val),
        data=data,
    )


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


def scaling_lesson(snapshot: Snapshot, data: Dataset, activation: str, p, p_input: float) -> ScalingResult:
    """The same trained dropout network evaluated three ways, on the grid and the validation set.

    (a) inverted dropout, correct: the weights as trained, nothing scaled at test time.
    (b) the paper's form: a network trained WITHOUT the 1 / (1 - p) scaling holds W' = W / (1 - q) on each
        layer whose input was dropped with probability q; at test time the paper multiplies those weights
        by the keep probability: W' x (1 - q). Computed that way on purpose: it equals (a) up to rounding.
    (c) forgot to scale: W' used at test time as it is (the bug), inputs 1 / (1 - q) too large per layer.
    Biases are never scaled (dropout never touches them). All in float64; maps stored as float32.
    """
    f = _activation(activation)
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
        for ws in variants:
            logits = _forward(grid, ws, biases, f)[1]
            maps.append(_logistic(logits[:, 1] - logits[:, 0]).reshape(len(axis), len(axis)))
            logits = _forward(x_val, ws, biases, f)[1]
            val_proba.append(_logistic(logits[:, 1] - logits[:, 0]))
            losses.append(_loss_from_logits(logits, y_val))
            accs.append(_accuracy_from_logits(logits, y_val))
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


def inside(snapshot: Snapshot, data: Dataset, activation: str, k_values, draws: int, rng: np.random.Generator) -> InsideResult:
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
    f = _activation(activation)
    hidden = tuple(int(h) for h in snapshot.sizes[1:-1])
    if not hidden:
        raise ValueError("the network has no hidden layer")
    k_values = np.asarray(k_values, dtype=np.int64).reshape(-1)
    if (k_values < 0).any():
        raise ValueError("k values must be >= 0")
    if int(draws) < 1:
        raise ValueError("draws must be at least 1")
    draws = int(draws)
    x_val, y_val = np.asarray(data.x_val, dtype=np.float64), np.asarray(data.y_val)
    threshold = NEAR_ZERO[activation]
    params = [_params(snapshot, run) for run in RUN_NAMES]
    acts, eval_acc = [], []
    with np.errstate(all="ignore"):
        for weights, biases in params:
            layers, logits = _forward(x_val, weights, biases, f)
            acts.append(layers)
            eval_acc.append(_accuracy_from_logits(logits, y_val))
        per_layer = [np.stack([run_acts[l] for run_acts in acts]) for l in range(len(hidden))]  # (2, n, h_l)
        near = [np.abs(a) < threshold for a in per_layer]
        mean_activation = np.array([[a[k].mean() for a in per_layer] for k in range(2)])
        sparsity = np.array([[m[k].mean() for m in near] for k in range(2)])
        if activation == "relu":
            dead = [(a == 0).all(axis=1) for a in per_layer]  # (2, h_l)
        else:
            dead = [m.all(axis=1) for m in near]
        dead_units = np.array([[int(d[k].sum()) for d in dead] for k in range(2)], dtype=np.int64)

        last = per_layer[-1]  # (2, n, h_H)
        finite = last[np.isfinite(last)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high <= low:
            high = low + 1.0
        edges = np.linspace(low, high, HIST_BINS + 1)
        counts = np.stack([np.histogram(last[k], bins=edges)[0] for k in range(2)]).astype(np.int64)
        correlation = np.stack([_correlation(last[k]) for k in range(2)])
        upper = np.triu_indices(hidden[-1], k=1)
        mean_abs = np.array([np.nanmean(np.abs(r[upper])) if np.isfinite(r[upper]).any() else np.nan for r in correlation])

        robust = np.empty((2, len(k_values), draws))
        for i, k in enumerate(k_values):
            for d in range(draws):
                scale = [None]  # the inputs are never switched off
                for width in hidden:
                    keep = np.ones(width)
                    keep[rng.choice(width, min(int(k), width), replace=False)] = 0.0
                    scale.append(keep)
                for r, (weights, biases) in enumerate(params):
                    robust[r, i, d] = _accuracy_from_logits(_forward(x_val, weights, biases, f, scale)[1], y_val)
    return InsideResult(
        activation=activation,
        hidden=hidden,
        activations=tuple(frozen(a) for a in per_layer),
        near_zero=threshold,
        mean_activation=frozen(mean_activation),
        sparsity=frozen(sparsity),
        dead_units=frozen(dead_units),
        hist_edges=frozen(edges),
        hist_counts=frozen(counts),
        correlation=frozen(correlation),
        mean_abs_correlation=frozen(mean_abs),
        order=frozen(np.stack([_unit_order(r) for r in correlation])),
        k_values=frozen(k_values),
        robust_acc=frozen(robust),
        robust_mean=frozen(robust.mean(axis=2)),
        robust_std=frozen(robust.std(axis=2)),
        eval_acc=frozen(eval_acc),
    )


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
    f = _activation(activation)
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
            for l, ql in enumerate(q):
                if ql > 0:
                    keep[l][i] = _draw_levels(rng, snapshot.sizes[l]) >= _keep_threshold(ql)
            thinned = [w * (k[i] / (1.0 - ql))[:, None] for w, k, ql in zip(weights, keep, q)]  # drop rows of W
            logits = _forward(x, thinned, biases, f)[1]
            proba[i] = _logistic(logits[:, 1] - logits[:, 0])
        logits = _forward(x, weights, biases, f)[1]
        full = _logistic(logits[:, 1] - logits[:, 0])
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
