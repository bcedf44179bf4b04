"""The Trainer: twin lockstep, reproducibility, the live toggle, divergence, snapshots and traces."""

import dataclasses

import numpy as np
import pytest

from dropviz.core import engine
from dropviz.core.config import RunConfig
from dropviz.core.data import Dataset
from dropviz.core.engine import Trainer, evaluate, grid_axis
from dropviz.core.trace import trace_steps
from dropviz.figures.boundary import BOUNDARY_GRID

SMALL = RunConfig(n_train=40, n_val=60, hidden=(12, 6), p=(0.5, 0.3), batch_size=8, epochs=6)


def _curves(history):
    return {
        name: [getattr(run, key).tolist() for key in ("train_loss", "val_loss", "optimized_loss")] for name, run in history.runs.items()
    }


def test_twin_and_dropout_run_are_identical_to_the_last_bit_when_p_is_zero():
    trainer = Trainer(dataclasses.replace(SMALL, p=(0.0, 0.0), p_input=0.0))
    history = trainer.run()
    a, b = history.runs["dropout"], history.runs["twin"]
    for key in ("train_loss", "val_loss", "train_acc", "val_acc", "optimized_loss"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
    weights = trainer.net.parameters()[0]
    assert all(np.array_equal(w[0], w[1]) for w in weights)


def test_twin_starts_from_the_same_weights_and_only_dropout_differs():
    trainer = Trainer(SMALL)
    weights = trainer.net.parameters()[0]
    assert all(np.array_equal(w[0], w[1]) for w in weights)
    trainer.run()
    weights = trainer.net.parameters()[0]
    assert not np.array_equal(weights[0][0], weights[0][1])


def test_same_seed_same_history_other_seed_different():
    first, again = Trainer(SMALL).run(), Trainer(SMALL).run()
    other = Trainer(dataclasses.replace(SMALL, seed=1)).run()
    assert _curves(first) == _curves(again)
    assert _curves(first) != _curves(other)


def test_step_by_step_and_chunked_steps_give_the_same_run():
    stepped, chunked = Trainer(SMALL), Trainer(SMALL)
    while not stepped.finished:
        stepped.step()
    taken = [chunked.train(3) for _ in range(40)]
    assert taken[:3] == [3, 2, 3]  # 5 steps an epoch: a chunk stops at the epoch's end
    assert _curves(stepped.history()) == _curves(chunked.history())
    assert stepped.epoch == SMALL.epochs and stepped.step_count == SMALL.epochs * 5


def test_toggle_keeps_weights_records_the_event_and_takes_effect_next_step():
    trainer = Trainer(SMALL)
    for _ in range(7):
        trainer.step()
    before = trainer.net.parameters()[0]
    trainer.set_dropout(False, SMALL.p, SMALL.p_input)
    assert all(np.array_equal(a, b) for a, b in zip(before, trainer.net.parameters()[0]))
    assert [e.text for e in trainer.events] == ["dropout off"]
    assert trainer.events[0].epoch == pytest.approx(1 + 16 / 40)
    trainer.step()
    assert all(mask.all() for mask in trainer.last_keep())
    trainer.set_dropout(True, (0.2, 0.2), 0.1)
    trainer.step()
    assert trainer.events[-1].text == "dropout on, p 0.5/0.3 -> 0.2, input p 0 -> 0.1"
    assert not all(mask[0].all() for mask in trainer.last_keep())
    assert trainer.snapshot(BOUNDARY_GRID).history.events == tuple(trainer.events)


def test_divergence_stops_that_run_only():
    trainer = Trainer(SMALL)
    trainer.step()
    trainer.net.W[0][0, 0, 0] = np.inf  # the dropout run blows up; the twin is untouched
    history = trainer.run()
    assert history.runs["dropout"].status == "diverged at epoch 1"
    assert history.runs["dropout"].epochs == 0
    assert history.runs["twin"].status == "ok" and history.runs["twin"].epochs == SMALL.epochs
    assert np.isfinite(history.runs["twin"].val_loss).all()
    assert np.isfinite(trainer.snapshot(BOUNDARY_GRID).grid_proba["twin"]).all()


def test_a_learning_rate_that_blows_up_is_reported_not_raised():
    config = dataclasses.replace(SMALL, optimizer="sgd", lr=1000.0, momentum=0.9, epochs=40)
    trainer = Trainer(config)
    history = trainer.run()
    assert {run.status[:18] for run in history.runs.values()} == {"diverged at epoch "}
    assert trainer.finished and trainer.epoch < 40
    for run in history.runs.values():  # what is kept is finite and below the threshold
        assert np.isfinite(run.train_loss).all() and (run.train_loss <= 100).all()


def test_snapshot_carries_the_masks_of_the_last_step_for_the_tracked_example():
    trainer = Trainer(SMALL)
    assert trainer.snapshot(BOUNDARY_GRID).masks == () and trainer.snapshot(BOUNDARY_GRID).tracked_index is None
    for _ in range(3):
        trainer.step()
    snapshot = trainer.snapshot(BOUNDARY_GRID)
    keep = trainer.last_keep()
    assert snapshot.tracked_index == trainer.last_batch[0]
    assert [m.tolist() for m in snapshot.masks] == [k[0, 0].tolist() for k in keep]
    assert snapshot.sizes == (2, 12, 6, 2)
    assert snapshot.params["dropout"][0].weight.shape == (12, 2)
    assert snapshot.grid_proba["dropout"].shape == (BOUNDARY_GRID, BOUNDARY_GRID)
    assert snapshot.grid_proba["dropout"].dtype == np.float32


def test_grid_rows_are_y():
    trainer = Trainer(SMALL)
    proba = trainer.grid_proba(48)["dropout"]
    axis = grid_axis(48)
    logits = trainer.net.logits(np.array([[axis[3], axis[40]]]))[0, 0]
    assert proba[40, 3] == pytest.approx(1 / (1 + np.exp(logits[0] - logits[1])), rel=1e-5)


def test_trace_recomputes_its_losses_in_numpy():
    trace = trace_steps(Trainer(SMALL, backend="exact"), 12)  # crosses two epoch boundaries; float64, as the CLI traces
    assert trace.x.shape == (12, 8, 2) and trace.masks[1].shape == (12, 8, 12)
    for s in range(12):
        a = trace.x[s] * trace.masks[0][s] / (1 - trace.p_input)
        for l in range(3):
            z = a @ trace.weights[l][s].T + trace.biases[l][s]
            if l < 2:
                a = np.maximum(z, 0) * trace.masks[l + 1][s] / (1 - trace.p[l])
        z = z - z.max(axis=1, keepdims=True)
        loss = -(z[np.arange(8), trace.y[s]] - np.log(np.exp(z).sum(axis=1))).mean()
        assert loss == pytest.approx(trace.loss[s], rel=1e-10)
    assert not np.array_equal(trace.weights[0][0], trace.weights[0][1])  # parameters before each update


def test_trace_refuses_partial_batches():
    with pytest.raises(ValueError, match="multiple of batch size"):
        trace_steps(Trainer(dataclasses.replace(SMALL, batch_size=7)), 3)


def test_update_takes_live_settings_and_refuses_the_rest():
    trainer = Trainer(SMALL)
    for _ in range(6):
        trainer.step()
    weights = trainer.net.parameters()[0]
    assert trainer.update(dataclasses.replace(SMALL, p=(0.1, 0.1), epochs=9))
    assert trainer.config.p == (0.1, 0.1) and trainer.config.epochs == 9
    assert all(np.array_equal(a, b) for a, b in zip(weights, trainer.net.parameters()[0]))
    assert [e.text for e in trainer.events] == ["p 0.5/0.3 -> 0.1"]
    assert not trainer.update(dataclasses.replace(SMALL, hidden=(4, 4)))
    assert not trainer.update(dataclasses.replace(SMALL, lr=0.5))
    assert trainer.config.p == (0.1, 0.1)


def test_raising_epochs_after_the_end_goes_on_with_the_same_history():
    short = Trainer(dataclasses.replace(SMALL, epochs=2))
    short.run()
    assert short.finished and short.update(dataclasses.replace(SMALL, epochs=7))
    history = short.run()  # past the room the first 2 epochs made for the curves
    alone = Trainer(dataclasses.replace(SMALL, epochs=7)).run()
    for name in ("dropout", "twin"):
        assert history.runs[name].epochs == 7
        assert np.array_equal(history.runs[name].val_loss, alone.runs[name].val_loss)
        assert np.array_equal(history.runs[name].optimized_loss, alone.runs[name].optimized_loss)


def test_evaluation_loss_is_the_training_loss_number_for_number():
    from dropviz.core.fastnet import cross_entropy

    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(3, 40, 2)) * 20).astype(np.float32)  # confident: logaddexp's both branches
    logits[2, 7] = np.nan  # a diverged model stays NaN
    y = (rng.random(40) > 0.5).astype(np.int64)
    with np.errstate(all="ignore"):
        loss, accuracy = evaluate(logits, y)
        expected, _ = cross_entropy(logits, y)
    np.testing.assert_array_equal(loss, expected)
    assert np.isnan(loss[2]) and not np.isnan(loss[:2]).any()
    np.testing.assert_array_equal(accuracy, (logits.argmax(axis=2) == y).mean(axis=1))


