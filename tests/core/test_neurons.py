"""neuron_maps: what each drawn neuron computes over the plane, consistent with the boundary and the network's own layers."""

import numpy as np
import pytest

from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer, grid_axis
from dropviz.core.fastnet import forward
from dropviz.core.neurons import closeup, neuron_maps, plane, with_maps
from dropviz.core.records import RUN_NAMES

CONFIG = RunConfig(n_train=40, n_val=40, hidden=(12, 6), p=(0.5, 0.3), batch_size=8, epochs=3, activation="tanh")


@pytest.fixture(scope="module")
def trainer():
    trainer = Trainer(CONFIG)
    trainer.train(10)
    return trainer


def test_one_map_per_drawn_unit_of_every_column(trainer):
    maps, _ = neuron_maps(*trainer.net.parameters(), CONFIG.activation, 9, 8)
    assert set(maps) == set(RUN_NAMES)
    assert [m.shape for m in maps["dropout"]] == [(2, 9, 9), (8, 9, 9), (6, 9, 9), (1, 9, 9)]
    assert all(m.dtype == np.float32 and not m.flags.writeable for m in maps["twin"])


def test_inputs_are_the_coordinates_and_the_output_is_the_boundary(trainer):
    maps, _ = neuron_maps(*trainer.net.parameters(), CONFIG.activation, 48, 4)
    axis = grid_axis(48)
    np.testing.assert_allclose(maps["dropout"][0][0, 5, :], axis / axis[-1], atol=1e-6)  # x1 varies along a row
    np.testing.assert_allclose(maps["dropout"][0][1][:, 5], axis / axis[-1], atol=1e-6)  # x2 along a column (rows = y)
    for run in RUN_NAMES:
        np.testing.assert_allclose(maps[run][-1][0], trainer.grid_proba(48)[run], atol=1e-5)


def test_hidden_maps_are_the_layers_activations_over_one_shared_scale(trainer):
    weights, biases = trainer.net.parameters()
    maps, scale = neuron_maps(weights, biases, CONFIG.activation, 7, 12)
    _, points = plane(7)
    _, hidden = forward(points, weights, biases, CONFIG.activation)  # (K, 49, h_l) per layer
    for k, run in enumerate(RUN_NAMES):
        for layer, h in enumerate(hidden):
            expected = np.clip(h[k].T.reshape(-1, 7, 7) / scale, -1, 1)
            np.testing.assert_allclose(maps[run][layer + 1], expected, atol=1e-6)
    values = np.abs(np.concatenate([h.ravel() for h in hidden]))
    assert scale == pytest.approx(np.percentile(values, 95))
    assert max(float(np.abs(m).max()) for run in RUN_NAMES for m in maps[run][1:-1]) == pytest.approx(1.0)


def test_snapshot_carries_maps_only_when_asked(trainer):
    assert trainer.snapshot(16).neuron_maps == {} and trainer.snapshot(16).activation == "tanh"
    snapshot = with_maps(trainer.snapshot(16), 8, 3)
    assert [m.shape for m in snapshot.neuron_maps["twin"]] == [(2, 8, 8), (3, 8, 8), (3, 8, 8), (1, 8, 8)]
    assert snapshot.neuron_scale > 0


def test_closeup_is_the_same_neuron_of_both_runs_from_the_snapshots_parameters(trainer):
    snapshot = trainer.snapshot(16)
    view = closeup(snapshot, 2, 4, 10)
    maps, scale = neuron_maps(*trainer.net.parameters(), CONFIG.activation, 10, 6)
    for run in RUN_NAMES:
        np.testing.assert_allclose(np.clip(view.maps[run] / scale, -1, 1), maps[run][2][4], atol=1e-5)  # float32 weights
        np.testing.assert_array_equal(view.incoming[run], snapshot.params[run][1].weight[4])  # (in,) from hidden 1
        assert view.bias[run] == pytest.approx(float(snapshot.params[run][1].bias[4]))
    output = closeup(snapshot, 3, 1, 48)
    np.testing.assert_allclose(output.maps["twin"], trainer.grid_proba(48)["twin"], atol=1e-5)


@pytest.mark.parametrize(("column", "unit"), [(0, 0), (4, 0), (1, 12), (2, -1)])
def test_closeup_refuses_a_neuron_that_does_not_exist(trainer, column, unit):
    with pytest.raises(ValueError, match="no neuron"):
        closeup(trainer.snapshot(16), column, unit, 8)


def test_with_more_than_two_classes_each_output_unit_maps_its_class_probability():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(2, 2, 5)), rng.normal(size=(2, 5, 3)) * 3]  # two runs, 2 -> 5 -> 3 classes
    biases = [rng.normal(size=(2, 5)), rng.normal(size=(2, 3))]
    maps, _ = neuron_maps(weights, biases, "relu", 7, 4)
    output = maps["twin"][-1]
    assert output.shape == (3, 7, 7)
    np.testing.assert_allclose(output.sum(axis=0), 1.0, rtol=1e-5)  # a softmax over the classes at every point
    logits, _ = forward(plane(7)[1], [w[1] for w in weights], [b[1] for b in biases], "relu")
    np.testing.assert_array_equal(output.argmax(axis=0).ravel(), logits.argmax(axis=-1))  # the class each point gets
