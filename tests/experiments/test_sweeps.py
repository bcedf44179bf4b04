"""The two experiments (dropviz.experiments.sweeps) against references, and their figures (dropviz.experiments.sweep_figures) on fig.data.

References: the Trainer's dropout run and twin (seed 0 of a sweep is that pair), and a K = 1 NumpyNet fed the
initial weights, batches and masks rebuilt from the documented generators (any other seed).
"""

import csv
import dataclasses
import io
import itertools
import time

import numpy as np
import pytest

from dropviz.core.config import RunConfig
from dropviz.core.data import make_dataset
from dropviz.core.engine import Trainer, evaluate, initial_parameters
from dropviz.core.fastnet import NumpyNet
from dropviz.core.records import RUN_NAMES
from dropviz.experiments import sweeps
from dropviz.experiments.sweep_figures import p_sweep_figure, size_figure
from dropviz.experiments.sweeps import Cancelled, SizeResult, SweepResult, p_sweep, size_sweep
from dropviz.figures.theme import THEME

TINY = RunConfig(n_train=40, n_val=60, hidden=(8,), p=(0.3,), batch_size=8, epochs=5)
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


def go_on(fraction: float) -> bool:
    return True


@pytest.fixture(scope="module")
def sweep() -> SweepResult:
    return p_sweep(TINY, go_on, seeds=2, p_values=(0.0, 0.3, 0.6))


@pytest.fixture(scope="module")
def sizes() -> SizeResult:
    return size_sweep(TINY, go_on, seeds=2, sizes=(12, 30), epochs=4)


def _trainer_finals(config: RunConfig) -> dict[str, dict[str, float]]:
    history = Trainer(config).run()
    return {run: {m: float(getattr(history.runs[run], m)[-1]) for m in METRICS} for run in RUN_NAMES}


# --- the p-sweep against references ----------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(8,), (256, 256)], ids=["loops", "gemm"])  # the kernel's two ways to multiply (kernel.BLAS_MIN)
def test_seed_zero_is_the_trainers_dropout_run_and_its_twin(hidden):
    config = dataclasses.replace(TINY, hidden=hidden, p=(0.3,) * len(hidden))
    result = p_sweep(config, go_on, seeds=2, p_values=(0.0, 0.3, 0.5))
    assert result.backend == "numba32"
    trainer = _trainer_finals(config)
    for m in METRICS:
        assert getattr(result, m)[1, 0] == pytest.approx(trainer["dropout"][m], abs=1e-7), m  # p = 0.3, seed 0 (float32 evaluation)
        assert getattr(result, m)[0, 0] == pytest.approx(trainer["twin"][m], abs=1e-7), m  # p = 0, seed 0
    assert result.val_loss[2, 0] != pytest.approx(trainer["dropout"]["val_loss"], abs=1e-6)  # another p is another run


def _independent_run(config: RunConfig, seed_index: int, p_hidden: float, epochs: int) -> dict[str, float]:
    """One model trained alone (K = 1 NumpyNet), its weights, batches and masks rebuilt from the documented generators."""
    data = make_dataset(config.dataset, config.n_train, config.n_val, config.noise, config.label_noise, config.seed)
    sizes = (2, *config.hidden, 2)
    weights, biases = initial_parameters(sizes, np.random.default_rng([config.seed, 2, seed_index]))
    net = NumpyNet([w[None] for w in weights], [b[None] for b in biases], config.activation, config.optimizer, config.lr,
                   config.momentum, config.weight_decay)  # fmt: skip
    order_rng = np.random.default_rng([config.seed, 1])
    mask_rng = np.random.default_rng([config.seed, 3, seed_index])
    n, units, batch = config.n_train, sum(sizes[:-1]), config.batch_size
    p = np.array([[config.p_input] + [p_hidden] * len(config.hidden)])  # (1, L + 1)
    for _ in range(epochs):
        order = order_rng.permutation(n)
        order_rng.random((2, n, units), dtype=np.float32)  # the Trainer's pair uniforms: seed 0's, not ours
        u = mask_rng.random((n, units), dtype=np.float32)
        keep, column = [], 0
        for l, width in enumerate(sizes[:-1]):
            keep.append((u[None, :, column : column + width] >= p[0, l]).astype(np.float64) / (1.0 - p[0, l]))  # (1, n, width)
            column += width
        x, y = data.x_train[order], data.y_train[order].astype(np.float64)
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            net.train_step(x[start:stop], y[start:stop], [k[:, start:stop] for k in keep], p)
    train_loss, train_acc = evaluate(net.logits(data.x_train), data.y_train)
    val_loss, val_acc = evaluate(net.logits(data.x_val), data.y_val)
    return {"train_loss": train_loss[0], "train_acc": train_acc[0], "val_loss": val_loss[0], "val_acc": val_acc[0]}