def test_a_burst_of_p_changes_is_one_event_and_each_dropout_switch_its_own():
    trainer = Trainer(SMALL)
    trainer.step()
    moves = [(0.45, 0.45), (0.4, 0.4), (0.35, 0.35)]  # arrow keys on the slider, each a change
    for n, p in enumerate(moves):
        trainer.update(dataclasses.replace(trainer.config, p=p), burst=n > 0)
    assert [e.text for e in trainer.events] == ["p 0.5/0.3 -> 0.35"]
    trainer.update(dataclasses.replace(trainer.config, p=(0.5, 0.3)), burst=True)  # back where the burst began: no change to mark
    assert trainer.events == []
    trainer.update(dataclasses.replace(trainer.config, dropout=False), burst=True)
    trainer.update(dataclasses.replace(trainer.config, dropout=True), burst=True)  # a quick switch back is still two switches
    assert [e.text for e in trainer.events] == ["dropout off", "dropout on"]
    trainer.update(dataclasses.replace(trainer.config, p=(0.3, 0.3)), burst=False)  # a change on its own
    assert [e.text for e in trainer.events][-1] == "p 0.5/0.3 -> 0.3" and len(trainer.events) == 3


def _blobs(classes: int, inputs: int):
    """dataset_for's stand-in: `classes` Gaussian blobs in `inputs` dimensions, labels 0 .. classes - 1."""

    def make(config):
        name, n_train, n_val = config.dataset, config.n_train, config.n_val
        rng = np.random.default_rng(config.seed)
        centres = rng.uniform(-1, 1, (classes, inputs))
        y_train, y_val = np.arange(n_train) % classes, np.arange(n_val) % classes
        x_train, x_val = (centres[y] + rng.normal(0, 0.15, (len(y), inputs)) for y in (y_train, y_val))
        none = np.zeros(n_train, bool), np.zeros(n_val, bool)
        return Dataset(name, x_train, y_train, x_val, y_val, *none, classes=classes)

    return make


