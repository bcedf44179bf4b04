"""Tests for dropviz.core.data: every registry entry gets every check."""

import numpy as np
import pytest

from dropviz.core.data import DATASETS, EXTENT, Dataset, make_dataset

NAMES = list(DATASETS)
ARRAYS = ("x_train", "y_train", "x_val", "y_val", "flipped_train", "flipped_val")


def _make(name, n_train=300, n_val=200, noise=0.3, label_noise=0.1, seed=7) -> Dataset:
    return make_dataset(name, n_train, n_val, noise, label_noise, seed)


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_named_and_described(name):
    spec = DATASETS[name]
    assert spec.name == name
    assert spec.noise_effect and spec.description  # the page's help texts


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes(name):
    d = _make(name, n_train=301, n_val=99)
    assert d.name == name
    assert d.x_train.shape == (301, 2) and d.x_train.dtype == np.float64
    assert d.y_train.shape == (301,) and d.y_train.dtype == np.int64
    assert d.x_val.shape == (99, 2) and d.x_val.dtype == np.float64
    assert d.y_val.shape == (99,) and d.y_val.dtype == np.int64
    assert d.flipped_train.shape == (301,) and d.flipped_train.dtype == np.bool_
    assert d.flipped_val.shape == (99,) and d.flipped_val.dtype == np.bool_


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_generator_contract(name, n):
    # Other modules may call generate() directly, so its own output must already obey the contract.
    x, y = DATASETS[name].generate(n, 0.3, np.random.default_rng(0))
    assert x.shape == (n, 2) and x.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(y.tolist()) <= {0, 1}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_labels_balanced(name, noise):
    d = _make(name, n_train=500, n_val=500, noise=noise, label_noise=0.0)
    for y in (d.y_train, d.y_val):
        assert set(np.unique(y).tolist()) == {0, 1}
        assert abs(y.mean() - 0.5) <= 0.05  # class sizes within 10% of each other


@pytest.mark.parametrize("name", NAMES)
def test_noiseless_points_lie_well_inside_the_square_and_the_noisiest_are_blurred_not_framed(name):
    # Noiseless: within [-1.1, 1.1], a margin inside the drawn square EXTENT (the generators' own promise, not the clip's).
    clean = _make(name, n_train=2000, n_val=500, noise=0.0)
    for x in (clean.x_train, clean.x_val):
        assert np.isfinite(x).all() and np.abs(x).max() <= 1.1 + 1e-12
    # At the largest noise the clip to EXTENT is a rare safeguard: a few points on the border, not a frame of them.
    noisy = _make(name, n_train=2000, n_val=500, noise=0.5)
    on_border = (np.abs(noisy.x_train) >= EXTENT[1]).any(axis=1).mean()
    assert np.isfinite(noisy.x_train).all() and on_border < 0.05, on_border


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_arrays_other_seed_differs(name):
    a, b, c = _make(name, seed=3), _make(name, seed=3), _make(name, seed=4)
    for field in ARRAYS:
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_val, c.x_val)
    assert not np.array_equal(a.flipped_train, c.flipped_train)


@pytest.mark.parametrize("name", NAMES)
def test_train_and_val_are_different_draws(name):
    d = _make(name, n_train=200, n_val=200)
    assert not np.array_equal(d.x_train, d.x_val)


@pytest.mark.parametrize("name", NAMES)
def test_arrays_read_only(name):
    d = _make(name)
    for field in ARRAYS:
        arr = getattr(d, field)
        assert not arr.flags.writeable, field
        with pytest.raises(ValueError):
            arr[0] = arr[0]


@pytest.mark.parametrize("name", NAMES)
def test_label_noise_rate_and_positions(name):
    n, q = 2000, 0.2
    noisy = make_dataset(name, n, n, 0.2, q, 11)
    clean = make_dataset(name, n, n, 0.2, 0.0, 11)
    bound = 4 * np.sqrt(n * q * (1 - q))  # 4 binomial standard deviations
    for flipped in (noisy.flipped_train, noisy.flipped_val):
        assert abs(flipped.sum() - n * q) <= bound
    # Label noise changes labels only, and exactly where it says it did.
    assert np.array_equal(noisy.x_train, clean.x_train) and np.array_equal(noisy.x_val, clean.x_val)
    assert np.array_equal(noisy.flipped_train, noisy.y_train != clean.y_train)
    assert np.array_equal(noisy.flipped_val, noisy.y_val != clean.y_val)


@pytest.mark.parametrize("name", NAMES)
def test_zero_label_noise_flips_nothing(name):
    d = _make(name, n_train=2000, n_val=2000, label_noise=0.0)
    assert not d.flipped_train.any() and not d.flipped_val.any()


def _one_nn(x_fit: np.ndarray, y_fit: np.ndarray, x: np.ndarray) -> np.ndarray:
    # Squared distances (len(x), len(x_fit)); each query takes its nearest fit point's label.
    d2 = ((x[:, None, :] - x_fit[None, :, :]) ** 2).sum(axis=-1)
    return y_fit[d2.argmin(axis=1)]


def test_one_nn_reference():
    x_fit = np.array([[0.0, 0.0], [1.0, 1.0]])
    pred = _one_nn(x_fit, np.array([0, 1]), np.array([[0.1, -0.2], [0.9, 1.3], [0.4, 0.4]]))
    assert pred.tolist() == [0, 1, 0]


@pytest.mark.parametrize("name", NAMES)
def test_noiseless_classes_separable(name):
    d = make_dataset(name, 400, 400, 0.0, 0.0, 5)
    acc = (_one_nn(d.x_train, d.y_train, d.x_val) == d.y_val).mean()
    assert acc >= 0.97, acc


@pytest.mark.parametrize("name", NAMES)
def test_noise_moves_points(name):
    # Same seed, same draw order: noise only adds jitter, so the noisy set must differ from the clean one.
    a = make_dataset(name, 300, 100, 0.0, 0.0, 9)
    b = make_dataset(name, 300, 100, 0.5, 0.0, 9)
    assert np.abs(a.x_train - b.x_train).mean() > 0.02