def test_a_later_seed_equals_a_model_trained_alone_on_the_same_weights_batches_and_masks():
    config = dataclasses.replace(TINY, hidden=(8, 5), p=(0.3, 0.3), p_input=0.2, activation="tanh")
    result = p_sweep(config, go_on, seeds=3, p_values=(0.1, 0.4))
    alone = _independent_run(config, seed_index=2, p_hidden=0.4, epochs=config.epochs)
    for m in METRICS:
        assert getattr(result, m)[1, 2] == pytest.approx(alone[m], abs=1e-7), m  # float32 evaluation: stacks round alike only to ~1e-9
    assert result.val_loss[1, 1] != pytest.approx(alone["val_loss"], abs=1e-6)  # seed 1 is another model


def test_p_zero_members_of_one_seed_are_identical_and_seeds_differ():
    result = p_sweep(TINY, go_on, seeds=3, p_values=(0.0, 0.5, 0.0))
    for m in METRICS:
        assert np.array_equal(getattr(result, m)[0], getattr(result, m)[2]), m  # stacked members do not disturb each other
    assert len(set(result.val_loss[0].tolist())) == 3  # three seeds, three initial weights
    assert not np.array_equal(result.val_loss[0], result.val_loss[1])  # p is applied


def test_same_config_same_result_other_seed_other_result(sweep):
    again = p_sweep(TINY, go_on, seeds=2, p_values=(0.0, 0.3, 0.6))
    assert again.to_csv() == sweep.to_csv()
    assert all(np.array_equal(getattr(again, m), getattr(sweep, m)) for m in METRICS)
    other = p_sweep(dataclasses.replace(TINY, seed=1), go_on, seeds=2, p_values=(0.0, 0.3, 0.6))
    assert not np.array_equal(other.val_loss, sweep.val_loss)


def test_the_result_is_read_only_and_says_what_it_trained(sweep):
    assert sweep.val_loss.shape == (3, 2) and sweep.diverged.shape == (3, 2)
    assert sweep.p_values.tolist() == [0.0, 0.3, 0.6] and sweep.seeds == 2
    assert sweep.epochs == TINY.epochs and sweep.steps == TINY.epochs * 5
    assert sweep.schedule == "5 epochs, as the config says."
    for m in (*METRICS, "diverged", "p_values"):
        with pytest.raises(ValueError):
            getattr(sweep, m)[0] = 0
    assert sweep.best_p == float(sweep.p_values[np.argmin(sweep.val_loss.mean(axis=1))])


def test_default_epochs_are_cut_to_the_budget_and_say_so(monkeypatch):
    monkeypatch.setattr(sweeps, "BUDGET_SECONDS", 1e-3)
    result = p_sweep(dataclasses.replace(TINY, epochs=200), go_on, seeds=1, p_values=(0.0, 0.5))
    assert 1 <= result.epochs < 200
    assert result.schedule.startswith(f"{result.epochs} of the config's 200 epochs")
    asked = p_sweep(dataclasses.replace(TINY, epochs=200), go_on, seeds=1, p_values=(0.0, 0.5), epochs=3)
    assert asked.epochs == 3 and asked.steps == 15


def test_a_diverged_model_is_flagged_and_left_out():
    config = RunConfig(n_train=40, n_val=60, hidden=(12, 6), p=(0.5, 0.5), batch_size=8, optimizer="sgd", lr=1000.0, momentum=0.9)
    result = p_sweep(config, go_on, seeds=2, p_values=(0.0, 0.5), epochs=20)
    assert result.diverged.any()
    assert np.isnan(result.val_loss[result.diverged]).all() and np.isfinite(result.val_loss[~result.diverged]).all()
    p_sweep_figure(result)  # draws what is left


# --- progress and cancel ----------------------------------------------------------------------------


