"""Two-class 2-D data sets: a registry of seeded generators, and the train/validation split built from them.

Not here: validation of user values (names, sizes, noise ranges); dropviz/core/config.py does that.
Every generator takes (n, noise, rng) and returns x (n, 2) float64, y (n,) int64 in {0, 1};
labels alternate 0, 1, 0, 1, ... (class 1 gets n // 2 points). With noise=0 every point lies within
[-1.1, 1.1]; noise in [0, 0.5] adds Gaussian jitter and the result is clipped to EXTENT.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Every set lives in this square, both axes; the decision-boundary grid covers it.
EXTENT: tuple[float, float] = (-1.5, 1.5)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    # (n, noise, rng) -> x (n, 2) float64, y (n,) int64 in {0, 1}
    generate: Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    noise_effect: str  # one sentence for the UI: what "noise" does for this set
    description: str  # one short sentence for the UI


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
    ]
}


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    # A private read-only copy: snapshots and figures may hold it without fear of mutation.
    a = np.array(a, dtype=dtype)
    a.flags.writeable = False
    return a


def make_dataset(name: str, n_train: int, n_val: int, noise: float, label_noise: float, seed: int) -> Dataset:
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
