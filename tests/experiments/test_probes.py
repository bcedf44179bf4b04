"""Tests for dropviz.experiments.probes and dropviz.experiments.probe_figures: each probe against a plain NumPy reference written here.

References use the weights as nn.Linear stores them, (out, in), explicit masks drawn in the documented
order, and the engine's own evaluation (Trainer.net.logits) where there is one.
"""

import csv
import dataclasses
import io
import itertools
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer, evaluate
from dropviz.core.records import RUN_NAMES, LayerParams, frozen
from dropviz.experiments import probe_figures as pf
from dropviz.experiments import probes
from dropviz.figures.boundary import BOUNDARY_GRID
from dropviz.figures.theme import THEME

CONFIG = RunConfig(n_train=40, hidden=(8, 6), p=(0.5, 0.3), batch_size=8, epochs=3)


@pytest.fixture(scope="module")
def trained():
    trainer = Trainer(CONFIG)
    for _ in range(8):
        trainer.step()
    return trainer, trainer.snapshot(BOUNDARY_GRID), trainer.data


# --- references -------------------------------------------------------------------------------


def _relu(z):
    return np.maximum(z, 0.0)


def _reference_proba(params, x, keep=None, q=None, off=None):
    """P(class 1) of one run, layer by layer from (out, in) weights. keep[l] (N or 1, in_l) bool masks of layer l's
    input, scaled by 1 / (1 - q[l]); off[l] (in_l,) 0/1 switches units off without scaling."""
    a = np.asarray(x, dtype=np.float64)
    for l, layer in enumerate(params):
        if keep is not None and keep[l] is not None:
            a = a * keep[l] / (1.0 - q[l])
        if off is not None and off[l] is not None:
            a = a * off[l]
        z = a @ np.asarray(layer.weight, np.float64).T + np.asarray(layer.bias, np.float64)
        a = z if l == len(params) - 1 else _relu(z)
    return 1.0 / (1.0 + np.exp(-(a[:, 1] - a[:, 0])))


def _grid(axis):
    gx, gy = np.meshgrid(axis, axis)  # rows = y
    return np.column_stack([gx.ravel(), gy.ravel()])


def _levels_keep(rng, shape, p):
    """The documented mask rule: uint16 levels, kept where level >= ceil(p * 65536)."""
    return rng.integers(0, 65536, shape, dtype=np.uint16) >= math.ceil(p * 65536)


def _with_params(snapshot, params):
    return dataclasses.replace(snapshot, params=params)


def _layer(weight, bias):
    return LayerParams(frozen(np.asarray(weight, np.float32)), frozen(np.asarray(bias, np.float32)))


def _hand_made(dead_in_first: tuple[int, ...]):
    """A relu net 2 -> 8 -> 6 -> 2 whose dead units are known: units of layer 1 in dead_in_first have w = 0, b = -1;
    layer 2's unit 2 has w = 0, b = -0.5 (dead) and unit 5 w = 0, b = 0.7 (alive but constant)."""
    w1 = np.array([[1, 0], [0, 1], [0, 1], [-1, 0], [0.01, 0], [0, -1], [1, 1], [-1, -1]], float)  # unit 4: tiny, alive
    b1 = np.zeros(8)
    for u in dead_in_first:
        w1[u], b1[u] = 0.0, -1.0
    w2 = np.zeros((6, 8))
    w2[0, 0] = w2[1, 2] = w2[3, 3] = 1.0
    w2[4, 5] = w2[4, 6] = 1.0
    b2 = np.array([0.0, 0.0, -0.5, 0.0, 0.0, 0.7])
    w3 = np.array([[1.0, -1, 0, 0.5, -0.5, 0.2], [-1.0, 1, 0, -0.5, 0.5, -0.1]])
    b3 = np.array([0.1, -0.1])
    return (_layer(w1, b1), _layer(w2, b2), _layer(w3, b3))


# --- 1. Monte Carlo dropout ---------------------------------------------------------------------