EXPERIMENTS = {
    "p-sweep": lambda progress, epochs: p_sweep(TINY, progress, seeds=2, epochs=epochs),
    "size": lambda progress, epochs: size_sweep(TINY, progress, seeds=2, sizes=(12, 30, 60), epochs=epochs),
}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_progress_rises_to_one(name, monkeypatch):
    monkeypatch.setattr(sweeps, "REPORT_EVERY", 0.0)  # a report after every call to the net
    fractions = []
    EXPERIMENTS[name](lambda f: fractions.append(f) or True, 10)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(fractions) >= 10  # at least one report per epoch
    assert all(a < b for a, b in itertools.pairwise(fractions))


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("stop_at", [1, 2])
def test_false_from_progress_cancels_at_once(name, stop_at):
    calls = []

    def progress(fraction):
        calls.append(fraction)
        return len(calls) < stop_at

    began = time.perf_counter()
    with pytest.raises(Cancelled):
        EXPERIMENTS[name](progress, 100_000)  # many seconds of work if it did not stop
    assert len(calls) == stop_at  # no call after the False
    assert time.perf_counter() - began < 3.0


# --- CSV ---------------------------------------------------------------------------------------------


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_sweep_csv_has_one_row_per_model(sweep):
    rows = _rows(sweep.to_csv())
    assert list(rows[0]) == ["p", "p_input", "seed", "epochs", "steps", *METRICS, "diverged"]
    assert len(rows) == 3 * 2
    assert [(r["p"], r["seed"]) for r in rows] == [(p, s) for p in ("0", "0.3", "0.6") for s in ("0", "1")]
    for row in rows:
        i, s = [0.0, 0.3, 0.6].index(float(row["p"])), int(row["seed"])
        for m in METRICS:
            assert float(row[m]) == pytest.approx(getattr(sweep, m)[i, s], rel=1e-5)
        assert row["epochs"] == "5" and row["diverged"] == "0"


def test_size_csv_has_one_row_per_model(sizes):
    rows = _rows(sizes.to_csv())
    assert list(rows[0]) == ["size", "run", "p", "p_input", "seed", "epochs", "steps", *METRICS, "val_error", "diverged"]
    assert len(rows) == 2 * 2 * 2
    assert {(r["size"], r["run"], r["p"], r["seed"]) for r in rows} == {
        (n, run, p, s) for n in ("12", "30") for run, p in (("dropout", "0.3"), ("twin", "0")) for s in ("0", "1")
    }
    for row in rows:
        i, r, s = [12, 30].index(int(row["size"])), RUN_NAMES.index(row["run"]), int(row["seed"])
        assert float(row["val_acc"]) == pytest.approx(sizes.val_acc[i, r, s], rel=1e-5)
        assert float(row["val_error"]) == pytest.approx(1 - sizes.val_acc[i, r, s], abs=1e-5)
        assert row["steps"] == str(4 * (2 if i == 0 else 4))


# --- the size sweep -----------------------------------------------------------------------------------


def test_dropout_run_and_twin_of_a_size_see_the_same_batches_and_weights():
    config = dataclasses.replace(TINY, p=(0.0,), p_input=0.0)
    result = size_sweep(config, go_on, seeds=2, sizes=(12, 30), epochs=4)
    for m in METRICS:
        assert np.array_equal(getattr(result, m)[:, 0], getattr(result, m)[:, 1]), m
    assert np.all(result.gain == 0)
    assert not np.array_equal(result.val_loss[:, :, 0], result.val_loss[:, :, 1])  # seeds differ


def test_size_sweep_shapes_gain_and_reproducibility(sizes):
    assert sizes.sizes.tolist() == [12, 30] and sizes.val_loss.shape == (2, 2, 2)
    assert not np.array_equal(sizes.val_loss[:, 0], sizes.val_loss[:, 1])  # dropout is applied
    assert np.array_equal(sizes.gain, sizes.val_error[:, 1] - sizes.val_error[:, 0])
    again = size_sweep(TINY, go_on, seeds=2, sizes=(12, 30), epochs=4)
    assert again.to_csv() == sizes.to_csv()