@pytest.mark.parametrize("classes, inputs", [(3, 2), (10, 64)])
def test_the_network_takes_its_inputs_and_outputs_from_the_data_and_learns_many_classes(classes, inputs, monkeypatch):
    monkeypatch.setattr(engine, "dataset_for", _blobs(classes, inputs))
    config = dataclasses.replace(SMALL, n_train=60, n_val=60, epochs=30, p=(0.2, 0.2))
    trainer = Trainer(config)
    assert trainer.sizes == (inputs, 12, 6, classes)
    history = trainer.run()
    assert history.classes == classes
    assert trace_steps(Trainer(dataclasses.replace(config, batch_size=6)), 2).classes == classes
    for run in history.runs.values():
        assert run.status == "ok" and run.val_acc[-1] > 0.8 > 1 / classes  # separable blobs: well above chance
        assert run.train_loss[-1] < run.train_loss[0]
    exact, torch_run = (Trainer(dataclasses.replace(config, epochs=2), backend=b) for b in ("exact", "torch"))
    for trained in (exact, torch_run):
        trained.run()
    for name in ("dropout", "twin"):  # the optimized loss: float64 throughout in both, step for step
        np.testing.assert_allclose(exact.history().runs[name].optimized_loss, torch_run.history().runs[name].optimized_loss, rtol=1e-9)
    snapshot = trainer.snapshot(8)
    if inputs == 2:  # every class's probability on the plane's grid
        proba = snapshot.grid_proba["dropout"]
        assert proba.shape == (8, 8, classes)
        np.testing.assert_allclose(proba.sum(axis=-1), 1.0, rtol=1e-5)
    else:  # no plane to draw
        assert snapshot.grid_proba == {}


def test_snapshot_carries_each_runs_validation_predictions_as_of_the_last_epochs_end():
    trainer = Trainer(SMALL)
    assert trainer.snapshot(4).val_predicted == {}  # no epoch has ended
    trainer.train(trainer.steps_per_epoch)
    snapshot = trainer.snapshot(4)
    for k, run in enumerate(("dropout", "twin")):
        logits = trainer.net.logits(trainer.data.x_val, dtype=np.float32)[k]
        np.testing.assert_array_equal(snapshot.val_predicted[run], logits.argmax(axis=-1))
        accuracy = (snapshot.val_predicted[run] == trainer.data.y_val).mean()
        assert accuracy == snapshot.history.runs[run].val_acc[-1]  # the curves' last point, the same predictions
    trainer.train(1)  # a step into the next epoch changes nothing until that epoch ends
    np.testing.assert_array_equal(trainer.snapshot(4).val_predicted["twin"], snapshot.val_predicted["twin"])
