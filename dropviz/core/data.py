"""The data sets: a registry of seeded two-class generators in the plane and of fixed pools (the 8x8 digits), the user's
own points, and the train/validation split built from them.

Not here: validation of user values (names, sizes, noise ranges, a file's contents); dropviz/core/config.py does that,
and own_data.py reads a file of points.
Every generator takes (n, noise, rng) and returns x (n, 2) float64, y (n,) int64 in {0, 1};
labels alternate 0, 1, 0, 1, ... (class 1 gets n // 2 points). With noise=0 every point lies within
[-1.1, 1.1]; noise in [0, 0.5] adds Gaussian jitter and the result is clipped to EXTENT.
A pool is a fixed set of examples (the digits, or a file of points): make_dataset shuffles it with the seed and takes
the first n_val examples to validate and the next n_train to train (no example in both; a smaller n_train keeps the
same validation set). Noise does not apply to a pool.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .own_data import OWN, OwnPoints

# Every set lives in this square, both axes; the decision-boundary grid covers it.
EXTENT: tuple[float, float] = (-1.5, 1.5)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    # (n, noise, rng) -> x (n, 2) float64, y (n,) int64 in {0, 1}; None for a pool
    generate: Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]] | None
    noise_effect: str  # one sentence for the UI: what "noise" does for this set
    description: str  # one short sentence for the UI
    # () -> the whole fixed set: x (size, inputs) float64, y (size,) int64 in 0 .. classes - 1; None for a generator
    pool: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    inputs: int = 2  # features of an example: 2 coordinates in the plane, or 64 pixels
    classes: int = 2


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # (n_train, 2) float64
    y_train: np.ndarray  # (n_train,) int64
    x_val: np.ndarray  # (n_val, 2) float64
    y_val: np.ndarray  # (n_val,) int64
    flipped_train: np.ndarray  # (n_train,) bool: labels flipped by label noise (the UI marks them)
    flipped_val: np.ndarray  # (n_val,) bool
    classes: int = 2  # labels are 0 .. classes - 1; the network has this many outputs


def _labels(n: int) -> np.ndarray:
    # (n,) int64: 0, 1, 0, 1, ...: balanced by construction, and any prefix of the points has both classes.
    return (np.arange(n) % 2).astype(np.int64)


def _finish(x: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator, scale: float):
    # Jitter std is noise * scale; each scale is tuned so noise=0.5 blurs but does not erase the shape.
    x = x + rng.normal(0.0, noise * scale, size=x.shape)
    return np.clip(x, *EXTENT), y  # (n, 2) float64, (n,) int64


def _circle(n: int, noise: float, rng: np.random.Generator):
    y = _labels(n)
    # Class 1: inner disc r in [0, 0.45]; class 0: ring r in [0.7, 1.05]. The gap keeps noise=0 separable.
    r = np.where(y == 1, rng.uniform(0.0, 0.45, n), rng.uniform(0.7, 1.05, n))
    a = rng.uniform(0.0, 2 * np.pi, n)
    return _finish(np.stack([r * np.cos(a), r * np.sin(a)], axis=1), y, noise, rng, 0.4)


def _xor(n: int, noise: float, rng: np.random.Generator):
    y = _labels(n)
    # Each coordinate 0.1..1.05 from its axis (0.1 margin); class 1 where signs agree (quadrants I, III).
    mag = rng.uniform(0.1, 1.05, (n, 2))  # (n, 2)
    sx = rng.choice([-1.0, 1.0], n)
    sy = np.where(y == 1, sx, -sx)
    return _finish(mag * np.stack([sx, sy], axis=1), y, noise, rng, 0.4)


def _gauss(n: int, noise: float, rng: np.random.Generator):
    y = _labels(n)
    # Two blobs centred at (0.5, 0.5) (class 1) and (-0.5, -0.5) (class 0); noise widens both.
    centre = np.where(y[:, None] == 1, 0.5, -0.5)  # (n, 1) -> broadcast to (n, 2)
    x = centre + rng.normal(0.0, 0.12, (n, 2))
    x = np.clip(x, -1.1, 1.1)  # keeps the noise=0 promise of staying within [-1.1, 1.1]
    return _finish(x, y, noise, rng, 0.8)


def _spiral(n: int, noise: float, rng: np.random.Generator):
    y = _labels(n)
    # Two arms, 1.5 turns each, the second rotated by pi; radius grows linearly to 1.0.
    t = rng.uniform(0.0, 1.0, n)
    r = 0.08 + 0.92 * t
    a = 3 * np.pi * t + np.pi * y
    return _finish(np.stack([r * np.sin(a), r * np.cos(a)], axis=1), y, noise, rng, 0.2)


def _moons(n: int, noise: float, rng: np.random.Generator):
    y = _labels(n)
    # Class 0: upper arc; class 1: lower arc shifted right and down; centred on the origin, scaled by 0.65.
    a = rng.uniform(0.0, np.pi, n)
    x = np.where(y[:, None] == 0, np.stack([np.cos(a), np.sin(a)], axis=1), np.stack([1 - np.cos(a), 0.5 - np.sin(a)], axis=1))  # (n, 2)
    x = (x - [0.5, 0.25]) * 0.65
    return _finish(x, y, noise, rng, 0.4)


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (read from the installed package, never downloaded), once per process."""
    from sklearn.datasets import load_digits  # a second to import: only when digits are asked for

    digits = load_digits()
    # (1797, 64) float64 pixels 0..16 scaled to [0, 1], row by row from the top left; (1797,) int64 digits 0..9
    return _frozen(digits.data / 16.0, np.float64), _frozen(digits.target, np.int64)


