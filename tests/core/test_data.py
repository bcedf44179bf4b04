"""Tests for dropviz.core.data: every registry entry gets every check; generators and pools each get their own."""

import hashlib

import numpy as np
import pytest

from dropviz.core.config import RunConfig, read_points
from dropviz.core.data import DATASETS, DIGITS_SIZE, EXTENT, Dataset, dataset_for, make_dataset
from dropviz.core.own_data import OWN, SPAN, split_sizes

NAMES = list(DATASETS)
PLANE = [name for name, spec in DATASETS.items() if spec.generate is not None]  # generators of points in the plane
POOLS = [name for name, spec in DATASETS.items() if spec.pool is not None]  # fixed sets, split by the seed
ARRAYS = ("x_train", "y_train", "x_val", "y_val", "flipped_train", "flipped_val")


def _make(name, n_train=300, n_val=200, noise=0.3, label_noise=0.1, seed=7) -> Dataset:
    return make_dataset(name, n_train, n_val, noise, label_noise, seed)


def _half(name: str, n: int = 2000) -> int:
    """n, or half of a pool when it is smaller: n to train plus n to validate fit in every data set."""
    spec = DATASETS[name]
    return n if spec.pool is None else min(n, len(spec.pool()[1]) // 2)


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_named_and_described(name):
    spec = DATASETS[name]
    assert spec.name == name
    assert spec.noise_effect and spec.description  # the page's help texts


@pytest.mark.parametrize("name", NAMES)
def test_exactly_one_source_and_the_inputs_and_classes_it_says(name):
    spec = DATASETS[name]
    assert (spec.generate is None) != (spec.pool is None)
    d = _make(name, n_train=400, n_val=400, label_noise=0.0)
    assert d.classes == spec.classes and d.x_train.shape[1] == spec.inputs
    assert set(np.unique(d.y_train).tolist()) == set(range(spec.classes))  # every class present, none beyond


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes(name):
    d = _make(name, n_train=301, n_val=99)
    inputs = DATASETS[name].inputs
    assert d.name == name
    assert d.x_train.shape == (301, inputs) and d.x_train.dtype == np.float64
    assert d.y_train.shape == (301,) and d.y_train.dtype == np.int64
    assert d.x_val.shape == (99, inputs) and d.x_val.dtype == np.float64
    assert d.y_val.shape == (99,) and d.y_val.dtype == np.int64
    assert d.flipped_train.shape == (301,) and d.flipped_train.dtype == np.bool_
    assert d.flipped_val.shape == (99,) and d.flipped_val.dtype == np.bool_


@pytest.mark.parametrize("name", PLANE)
@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_generator_contract(name, n):
    # Other modules may call generate() directly, so its own output must already obey the contract.
    x, y = DATASETS[name].generate(n, 0.3, np.random.default_rng(0))
    assert x.shape == (n, 2) and x.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(y.tolist()) <= {0, 1}


@pytest.mark.parametrize("name", PLANE)
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_labels_balanced(name, noise):
    d = _make(name, n_train=500, n_val=500, noise=noise, label_noise=0.0)
    for y in (d.y_train, d.y_val):
        assert set(np.unique(y).tolist()) == {0, 1}
        assert abs(y.mean() - 0.5) <= 0.05  # class sizes within 10% of each other


@pytest.mark.parametrize("name", PLANE)
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
    n, q = _half(name), 0.2
    noisy = make_dataset(name, n, n, 0.2, q, 11)
    clean = make_dataset(name, n, n, 0.2, 0.0, 11)
    bound = 4 * np.sqrt(n * q * (1 - q))  # 4 binomial standard deviations
    for flipped in (noisy.flipped_train, noisy.flipped_val):
        assert abs(flipped.sum() - n * q) <= bound
    # Label noise changes labels only, and exactly where it says it did.
    assert np.array_equal(noisy.x_train, clean.x_train) and np.array_equal(noisy.x_val, clean.x_val)
    assert np.array_equal(noisy.flipped_train, noisy.y_train != clean.y_train)
    assert np.array_equal(noisy.flipped_val, noisy.y_val != clean.y_val)
    assert noisy.y_train.max() < noisy.classes and noisy.y_train.min() >= 0  # a flipped label is another class


@pytest.mark.parametrize("name", NAMES)
def test_zero_label_noise_flips_nothing(name):
    d = _make(name, n_train=_half(name), n_val=_half(name), label_noise=0.0)
    assert not d.flipped_train.any() and not d.flipped_val.any()


def _one_nn(x_fit: np.ndarray, y_fit: np.ndarray, x: np.ndarray) -> np.ndarray:
    # Squared distances (len(x), len(x_fit)); each query takes its nearest fit point's label.
    d2 = ((x[:, None, :] - x_fit[None, :, :]) ** 2).sum(axis=-1)
    return y_fit[d2.argmin(axis=1)]


def test_one_nn_reference():
    x_fit = np.array([[0.0, 0.0], [1.0, 1.0]])
    pred = _one_nn(x_fit, np.array([0, 1]), np.array([[0.1, -0.2], [0.9, 1.3], [0.4, 0.4]]))
    assert pred.tolist() == [0, 1, 0]


@pytest.mark.parametrize("name", PLANE)
def test_noiseless_classes_separable(name):
    d = make_dataset(name, 400, 400, 0.0, 0.0, 5)
    acc = (_one_nn(d.x_train, d.y_train, d.x_val) == d.y_val).mean()
    assert acc >= 0.97, acc


@pytest.mark.parametrize("name", PLANE)
def test_noise_moves_points(name):
    # Same seed, same draw order: noise only adds jitter, so the noisy set must differ from the clean one.
    a = make_dataset(name, 300, 100, 0.0, 0.0, 9)
    b = make_dataset(name, 300, 100, 0.5, 0.0, 9)
    assert np.abs(a.x_train - b.x_train).mean() > 0.02


# The draws of the sets in the plane as they were before digits and own points joined: tests and the presets' claims
# depend on every bit (sha256 of the six arrays of make_dataset(name, 123, 45, 0.3, 0.2, 17), first 16 digits).
PLANE_DIGESTS = {
    "circle": "3c99312db3d8c581",
    "xor": "b8bec9c9b2bdf049",
    "gauss": "047644371e59ba10",
    "spiral": "f4c1437337f59968",
    "moons": "767e58544355f5e7",
}


@pytest.mark.parametrize("name", PLANE)
def test_plane_sets_draw_bit_for_bit_as_before(name):
    d = make_dataset(name, 123, 45, 0.3, 0.2, 17)
    digest = hashlib.sha256()
    for field in ARRAYS:
        digest.update(np.ascontiguousarray(getattr(d, field)).tobytes())
    assert digest.hexdigest()[:16] == PLANE_DIGESTS[name]
    assert d.classes == 2


@pytest.mark.parametrize("name", POOLS)
def test_noise_does_not_apply_to_a_pool(name):
    a, b = make_dataset(name, 300, 100, 0.0, 0.1, 9), make_dataset(name, 300, 100, 0.5, 0.1, 9)
    for field in ARRAYS:
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert DATASETS[name].noise_effect.startswith("Does not apply")


def _rows(x: np.ndarray) -> np.ndarray:
    """x's rows in lexicographic order: equal multisets of examples give equal arrays."""
    return x[np.lexsort(x.T[::-1])]


def test_digits_are_the_whole_bundled_set_split_without_overlap():
    from sklearn.datasets import load_digits

    pool = load_digits()
    d = make_dataset("digits", DIGITS_SIZE - 500, 500, 0.0, 0.0, 3)
    assert len(pool.target) == DIGITS_SIZE and d.x_train.shape == (DIGITS_SIZE - 500, 64)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0  # pixels 0..16 scaled to [0, 1]
    # Train and validation together are the whole pool, each image once: no image in both.
    assert np.array_equal(_rows(np.concatenate([d.x_train, d.x_val])), _rows(pool.data / 16.0))
    labelled = np.column_stack([np.concatenate([d.x_train, d.x_val]), np.concatenate([d.y_train, d.y_val])])
    assert np.array_equal(_rows(labelled), _rows(np.column_stack([pool.data / 16.0, pool.target])))  # labels follow images
    assert np.bincount(d.y_val, minlength=10).min() >= 30  # a seeded shuffle: every digit among 500 validation images


def test_a_pool_keeps_its_validation_set_when_the_training_set_shrinks():
    big, small = make_dataset("digits", 800, 300, 0.0, 0.0, 5), make_dataset("digits", 50, 300, 0.0, 0.0, 5)
    assert np.array_equal(big.x_val, small.x_val) and np.array_equal(big.y_val, small.y_val)
    assert np.array_equal(big.x_train[:50], small.x_train)  # the smaller set is the larger one's first examples


def test_a_pool_refuses_more_examples_than_it_has():
    with pytest.raises(ValueError, match="1797"):
        make_dataset("digits", 1500, 400, 0.0, 0.0, 0)


def test_digit_label_noise_moves_a_label_to_each_other_class_about_equally():
    d = make_dataset("digits", 1000, 797, 0.0, 0.5, 2)
    clean = make_dataset("digits", 1000, 797, 0.0, 0.0, 2)
    moved = (d.y_train - clean.y_train)[d.flipped_train] % 10  # (flipped,) classes moved on, 1..9
    assert moved.min() >= 1 and np.array_equal(d.flipped_train, d.y_train != clean.y_train)
    counts = np.bincount(moved, minlength=10)[1:]  # about 500 flips over 9 shifts: 55 each
    assert counts.min() > 25 and counts.max() < 95, counts


def _points_file(rows: int = 40, classes: int = 3, scale: float = 1000.0) -> bytes:
    rng = np.random.default_rng(1)
    lines = ["x1,x2,label"] + [f"{scale * rng.normal():.6f},{rng.normal() - 50:.6f},{i % classes}" for i in range(rows)]
    return "\n".join(lines).encode()


def test_own_points_are_scaled_into_the_plot_and_split_by_the_seed():
    points = read_points(_points_file(), "mine.csv")
    d = make_dataset(OWN, *split_sizes(points.rows), 0.3, 0.0, 4, points=points)
    x = np.concatenate([d.x_train, d.x_val])
    assert d.classes == 3 and (len(d.y_train), len(d.y_val)) == (30, 10)  # a quarter validates
    assert np.allclose(x.min(axis=0), -SPAN) and np.allclose(x.max(axis=0), SPAN)  # each axis spans the plot's points
    assert SPAN < EXTENT[1]
    assert np.array_equal(_rows(x), _rows(points.x))  # every point once
    other = make_dataset(OWN, 30, 10, 0.3, 0.0, 5, points=points)
    assert not np.array_equal(other.x_val, d.x_val)  # another seed, another split


def test_own_points_keep_their_shape_up_to_scale():
    points = read_points(_points_file(), "mine.csv")
    rng = np.random.default_rng(1)
    raw = np.array([[1000.0 * rng.normal(), rng.normal() - 50] for _ in range(40)])  # the file's values, as written
    rescaled = (raw - raw.min(axis=0)) / (raw.max(axis=0) - raw.min(axis=0)) * 2 * SPAN - SPAN
    assert np.allclose(points.x, rescaled, atol=1e-5) and np.array_equal(points.y, np.arange(40) % 3)


def test_own_points_need_the_points():
    with pytest.raises(ValueError, match="own"):
        make_dataset(OWN, 30, 10, 0.0, 0.0, 0)


def test_dataset_for_reads_every_setting_of_a_config():
    config = RunConfig(dataset="moons", n_train=40, n_val=30, noise=0.2, label_noise=0.1, seed=6)
    a, b = dataset_for(config), make_dataset("moons", 40, 30, 0.2, 0.1, 6)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ARRAYS)
    points = read_points(_points_file(rows=60, classes=4))
    own = dataset_for(RunConfig(dataset=OWN, points=points, n_train=45, n_val=15, seed=2))
    assert own.classes == 4 and len(own.y_train) == 45