@pytest.mark.parametrize("p_input", [0.0, 0.2])
def test_mc_mean_is_the_mean_of_explicit_masked_forwards(trained, p_input):
    _, snap, data = trained
    passes, seed = 6, 11
    result = probes.mc_dropout(snap, data, "relu", CONFIG.p, p_input, passes, np.random.default_rng(seed), dtype=np.float64)
    # Documented draw order: per pass, per dropped layer (inputs if p_input > 0, hidden 1, hidden 2),
    # levels of shape (grid points + validation points, units).
    x = np.concatenate([_grid(snap.grid_axis), data.x_val])
    n_grid = len(snap.grid_axis) ** 2
    q = (p_input, *CONFIG.p)
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(passes):
        keep = [_levels_keep(rng, (len(x), units), ql) if ql > 0 else None for units, ql in zip(snap.sizes, q)]
        runs.append(_reference_proba(snap.params["dropout"], x, keep, q))
    runs = np.array(runs)  # (T, N)
    g = len(snap.grid_axis)
    np.testing.assert_allclose(result.mean, runs[:, :n_grid].mean(axis=0).reshape(g, g), rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.std, runs[:, :n_grid].std(axis=0).reshape(g, g), rtol=0, atol=1e-7)
    eval_grid = _reference_proba(snap.params["dropout"], x[:n_grid])
    running = np.cumsum(runs[:, :n_grid], axis=0) / np.arange(1, passes + 1)[:, None]
    np.testing.assert_allclose(result.convergence, np.abs(running - eval_grid).mean(axis=1), rtol=0, atol=1e-12)
    mc_val = runs[:, n_grid:].mean(axis=0)
    y = data.y_val
    assert result.val_loss_mc == pytest.approx(-np.mean(np.log(np.where(y == 1, mc_val, 1 - mc_val))), abs=1e-12)
    assert result.val_acc_mc == np.mean((mc_val > 0.5) == (y == 1))
    assert result.std.max() > 0.01, "dropout at test time must make the passes differ"


def test_mc_float32_grid_agrees_with_float64(trained):
    _, snap, data = trained
    fast = probes.mc_dropout(snap, data, "relu", CONFIG.p, 0.1, 4, np.random.default_rng(5))
    exact = probes.mc_dropout(snap, data, "relu", CONFIG.p, 0.1, 4, np.random.default_rng(5), dtype=np.float64)
    np.testing.assert_allclose(fast.mean, exact.mean, atol=1e-5)
    np.testing.assert_allclose(fast.eval_proba, exact.eval_proba, atol=1e-5)
    assert fast.val_loss_mc == exact.val_loss_mc  # validation points are always float64


def test_mc_evaluation_mode_is_the_engines(trained):
    trainer, snap, data = trained
    result = probes.mc_dropout(snap, data, "relu", CONFIG.p, 0.0, 2, np.random.default_rng(0))
    np.testing.assert_allclose(result.eval_proba, snap.grid_proba["dropout"], atol=1e-5)
    loss, acc = evaluate(trainer.net.logits(data.x_val), data.y_val)
    assert result.val_loss_eval == pytest.approx(loss[0], abs=1e-5)
    assert result.val_acc_eval == acc[0]


def test_mc_sampling_noise_is_the_half_normal_error_of_an_average(trained):
    _, snap, data = trained
    mc = probes.mc_dropout(snap, data, "relu", CONFIG.p, 0.0, 16, np.random.default_rng(3))
    t = np.arange(1, 17)
    np.testing.assert_allclose(mc.noise, math.sqrt(2 / math.pi) * mc.std.mean() / np.sqrt(t), rtol=1e-12)
    assert mc.noise[-1] == pytest.approx(mc.noise[0] / 4)  # 1 / sqrt(t)


def test_mc_without_dropout_has_no_spread(trained):
    _, snap, data = trained
    result = probes.mc_dropout(snap, data, "relu", (0.0, 0.0), 0.0, 3, np.random.default_rng(0), dtype=np.float64)
    assert np.all(result.std < 1e-7)
    np.testing.assert_allclose(result.mean, result.eval_proba, atol=1e-12)
    assert result.val_loss_mc == pytest.approx(result.val_loss_eval, abs=1e-9)


def test_mc_rejects_bad_arguments(trained):
    _, snap, data = trained
    for passes in (0, probes.MC_PASSES_MAX + 1):
        with pytest.raises(ValueError, match="passes"):
            probes.mc_dropout(snap, data, "relu", CONFIG.p, 0.0, passes, np.random.default_rng(0))
    with pytest.raises(ValueError, match="hidden layers"):
        probes.mc_dropout(snap, data, "relu", (0.5,), 0.0, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="activation"):
        probes.mc_dropout(snap, data, "gelu", CONFIG.p, 0.0, 2, np.random.default_rng(0))