DIGITS_SIZE = 1797  # images in the pool: n_train + n_val is capped here (config.py)

DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        DatasetSpec(
            "circle", _circle, "Moves each point by Gaussian jitter of std 0.4 x noise.", "A disc of one class inside a ring of the other."
        ),
        DatasetSpec("xor", _xor, "Moves each point by Gaussian jitter of std 0.4 x noise.", "Opposite quadrants share a class."),
        DatasetSpec("gauss", _gauss, "Widens both blobs: extra Gaussian jitter of std 0.8 x noise.", "Two Gaussian blobs, one per class."),
        DatasetSpec("spiral", _spiral, "Moves each point by Gaussian jitter of std 0.2 x noise.", "Two interleaved spirals of 1.5 turns."),
        DatasetSpec("moons", _moons, "Moves each point by Gaussian jitter of std 0.4 x noise.", "Two interlocking half-moons."),
        DatasetSpec(
            "digits",
            None,
            "Does not apply: the images are used as scanned.",
            "Handwritten digits 0 to 9, 8x8 pixels (scikit-learn's copy of the UCI set).",
            pool=_digits,
            inputs=64,
            classes=10,
        ),
    ]
}
OWN_NOISE_EFFECT = "Does not apply: your points are used as given."


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    # A private read-only copy: snapshots and figures may hold it without fear of mutation.
    a = np.array(a, dtype=dtype)
    a.flags.writeable = False
    return a


def make_dataset(
    name: str, n_train: int, n_val: int, noise: float, label_noise: float, seed: int, points: OwnPoints | None = None
) -> Dataset:
    """The data set `name` (a DATASETS key, or OWN with the user's points) split as the module docstring says."""
    if name == OWN or DATASETS[name].pool is not None:
        return _from_pool(name, n_train, n_val, label_noise, seed, points)
    # One generator, fixed draw order (train points, val points, train flips, val flips): same seed, same
    # points whatever label_noise is, so flipped_* is exactly where y differs from a label_noise=0 draw.
    rng = np.random.default_rng(seed)
    gen = DATASETS[name].generate
    x_tr, y_tr = gen(n_train, noise, rng)  # (n_train, 2), (n_train,)
    x_va, y_va = gen(n_val, noise, rng)  # (n_val, 2), (n_val,)
    f_tr = rng.random(n_train) < label_noise  # (n_train,) bool
    f_va = rng.random(n_val) < label_noise  # (n_val,) bool
    return Dataset(
        name,
        x_train=_frozen(x_tr, np.float64),
        y_train=_frozen(np.where(f_tr, 1 - y_tr, y_tr), np.int64),
        x_val=_frozen(x_va, np.float64),
        y_val=_frozen(np.where(f_va, 1 - y_va, y_va), np.int64),
        flipped_train=_frozen(f_tr, bool),
        flipped_val=_frozen(f_va, bool),
    )


def dataset_for(config) -> Dataset:
    """The data set a RunConfig (config.py) trains on: its name, sizes, noise, label noise, seed and own points."""
    return make_dataset(config.dataset, config.n_train, config.n_val, config.noise, config.label_noise, config.seed, config.points)


def _from_pool(name: str, n_train: int, n_val: int, label_noise: float, seed: int, points: OwnPoints | None) -> Dataset:
    """A seeded split of a fixed pool: validation first, then training, no example in both; a flipped label becomes
    another class, each other class equally likely."""
    if name == OWN:
        if points is None:
            raise ValueError("the data set 'own' needs the user's points")
        x, y, classes = points.x, points.y, points.classes  # (rows, 2), (rows,)
    else:
        (x, y), classes = DATASETS[name].pool(), DATASETS[name].classes  # (size, inputs), (size,)
    if n_train + n_val > len(y):
        raise ValueError(f"{name} has {len(y)} examples: fewer than {n_train} to train plus {n_val} to validate")
    # Fixed draw order (order, train flips, val flips, their new classes): the examples never depend on label_noise.
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))  # (size,)
    val, train = order[:n_val], order[n_val : n_val + n_train]
    f_tr = rng.random(n_train) < label_noise  # (n_train,) bool
    f_va = rng.random(n_val) < label_noise  # (n_val,) bool
    shift_tr = rng.integers(1, classes, n_train)  # (n_train,): a flipped label moves this many classes on, never 0
    shift_va = rng.integers(1, classes, n_val)  # (n_val,)
    return Dataset(
        name,
        x_train=_frozen(x[train], np.float64),
        y_train=_frozen(np.where(f_tr, (y[train] + shift_tr) % classes, y[train]), np.int64),
        x_val=_frozen(x[val], np.float64),
        y_val=_frozen(np.where(f_va, (y[val] + shift_va) % classes, y[val]), np.int64),
        flipped_train=_frozen(f_tr, bool),
        flipped_val=_frozen(f_va, bool),
        classes=classes,
    )