def test_a_size_trains_exactly_as_that_prefix_of_the_data_would():
    """Each size is trained on the first `size` points of the largest draw, validated on its n_val points."""
    pair = size_sweep(TINY, go_on, seeds=1, sizes=(16, 60), epochs=3)
    alone = size_sweep(TINY, go_on, seeds=1, sizes=(16,), epochs=3)  # its own (smaller) draw: other points
    assert not np.array_equal(pair.val_loss[0], alone.val_loss[0])
    # n_train = 60 with the config's data is exactly the pool: the 60-point size is a p-sweep's member (seed 0).
    config = dataclasses.replace(TINY, n_train=60)
    member = p_sweep(config, go_on, seeds=1, p_values=(0.0,), epochs=3)
    assert pair.val_loss[1, 1, 0] == pytest.approx(member.val_loss[0, 0], abs=1e-10)


def test_sizes_are_capped_sorted_and_deduplicated():
    result = size_sweep(TINY, go_on, seeds=1, sizes=(30, 9999, 12, 30), epochs=1)
    assert result.sizes.tolist() == [12, 30, sweeps.MAX_SIZE]
    with pytest.raises(ValueError):
        size_sweep(TINY, go_on, sizes=(1, 20))
    with pytest.raises(ValueError):
        p_sweep(TINY, go_on, seeds=0)


def test_default_schedule_gives_every_size_the_configs_steps(monkeypatch):
    result = size_sweep(TINY, go_on, seeds=1, sizes=(12, 30))
    target = TINY.epochs * 5  # 5 epochs of 40 points in batches of 8
    per_epoch = np.array([2, 4])
    assert np.array_equal(result.steps, result.epochs * per_epoch)
    assert (result.steps >= target).all() and (result.steps - per_epoch < target).all()
    assert result.schedule.startswith(f"About {target} optimizer steps")
    monkeypatch.setattr(sweeps, "BUDGET_SECONDS", 1e-4)
    cut = size_sweep(TINY, go_on, seeds=1, sizes=(12, 30))
    assert (cut.steps < result.steps).all() and "cut from the config's 25" in cut.schedule


# --- figures ------------------------------------------------------------------------------------------


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def _layout_is_themed(fig):
    assert fig.layout.paper_bgcolor == THEME.transparent and fig.layout.plot_bgcolor == THEME.transparent
    assert fig.layout.font.color is None


def test_p_sweep_figure_draws_means_ranges_and_the_best_p(sweep):
    fig = p_sweep_figure(sweep)
    _layout_is_themed(fig)
    names = [t.name for t in fig.data]
    for panel in ("loss", "accuracy"):
        assert {f"validation {panel}", f"training {panel}", f"validation {panel} seed range"} <= set(names)
    mean, low, high = sweep.summary("val_loss")
    line = _trace(fig, "validation loss")
    assert np.allclose(line.x, sweep.p_values) and np.allclose(line.y, mean, rtol=1e-6)
    assert np.allclose(_trace(fig, "validation loss seed range (lower)").y, low, rtol=1e-6)
    assert np.allclose(_trace(fig, "validation loss seed range").y, high, rtol=1e-6)
    assert np.allclose(_trace(fig, "validation accuracy").y, sweep.summary("val_acc")[0], rtol=1e-6)
    star = _trace(fig, "best p")
    assert list(star.x) == [sweep.best_p] and star.y[0] == pytest.approx(mean.min(), rel=1e-6)
    assert [s.x0 for s in fig.layout.shapes] == [sweep.best_p] * 2


def test_p_sweep_panels_have_their_own_legends_and_the_dropout_runs_colour(sweep):
    fig = p_sweep_figure(sweep)
    shown = [t for t in fig.data if t.showlegend is not False]
    # Each panel's legend lists only that panel's metric, and sits under that panel.
    loss_legend = [t.name for t in shown if (t.legend or "legend") == "legend"]
    accuracy_legend = [t.name for t in shown if t.legend == "legend2"]
    assert loss_legend == ["validation loss", "training loss", "best p"]
    assert accuracy_legend == ["validation accuracy", "training accuracy"]
    assert fig.layout.legend.x < 0.5 < fig.layout.legend2.x
    dash = dict(THEME.split_dash)
    for panel in ("loss", "accuracy"):
        val, train = _trace(fig, f"validation {panel}"), _trace(fig, f"training {panel}")
        assert val.line.color == train.line.color == THEME.run_colors[0]
        assert (val.line.dash, val.line.width) == (dash["validation"], THEME.curve_width)
        assert train.line.dash == dash["train"] and train.line.width >= THEME.train_width
        # Visible on a dark page: no faint training line.
        assert (train.opacity if train.opacity is not None else 1.0) >= 0.8
        assert _trace(fig, f"validation {panel} seed range").fillcolor == THEME.gap_fill(0)


