"""fastnet's pure functions against references: torch (StackedMLP, autograd, F.cross_entropy, torch.nn.Dropout's rule) and each other.

NumpyNet's steps against torch live in test_model.py; here each function is checked on its own, for one model and K stacked.
"""

import numpy as np
import pytest
import torch
from torch import nn

from dropviz.core import fastnet
from dropviz.core.engine import initial_parameters
from dropviz.core.fastnet import (
    ACTIVATIONS,
    NumpyNet,
    accuracy,
    backward,
    cross_entropy,
    cross_entropy_loss,
    dropout_masks,
    forward,
    probability,
    scaled_keep,
)
from dropviz.core.model import StackedMLP

SIZES = (2, 7, 5, 2)
K, B = 3, 11


def _stacked(k=K, seed=0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    models = [initial_parameters(sizes, rng) for _ in range(k)]
    return [np.stack([m[0][l] for m in models]) for l in range(len(sizes) - 1)], [
        np.stack([m[1][l] for m in models]) for l in range(len(sizes) - 1)
    ]


def _p():
    return np.array([[0.2, 0.5, 0.3], [0.0, 0.0, 0.0], [0.0, 0.6, 0.0]])  # (K, L + 1): a dropout run, a twin, hidden only


def _torch_forward(weights, biases, activation, x, p, keep):
    """StackedMLP (the torch reference) in training mode with the given keep masks: logits (K, B, 2) with autograd."""
    model = StackedMLP(weights, biases, activation)
    logits, used = model(torch.from_numpy(x), torch.from_numpy(p), [torch.from_numpy(k) for k in keep])
    assert len(used) == len(keep)
    return model, logits


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_forward_with_masks_equals_torch_and_returns_the_activations_before_their_mask(activation):
    rng = np.random.default_rng(1)
    weights, biases = _stacked()
    x, p = rng.normal(size=(B, 2)), _p()
    uniform = rng.random((K, B, sum(SIZES[:-1]))).astype(np.float32)
    drop = dropout_masks(uniform, p, SIZES)
    keep = [np.ones((K, B, units), bool) if d is None else d > 0 for d, units in zip(drop, SIZES)]
    logits, hidden = forward(x, weights, biases, activation, drop)
    _, reference = _torch_forward(weights, biases, activation, x, p, keep)
    np.testing.assert_allclose(logits, reference.detach().numpy(), rtol=1e-12, atol=1e-14)
    f = ACTIVATIONS[activation][0]
    first = f(np.einsum("kbi,kio->kbo", x * drop[0], weights[0]) + biases[0][:, None, :])  # (K, B, 7): unmasked
    np.testing.assert_allclose(hidden[0], first, rtol=1e-12)
    assert [h.shape for h in hidden] == [(K, B, 7), (K, B, 5)]
    assert (keep[1] == 0).any() and (hidden[0][~keep[1]] != 0).any(), "dropped units keep their activation in hidden"


def test_forward_of_one_model_is_its_row_of_the_stack_and_evaluation_mode_drops_nothing():
    rng = np.random.default_rng(2)
    weights, biases = _stacked()
    x = rng.normal(size=(B, 2))
    stacked, _ = forward(x, weights, biases, "tanh")
    for k in range(K):
        alone, hidden = forward(x, [w[k] for w in weights], [b[k] for b in biases], "tanh")
        np.testing.assert_allclose(alone, stacked[k], rtol=1e-13)
        assert alone.shape == (B, 2) and [h.shape for h in hidden] == [(B, 7), (B, 5)]
    model = StackedMLP(weights, biases, "tanh").eval()
    with torch.no_grad():
        np.testing.assert_allclose(stacked, model(torch.from_numpy(x))[0].numpy(), rtol=1e-12)
    unit_off = [None, np.ones(7), np.r_[np.zeros(1), np.ones(4)]]  # a fixed factor per unit: unit 0 of layer 2 switched off
    off, _ = forward(x, weights, biases, "tanh", unit_off)
    without = [w.copy() for w in weights]
    without[2][:, 0, :] = 0.0  # the same unit's outgoing weights removed
    np.testing.assert_allclose(off, forward(x, without, biases, "tanh")[0], rtol=1e-12)


def test_forward_and_net_refuse_an_unknown_activation_by_name():
    weights, biases = _stacked()
    with pytest.raises(ValueError, match="activation 'gelu'"):
        forward(np.zeros((1, 2)), weights, biases, "gelu")
    with pytest.raises(ValueError, match="activation"):
        NumpyNet(weights, biases, "gelu", "sgd", 0.1, 0.0, 0.0)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_backward_equals_autograd_through_the_same_masks(activation):
    rng = np.random.default_rng(3)
    weights, biases = _stacked()
    x, y, p = rng.normal(size=(B, 2)), rng.integers(0, 2, B), _p()
    drop = dropout_masks(rng.random((K, B, sum(SIZES[:-1]))).astype(np.float32), p, SIZES)
    keep = [np.ones((K, B, units), bool) if d is None else d > 0 for d, units in zip(drop, SIZES)]
    logits, hidden = forward(x, weights, biases, activation, drop)
    loss, dlogits = cross_entropy(logits, y)
    grad_w, grad_b = backward(x, hidden, drop, weights, activation, dlogits)

    model, reference = _torch_forward(weights, biases, activation, x, p, keep)
    target = torch.from_numpy(y).expand(K, -1)
    losses = nn.functional.cross_entropy(reference.transpose(1, 2), target, reduction="none").mean(dim=1)
    losses.sum().backward()  # the models share nothing: each gets its own gradient
    np.testing.assert_allclose(loss, losses.detach().numpy(), rtol=1e-12)
    for l in range(len(weights)):
        np.testing.assert_allclose(grad_w[l], model.W[l].grad.numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(grad_b[l], model.b[l].grad.numpy(), rtol=1e-9, atol=1e-14)

    out = ([np.full_like(w, np.nan) for w in weights], [np.full_like(b, np.nan) for b in biases])
    written = backward(x, hidden, drop, weights, activation, dlogits, out=out)
    assert all(a is b for a, b in zip(written[0], out[0])), "out= writes into the arrays given"
    for a, b in zip(out[0] + out[1], grad_w + grad_b):
        np.testing.assert_array_equal(a, b)


def test_loss_without_gradient_is_cross_entropys_number_for_number_and_torchs():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(K, 40, 2)) * 30  # confident: both branches of logaddexp
    logits[2, 5] = np.nan  # a diverged model stays NaN
    y = rng.integers(0, 2, 40)
    with np.errstate(all="ignore"):
        loss = cross_entropy_loss(logits, y)
        np.testing.assert_array_equal(loss, cross_entropy(logits, y)[0])
        np.testing.assert_array_equal(
            cross_entropy_loss(logits.astype(np.float32), y), cross_entropy(logits.astype(np.float32).astype(np.float64), y)[0]
        )
    assert np.isnan(loss[2]) and loss.dtype == np.float64 and loss.shape == (K,)
    reference = nn.functional.cross_entropy(
        torch.from_numpy(logits[:2]).transpose(1, 2), torch.from_numpy(y).expand(2, -1), reduction="none"
    )
    np.testing.assert_allclose(loss[:2], reference.mean(dim=1).numpy(), rtol=1e-12)
    assert cross_entropy_loss(logits[0], y) == loss[0]  # one model: a scalar, the same number


def test_loss_is_computed_as_the_trainers_evaluation_always_has():
    rng = np.random.default_rng(5)
    logits = (rng.normal(size=(2, 300, 2)) * 4).astype(np.float32)
    y = rng.integers(0, 2, 300)
    d = logits[..., 1].astype(np.float64) - logits[..., 0]  # the evaluation's formula, written out
    np.testing.assert_array_equal(cross_entropy_loss(logits, y), np.add.reduce(np.logaddexp(0.0, d) - y * d, axis=1) / len(y))


def test_accuracy_and_probability():
    logits = np.array([[[0.0, 1.0], [2.0, -1.0], [0.5, 0.5], [-800.0, 800.0]]])  # (1, 4, 2); a tie, and logits that would overflow exp
    y = np.array([1, 0, 1, 1])
    np.testing.assert_array_equal(accuracy(logits, y), [0.75])  # the tie goes to class 0
    with np.errstate(all="raise"):
        proba = probability(logits)
    np.testing.assert_allclose(proba, torch.softmax(torch.from_numpy(logits), dim=-1)[..., 1].numpy(), rtol=1e-15, atol=1e-300)
    assert proba[0, 2] == 0.5 and proba[0, 3] == 1.0
    assert probability(logits.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_masks_follow_torchs_rule_per_layer_columns(dtype):
    rng = np.random.default_rng(6)
    p = _p()
    uniform = rng.random((K, 50, sum(SIZES[:-1]))).astype(np.float32)
    uniform[0, :10, 2:9] = 0.5  # u == p exactly on model 0's first hidden layer: kept, as torch keeps where u >= p
    masks = dropout_masks(uniform, p, SIZES, dtype)
    assert masks[0] is not None and masks[0].shape == (K, 50, 2) and masks[2].shape == (K, 50, 5)
    column = 0
    for l, units in enumerate(SIZES[:-1]):
        u = uniform[:, :, column : column + units]
        for k in range(K):
            scale = np.float64(1.0) / (1.0 - p[k, l])
            expected = np.where(u[k] >= p[k, l], scale, 0.0).astype(dtype)  # kept when u >= p, then 1 / (1 - p) rounded once
            np.testing.assert_array_equal(masks[l][k], expected)
        column += units
    assert (masks[1][0, :10] == 2.0).all()
    assert all(m.dtype == dtype for m in masks)
    none_drop = dropout_masks(uniform, np.zeros_like(p), SIZES, dtype)
    assert none_drop == [None, None, None]  # nothing to multiply where no model drops


def test_scaled_keep_takes_a_scalar_or_per_model_p():
    keep = np.array([True, False, True])
    np.testing.assert_array_equal(scaled_keep(keep, 0.75), [4.0, 0.0, 4.0])
    np.testing.assert_array_equal(scaled_keep(keep, 0.0), [1.0, 0.0, 1.0])
    per_model = scaled_keep(np.ones((2, 1, 3), bool), np.array([0.5, 0.2])[:, None, None], np.float32)
    assert per_model.dtype == np.float32
    np.testing.assert_array_equal(per_model[:, 0, 0], [2.0, np.float32(1.0 / 0.8)])


def test_numpy_net_train_steps_are_its_train_step_repeated_up_to_a_partial_batch():
    rng = np.random.default_rng(7)
    weights, biases = _stacked()
    n, batch = 23, 5  # the fifth step has 3 examples
    x, y, p = rng.normal(size=(n, 2)), rng.integers(0, 2, n).astype(np.float64), _p()
    drop = dropout_masks(rng.random((K, n, sum(SIZES[:-1]))).astype(np.float32), p, SIZES)
    many = NumpyNet(weights, biases, "relu", "adam", 0.01, 0.0, 0.0)
    one = NumpyNet(weights, biases, "relu", "adam", 0.01, 0.0, 0.0)
    losses = many.train_steps(x, y, drop, 3, n, batch)  # steps from example 3: [3, 8), ..., [18, 23)
    expected = [one.train_step(x[s : s + batch], y[s : s + batch], [d[:, s : s + batch] for d in drop], p) for s in range(3, n, batch)]
    assert losses.shape == (4, K)
    np.testing.assert_array_equal(losses, expected)
    np.testing.assert_array_equal(many.flat, one.flat)
    assert many.steps == one.steps == 4
    assert not np.array_equal(many.flat, NumpyNet(weights, biases, "relu", "adam", 0.01, 0.0, 0.0).flat), "the steps trained"


def test_net_logits_are_forward_in_the_dtype_asked_for():
    rng = np.random.default_rng(8)
    weights, biases = _stacked()
    net = NumpyNet(weights, biases, "sigmoid", "sgd", 0.1, 0.0, 0.0)
    x = rng.normal(size=(20, 2))
    np.testing.assert_array_equal(net.logits(x), forward(x, weights, biases, "sigmoid")[0])
    single = net.logits(x, dtype=np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, net.logits(x), rtol=1e-5, atol=1e-6)
    assert fastnet.linear(x, weights[0][0], biases[0][0]).shape == (20, 7)


MULTI = (5, 7, 4)  # five inputs, four classes: softmax's own path (two classes take the logistic's)


def test_multi_class_loss_and_backward_equal_autograd_through_the_same_masks():
    rng = np.random.default_rng(6)
    weights, biases = _stacked(sizes=MULTI)
    p = np.array([[0.2, 0.5], [0.0, 0.0], [0.0, 0.6]])
    x, y = rng.normal(size=(B, MULTI[0])), rng.integers(0, MULTI[-1], B)
    drop = dropout_masks(rng.random((K, B, sum(MULTI[:-1]))).astype(np.float32), p, MULTI)
    keep = [np.ones((K, B, units), bool) if d is None else d > 0 for d, units in zip(drop, MULTI)]
    logits, hidden = forward(x, weights, biases, "tanh", drop)
    assert logits.shape == (K, B, MULTI[-1])
    loss, dlogits = cross_entropy(logits, y.astype(np.float64))  # labels as the Trainer passes them, floats
    grad_w, grad_b = backward(x, hidden, drop, weights, "tanh", dlogits)

    model, reference = _torch_forward(weights, biases, "tanh", x, p, keep)
    losses = nn.functional.cross_entropy(reference.transpose(1, 2), torch.from_numpy(y).expand(K, -1), reduction="none").mean(dim=1)
    losses.sum().backward()
    np.testing.assert_allclose(loss, losses.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(cross_entropy_loss(logits, y), loss, rtol=1e-14)
    for l in range(len(weights)):
        np.testing.assert_allclose(grad_w[l], model.W[l].grad.numpy(), rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(grad_b[l], model.b[l].grad.numpy(), rtol=1e-9, atol=1e-14)


def test_multi_class_loss_does_not_overflow_and_a_nan_stays_in_its_model():
    logits = np.array([[[800.0, -800.0, 0.0], [0.0, 0.0, 0.0]], [[np.nan, 1.0, 2.0], [1.0, 2.0, 3.0]]])  # (2, 2, 3)
    y = np.array([1, 2])
    with np.errstate(over="raise", divide="raise"):  # exp(-1600) underflows to 0, as it should
        loss, grad = cross_entropy(logits, y)
    reference = nn.functional.cross_entropy(torch.from_numpy(logits[0]), torch.from_numpy(y)).item()
    np.testing.assert_allclose(loss[0], reference, rtol=1e-14)  # (1600 + log(1 + e^-800 + ...) + log 3) / 2
    assert np.isnan(loss[1]) and np.isfinite(grad[0]).all()
    np.testing.assert_allclose(grad[0].sum(axis=-1), 0.0, atol=1e-15)  # softmax minus one-hot sums to zero per row


def test_class_probabilities_and_accuracy_of_many_classes():
    logits = np.array([[[0.0, 1.0, 3.0], [2.0, -1.0, 2.0], [-800.0, 800.0, 0.0]]])  # (1, 3, 3): a tie, huge logits
    with np.errstate(all="raise", under="ignore"):
        proba = fastnet.class_probabilities(logits)
    np.testing.assert_allclose(proba, torch.softmax(torch.from_numpy(logits), dim=-1).numpy(), rtol=1e-14, atol=1e-300)
    np.testing.assert_array_equal(accuracy(logits, np.array([2, 0, 1])), [1.0])  # the tie goes to the lower class
    np.testing.assert_array_equal(accuracy(logits, np.array([2, 2, 1])), [2 / 3])