# --- 2. the scaling lesson ----------------------------------------------------------------------


def test_paper_scaling_equals_inverted_dropout_and_forgetting_differs(trained):
    _, snap, data = trained
    result = probes.scaling_lesson(snap, data, "relu", CONFIG.p, 0.2)
    assert result.ways == probes.SCALING_WAYS
    np.testing.assert_allclose(result.proba[1], result.proba[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.val_proba[1], result.val_proba[0], rtol=0, atol=1e-6)
    assert result.val_loss[1] == pytest.approx(result.val_loss[0], abs=1e-6)
    assert np.abs(result.proba[2] - result.proba[0]).max() > 1e-3
    assert result.val_loss[2] != pytest.approx(result.val_loss[0], abs=1e-4)
    # (c) by hand: every layer's incoming weights divided by the keep probability of its input.
    q = (0.2, *CONFIG.p)
    forgot = tuple(_layer(layer.weight / (1 - ql), layer.bias) for layer, ql in zip(snap.params["dropout"], q))
    np.testing.assert_allclose(result.val_proba[2], _reference_proba(forgot, data.x_val), atol=1e-6)


def test_scaling_without_dropout_changes_nothing(trained):
    _, snap, data = trained
    result = probes.scaling_lesson(snap, data, "relu", (0.0, 0.0), 0.0)
    np.testing.assert_array_equal(result.proba[2], result.proba[0])
    np.testing.assert_array_equal(result.val_loss, np.full(3, result.val_loss[0]))


def test_inverted_dropout_is_the_engines_evaluation(trained):
    trainer, snap, data = trained
    result = probes.scaling_lesson(snap, data, "relu", CONFIG.p, CONFIG.p_input)
    logits = trainer.net.logits(data.x_val)  # (K, n_val, 2), the engine's evaluation mode
    loss, acc = evaluate(logits, data.y_val)
    engine_proba = 1.0 / (1.0 + np.exp(-(logits[0, :, 1] - logits[0, :, 0])))
    np.testing.assert_allclose(result.val_proba[0], engine_proba, atol=1e-5)  # snapshot weights are float32
    assert result.val_loss[0] == pytest.approx(loss[0], abs=1e-5)
    assert result.val_acc[0] == acc[0]


# --- 3. inside the network ----------------------------------------------------------------------


def test_histogram_counts_every_activation_of_the_last_layer(trained):
    _, snap, data = trained
    result = probes.inside(snap, data, "relu", (0,), 1, np.random.default_rng(0))
    assert result.hist_counts.shape == (2, probes.HIST_BINS)
    np.testing.assert_array_equal(result.hist_counts.sum(axis=1), [6 * len(data.x_val)] * 2)
    for k, run in enumerate(RUN_NAMES):
        layers = [_relu(data.x_val @ snap.params[run][0].weight.T.astype(float) + snap.params[run][0].bias)]
        np.testing.assert_allclose(result.activations[0][k], layers[0], atol=1e-6)
        counts, _ = np.histogram(result.activations[-1][k], bins=result.hist_edges)
        np.testing.assert_array_equal(result.hist_counts[k], counts)


def test_dead_units_of_a_hand_made_network(trained):
    _, snap, data = trained
    hand = _with_params(snap, {"dropout": _hand_made((1, 4)), "twin": _hand_made((1,))})
    result = probes.inside(hand, data, "relu", (0,), 1, np.random.default_rng(0))
    np.testing.assert_array_equal(result.dead_units, [[2, 1], [1, 1]])
    # near-zero share of layer 1 of the dropout run, by hand: relu(x @ w1 + b1) < 1e-3
    w1 = hand.params["dropout"][0]
    a = _relu(data.x_val @ w1.weight.T.astype(float) + w1.bias)
    assert result.sparsity[0, 0] == pytest.approx(np.mean(a < 1e-3))
    assert result.mean_activation[0, 0] == pytest.approx(a.mean())


def test_dead_units_of_tanh_are_the_silent_ones(trained):
    _, snap, data = trained
    params = list(_hand_made(()))
    w1, b1 = np.array(params[0].weight), np.array(params[0].bias)
    w1[[2, 7]] = 0.0
    b1[2], b1[7] = 0.0, -1.0  # unit 2: tanh(0) = 0, silent; unit 7: tanh(-1) = -0.76, constant but not silent
    params[0] = _layer(w1, b1)
    hand = _with_params(snap, {"dropout": tuple(params), "twin": _hand_made(())})
    result = probes.inside(hand, data, "tanh", (0,), 1, np.random.default_rng(0))
    assert result.near_zero == probes.NEAR_ZERO["tanh"]
    # unit 4 (w = (0.01, 0)) stays within tanh's +-0.05 on every point: silent in both runs
    assert result.dead_units[0, 0] == 2 and result.dead_units[1, 0] == 1


def test_correlation_is_pearson_r_and_nan_for_constant_units(trained):
    _, snap, data = trained
    hand = _with_params(snap, {"dropout": _hand_made((1, 4)), "twin": snap.params["twin"]})
    result = probes.inside(hand, data, "relu", (0,), 1, np.random.default_rng(0))
    r = result.correlation[0]  # hand-made: layer 2's unit 2 is dead, unit 5 constant
    constant = [2, 5]
    live = [u for u in range(6) if u not in constant]
    assert np.isnan(r[constant]).all() and np.isnan(r[:, constant]).all()
    np.testing.assert_array_equal(np.diag(r)[live], 1.0)
    acts = np.asarray(result.activations[-1][0], np.float64)
    np.testing.assert_allclose(r[np.ix_(live, live)], np.corrcoef(acts[:, live].T), atol=1e-5)
    # the trained twin: every non-constant unit correlates perfectly with itself
    twin = result.correlation[1]
    alive = np.asarray(result.activations[-1][1]).std(axis=0) > 0
    np.testing.assert_allclose(np.diag(twin)[alive], 1.0)
    np.testing.assert_allclose(twin, twin.T, equal_nan=True)
    pairs = [abs(twin[i, j]) for i, j in itertools.combinations(np.flatnonzero(alive), 2)]
    expected = np.mean(pairs) if pairs else np.nan
    np.testing.assert_allclose(result.mean_abs_correlation[1], expected, equal_nan=True)
    # Drawing order: live units by mean |r| with the others, highest first; the constant ones last.
    order = list(result.order[0])
    assert sorted(order) == list(range(6)) and order[-2:] == constant
    score = [np.mean([abs(r[u, v]) for v in live if v != u]) for u in order[:4]]
    assert score == sorted(score, reverse=True)


def test_robustness_with_nothing_off_is_evaluation_accuracy(trained):
    trainer, snap, data = trained
    result = probes.inside(snap, data, "relu", (0, 3), 4, np.random.default_rng(0))
    _, acc = evaluate(trainer.net.logits(data.x_val), data.y_val)
    np.testing.assert_array_equal(result.eval_acc, acc)
    np.testing.assert_array_equal(result.robust_acc[:, 0, :], np.repeat(acc[:, None], 4, axis=1))
    np.testing.assert_array_equal(result.robust_std[:, 0], 0.0)


@pytest.mark.parametrize("network", ["trained", "hand-made"])
def test_robustness_draws_follow_the_documented_order(trained, network):
    _, snap, data = trained
    if network == "hand-made":  # its accuracy moves with every unit: a rescaling would show
        snap = _with_params(snap, {"dropout": _hand_made((1,)), "twin": _hand_made(())})
    k_values, draws, seed = (2, 7), 3, 4
    result = probes.inside(snap, data, "relu", k_values, draws, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    for i, k in enumerate(k_values):
        for d in range(draws):
            off = [None]
            for width in (8, 6):
                scale = np.ones(width)
                scale[rng.choice(width, min(k, width), replace=False)] = 0.0  # k = 7 is capped at 6 in layer 2
                off.append(scale)
            for r, run in enumerate(RUN_NAMES):
                proba = _reference_proba(snap.params[run], data.x_val, off=off)
                assert result.robust_acc[r, i, d] == pytest.approx(np.mean((proba > 0.5) == (data.y_val == 1)))
    # k = 7 leaves layer 2 with no unit: the output is its bias alone, the same class for every point
    for r, run in enumerate(RUN_NAMES):
        predicted = int(np.argmax(snap.params[run][-1].bias))
        np.testing.assert_allclose(result.robust_acc[r, 1], np.mean(data.y_val == predicted))


# --- 4. sampled subnetworks ---------------------------------------------------------------------


def test_thinned_network_that_keeps_everything_is_the_full_network(trained):
    _, snap, data = trained
    result = probes.subnetworks(snap, data, "relu", (0.0, 0.0), 0.0, 3, np.random.default_rng(0))
    assert all(k.all() for k in result.keep)
    np.testing.assert_array_equal(result.kept_counts, [[8, 6]] * 3)
    for part in result.proba:
        np.testing.assert_array_equal(part, result.full)
    np.testing.assert_array_equal(result.val_acc, result.val_acc_full)
    full = _reference_proba(snap.params["dropout"], _grid(result.grid_axis)).reshape(result.full.shape)
    np.testing.assert_allclose(result.full, full, atol=1e-6)


def test_thinned_networks_follow_their_masks_and_the_average_is_their_mean(trained):
    _, snap, data = trained
    count, seed, q = 4, 9, (0.3, *CONFIG.p)
    result = probes.subnetworks(snap, data, "relu", CONFIG.p, 0.3, count, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    for i in range(count):
        keep = [_levels_keep(rng, units, ql)[None, :] for units, ql in zip(snap.sizes[:-1], q)]
        for l, mask in enumerate(keep):
            np.testing.assert_array_equal(result.keep[l][i], mask[0])
        np.testing.assert_allclose(result.val_proba[i], _reference_proba(snap.params["dropout"], data.x_val, keep, q), atol=1e-12)
        grid = _reference_proba(snap.params["dropout"], _grid(result.grid_axis), keep, q).reshape(result.full.shape)
        np.testing.assert_allclose(result.proba[i], grid, atol=1e-6)
    assert result.proba.shape == (count, probes.SUBNET_RESOLUTION, probes.SUBNET_RESOLUTION)
    assert len({tuple(k) for k in result.kept_counts}) > 1, "different masks"
    np.testing.assert_allclose(result.average, result.proba.mean(axis=0), atol=1e-6)
    mean_val = result.val_proba.mean(axis=0)
    assert result.val_acc_average == np.mean((mean_val > 0.5) == (data.y_val == 1))


def test_subnetworks_needs_a_generator(trained):
    _, snap, data = trained
    with pytest.raises(TypeError, match="rng"):
        probes.subnetworks(snap, data, "relu", CONFIG.p, 0.0)


# --- results: frozen, read-only, CSV ----------------------------------------------------------


@pytest.fixture(scope="module")
def results(trained):
    _, snap, data = trained
    return {
        "mc": probes.mc_dropout(snap, data, "relu", CONFIG.p, 0.0, 5, np.random.default_rng(1)),
        "scaling": probes.scaling_lesson(snap, data, "relu", CONFIG.p, 0.0),
        "inside": probes.inside(snap, data, "relu", (0, 1, 4), 3, np.random.default_rng(1)),
        "subnets": probes.subnetworks(snap, data, "relu", CONFIG.p, 0.0, 6, np.random.default_rng(1)),
    }


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _arrays(item)


def test_results_are_frozen_and_read_only(results):
    for result in results.values():
        arrays = [a for field in dataclasses.fields(result) for a in _arrays(getattr(result, field.name))]
        assert arrays and all(not a.flags.writeable for a in arrays)
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.data = None


def _read(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_csv_tables_hold_the_numbers(results):
    mc = results["mc"]
    header, rows = _read(mc.to_csv())
    assert header == ["x", "y", "mc_mean", "mc_std", "eval_proba"]
    g = len(mc.grid_axis)
    assert len(rows) == g * g
    i = 2 * g + 5  # row 2 (y), column 5 (x)
    assert float(rows[i][0]) == mc.grid_axis[5] and float(rows[i][1]) == mc.grid_axis[2]
    assert float(rows[i][2]) == mc.mean[2, 5] and float(rows[i][3]) == mc.std[2, 5]
    header, rows = _read(mc.to_csv("convergence"))
    assert len(rows) == mc.passes and float(rows[-1][1]) == mc.convergence[-1]
    inside = results["inside"]
    header, rows = _read(inside.to_csv("histogram"))
    assert sum(int(r[2]) for r in rows) == inside.hist_counts[0].sum()
    header, rows = _read(inside.to_csv("correlation"))
    assert len(rows) == 2 * 6 * 6
    header, rows = _read(results["subnets"].to_csv("summary"))
    assert [r[0] for r in rows][-2:] == ["average", "full"] and len(rows) == 8
    for result in results.values():
        for table in result.TABLES:
            header, rows = _read(result.to_csv(table))
            assert rows and all(len(r) == len(header) for r in rows)
        with pytest.raises(ValueError, match="unknown table"):
            result.to_csv("nope")


def test_texts_say_what_to_look_for():
    for text in (probes.MC_TEXT, probes.SCALING_TEXT, probes.INSIDE_TEXT, probes.SUBNET_TEXT):
        assert 50 < len(text) < 600
    # They say what the default preset's plots show (tests/experiments/test_claims.py measures it), not the old over-claims.
    assert "largest values lie away from the training points" in probes.MC_TEXT and "levels off above 0" in probes.MC_TEXT
    assert "correlated blocks" not in probes.INSIDE_TEXT and "more ragged" not in probes.SUBNET_TEXT


# --- figures ------------------------------------------------------------------------------------


def _check_common(fig):
    assert fig.layout.paper_bgcolor == THEME.transparent and fig.layout.plot_bgcolor == THEME.transparent
    assert fig.layout.font.color is None


def _check_square_maps(fig, panels):
    for panel in range(panels):
        suffix = "" if panel == 0 else str(panel + 1)
        assert fig.layout[f"yaxis{suffix}"].scaleanchor == f"x{suffix}"
        assert tuple(fig.layout[f"xaxis{suffix}"].range) == (-1.5, 1.5)


def test_map_figures(results):
    mc = results["mc"]
    fig = pf.mc_figure(mc)
    _check_common(fig)
    _check_square_maps(fig, 3)
    assert len(fig.data) == 15 and [t.type for t in fig.data].count("heatmap") == 3
    assert len(fig.layout.annotations) == 3
    np.testing.assert_allclose(fig.data[5].z, mc.std, atol=1e-6)
    # The spread is a magnitude: the sequential scale, with a visible colour bar; the probability maps have none.
    spread = fig.data[5]
    assert spread.showscale and spread.colorscale == go.Heatmap(colorscale=THEME.sequential_scale).colorscale
    assert spread.zmin == 0 and spread.zmax == pytest.approx(float(mc.std.max()))
    # Its whole length for the scale (the panel's title names it) and ticks that stay level on a phone.
    assert "spread (std" in fig.layout.annotations[1].text and not spread.colorbar.title.text
    assert spread.colorbar.nticks == 3 and spread.colorbar.tickangle == 0
    assert not fig.data[0].showscale and not fig.data[10].showscale
    assert [t.name for t in fig.data[1:5]] == ["train · class 0", "train · class 1", "validation · class 0", "validation · class 1"]
    assert fig.data[3].marker.symbol == "circle-open"
    curve = pf.mc_convergence_figure(mc)
    _check_common(curve)
    assert len(curve.data) == 2 and len(curve.data[0].y) == mc.passes
    # The floor is drawn as expected: the sampling noise alone falls towards 0, and a note names the floor's cause.
    np.testing.assert_allclose(curve.data[1].y, mc.noise, rtol=1e-6)
    assert curve.data[0].line.color == THEME.run_colors[0]
    assert any("weight-scaled" in a.text for a in curve.layout.annotations)

    scaling = results["scaling"]
    fig = pf.scaling_figure(scaling)
    _check_common(fig)
    _check_square_maps(fig, 3)
    assert len(fig.data) == 15
    assert [a.text for a in fig.layout.annotations] == [
        f"{w}<br>val loss {v:.3f}" for w, v in zip(scaling.ways, scaling.val_loss)
    ]  # a line each: a phone

    subnets = results["subnets"]
    fig = pf.subnet_figure(subnets)
    _check_common(fig)
    _check_square_maps(fig, 8)
    assert len(fig.data) == 3 * 8
    titles = [a.text for a in fig.layout.annotations]
    kept = subnets.kept_counts[0]
    assert titles[0] == f"kept {kept[0]}, {kept[1]}<br>acc {subnets.val_acc[0]:.0%}"  # short lines, for a phone
    assert fig.data[0].name == f"thinned network 1: kept {kept[0]}/8, {kept[1]}/6"  # the whole count on hover
    assert titles[-2].startswith("average of the 6") and titles[-1].startswith("full network")
    # Two rows of four: each title over its own map (its y axis's domain), the rows apart.
    rows = [tuple(fig.layout[f"yaxis{'' if n == 0 else n + 1}"].domain) for n in range(8)]
    assert len(set(rows[:4])) == len(set(rows[4:])) == 1 and rows[4][1] < rows[0][0]
    assert [a.yref for a in fig.layout.annotations] == [f"y{'' if n == 0 else n + 1} domain" for n in range(8)]


def test_inside_figures(results):
    inside = results["inside"]
    fig = pf.inside_figure(inside)
    _check_common(fig)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert [int(np.sum(t.y)) for t in fig.data] == [6 * 500] * 2
    fig = pf.correlation_figure(inside)
    _check_common(fig)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"] and np.shape(fig.data[0].z) == (6, 6)
    # |r| on the sequential scale with a colour bar, units in result.order: the matrix drawn is |r| permuted.
    scale = go.Heatmap(colorscale=THEME.sequential_scale).colorscale
    assert all(t.colorscale == scale for t in fig.data) and fig.data[1].showscale
    for k, trace in enumerate(fig.data):
        order = inside.order[k]
        expected = np.abs(inside.correlation[k][np.ix_(order, order)])
        np.testing.assert_allclose(np.asarray(trace.z, dtype=float), expected, atol=1e-6)
    fig = pf.robustness_figure(inside)
    _check_common(fig)
    assert len(fig.data) == 6
    np.testing.assert_allclose(fig.data[2].y, inside.robust_mean[0], atol=1e-6)
    np.testing.assert_allclose(fig.data[5].y, inside.robust_mean[1], atol=1e-6)
    assert [fig.data[i].line.color for i in (2, 5)] == list(THEME.run_colors)
    assert [fig.data[i].marker.symbol for i in (2, 5)] == list(THEME.run_symbols)
    assert [fig.data[i].fillcolor for i in (1, 4)] == [THEME.gap_fill(0), THEME.gap_fill(1)]


def test_default_k_values_span_the_widest_layer():
    values = probes.default_k_values((2, 128, 64, 2))
    assert values[0] == 0 and list(values) == sorted(set(values)) and max(values) < 128
    assert {1, 2, 16, 64, 112} <= set(values)


@pytest.mark.filterwarnings("error")
def test_a_diverged_run_gives_nan_not_errors(trained):
    _, snap, data = trained
    broken = tuple(_layer(np.full_like(layer.weight, np.nan), layer.bias) for layer in snap.params["twin"])
    snap = _with_params(snap, {"dropout": broken, "twin": snap.params["twin"]})
    rng = np.random.default_rng(0)
    mc = probes.mc_dropout(snap, data, "relu", CONFIG.p, 0.0, 2, rng)
    assert np.isnan(mc.mean).all() and np.isnan(mc.val_loss_mc)
    inside = probes.inside(snap, data, "relu", (0, 2), 2, rng)
    assert np.isnan(inside.correlation[0]).all() and inside.hist_counts[1].sum() == 6 * len(data.x_val)
    figures = [
        pf.mc_figure(mc),
        pf.mc_convergence_figure(mc),
        pf.inside_figure(inside),
        pf.correlation_figure(inside),
        pf.robustness_figure(inside),
        pf.scaling_figure(probes.scaling_lesson(snap, data, "relu", CONFIG.p, 0.0)),
        pf.subnet_figure(probes.subnetworks(snap, data, "relu", CONFIG.p, 0.0, 2, rng)),
    ]
    assert all(fig.data for fig in figures)


# --- progress: a long probe reports as it goes ---------------------------------------------------


@pytest.mark.parametrize("name", ["Monte Carlo dropout", "scaling lesson", "inside the network", "sampled subnetworks"])
def test_a_probe_reports_progress_as_it_goes_and_the_same_result(trained, name):
    from dropviz.experiments.registry import EXPERIMENTS, Inputs

    _, snap, data = trained
    inputs = Inputs(CONFIG, snap, data, passes=8)
    fractions: list[float] = []
    reported = EXPERIMENTS[name].run(inputs, lambda fraction: fractions.append(fraction) or True)
    assert len(fractions) >= 4 and fractions[0] == 0.0 and fractions[-1] == 1.0  # per pass, draw or network, not once
    assert all(a < b for a, b in itertools.pairwise(fractions))  # the bar only moves forward
    assert reported.to_csv() == EXPERIMENTS[name].run(inputs, lambda fraction: True).to_csv()  # reporting draws nothing