def test_sweep_figures_keep_to_a_phone_s_half_width_panels(sweep, sizes):
    # Every other value named and short axis titles: a 150 px panel keeps them level and apart.
    p_fig, size_fig = p_sweep_figure(sweep), size_figure(sizes)
    assert list(p_fig.layout.xaxis.tickvals) == list(p_fig.layout.xaxis2.tickvals) == list(sweep.p_values[::2])
    assert list(size_fig.layout.xaxis.tickvals) == list(sizes.sizes[::2])
    for axis in (p_fig.layout.xaxis, p_fig.layout.xaxis2, size_fig.layout.xaxis, size_fig.layout.xaxis2):
        assert len(axis.title.text) <= 17, axis.title.text
    # Each panel's legend a column: a row would wrap at the figure's width, across the other panel's legend.
    assert p_fig.layout.legend.orientation == p_fig.layout.legend2.orientation == "v"


def test_size_figure_draws_errors_and_gain_against_size(sizes):
    fig = size_figure(sizes)
    _layout_is_themed(fig)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"
    error = sizes.summary("val_error")[0]
    for r, name in enumerate(("with dropout", "no dropout")):
        line = _trace(fig, name)
        assert list(line.x) == [12, 30] and np.allclose(line.y, error[:, r], rtol=1e-6)
        # The runs differ by colour and marker; both lines are validation error, so both solid.
        assert line.line.color == THEME.run_colors[r] and line.marker.symbol == THEME.run_symbols[r]
        assert line.line.dash == dict(THEME.split_dash)["validation"]
        assert _trace(fig, f"{name} seed range").fillcolor == THEME.gap_fill(r)
    gain = _trace(fig, "gain (no dropout - dropout)")
    assert list(gain.x) == [12, 30] and np.allclose(gain.y, sizes.gain.mean(axis=1), atol=1e-6)


def test_figures_draw_nan_as_gaps_and_never_raise(sweep, sizes):
    nan = np.full(sweep.val_loss.shape, np.nan)
    broken = dataclasses.replace(sweep, val_loss=nan, val_acc=nan, train_loss=nan, diverged=np.ones(nan.shape, bool))
    fig = p_sweep_figure(broken)
    assert len(_trace(fig, "best p").x) == 0 and not fig.layout.shapes
    assert np.isnan(np.asarray(_trace(fig, "validation loss").y, dtype=float)).all()
    partly = sizes.val_acc.copy()
    partly[0, 0, :] = np.nan  # every seed of one point diverged
    fig = size_figure(dataclasses.replace(sizes, val_acc=partly))
    assert len(fig.data) == len(size_figure(sizes).data)  # the same traces, whatever the values
    assert np.isnan(float(_trace(fig, "with dropout").y[0])) and np.isfinite(float(_trace(fig, "no dropout").y[0]))


def test_texts_are_two_sentences_each():
    for text in (sweeps.P_SWEEP_TEXT, sweeps.SIZE_TEXT):
        assert text.count(". ") + 1 == 2 and text.endswith(".")
    # They say what the default preset's plots show (tests/experiments/test_claims.py measures it), not the old flat valley.
    assert "flat valley" not in sweeps.P_SWEEP_TEXT and "p = 0.6 to 0.8" in sweeps.P_SWEEP_TEXT


def test_both_sweeps_train_on_digits_and_the_size_sweep_stays_within_the_pool():
    digits = RunConfig(dataset="digits", n_train=60, n_val=1500, hidden=(16,), p=(0.5,), batch_size=20, epochs=2)
    swept = p_sweep(digits, go_on, seeds=1, p_values=(0.0, 0.5))
    assert swept.val_acc.shape == (2, 1) and np.isfinite(swept.val_acc).all()
    seed_zero = Trainer(dataclasses.replace(digits, p=(0.0,)))  # p = 0, seed 0: the Trainer's run, 64 inputs, 10 classes
    np.testing.assert_allclose(swept.val_loss[0, 0], seed_zero.run().runs["twin"].val_loss[-1], rtol=1e-5)
    sized = size_sweep(digits, go_on, seeds=1, sizes=(30, 1000), epochs=1)
    assert sized.sizes.tolist() == [30, 1797 - 1500]  # what the 1,797 digits have beside the validation set
