"""The network's arithmetic against references: torch.nn.Linear, plain NumPy, autograd, torch.nn.Dropout's rules."""

import numpy as np
import pytest
import torch
from torch import nn

from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer, initial_parameters
from dropviz.core.fastnet import ACTIVATIONS, NumpyNet
from dropviz.core.model import StackedMLP, TorchNet, to_sequential
from dropviz.figures.boundary import BOUNDARY_GRID

SIZES = (2, 7, 5, 2)


def _stacked(k=2, seed=0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    models = [initial_parameters(sizes, rng) for _ in range(k)]
    weights = [np.stack([m[0][l] for m in models]) for l in range(len(sizes) - 1)]
    biases = [np.stack([m[1][l] for m in models]) for l in range(len(sizes) - 1)]
    return weights, biases


def _masks(rng, k, batch, sizes, p):
    """Keep masks (K, B, units) and their scaled form, p (K, L + 1)."""
    keep = [rng.random((k, batch, units)) >= p[:, l, None, None] for l, units in enumerate(sizes[:-1])]
    drop = [m / (1.0 - p[:, l, None, None]) for l, m in enumerate(keep)]
    return keep, drop


def _numpy_reference(x, y, weights, biases, keep, p, activation):
    """Plain NumPy, one model at a time, loops and all: loss per model."""
    f = ACTIVATIONS[activation][0]
    losses = []
    for k in range(weights[0].shape[0]):
        a = x * keep[0][k] / (1 - p[k, 0])
        for l in range(len(weights)):
            z = a @ weights[l][k] + biases[l][k]
            if l < len(weights) - 1:
                a = f(z) * keep[l + 1][k] / (1 - p[k, l + 1])
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        losses.append(-logp[np.arange(len(y)), y].mean())
    return np.array(losses)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_masked_forward_and_gradients_match_torch_linear_and_numpy(activation):
    rng = np.random.default_rng(1)
    weights, biases = _stacked()
    x, y = rng.normal(size=(9, 2)), rng.integers(0, 2, 9)
    p = np.array([[0.3, 0.5, 0.2], [0.0, 0.0, 0.0]])
    keep, drop = _masks(rng, 2, 9, SIZES, p)

    # The reference: torch.nn.Linear layers, applying the same masks by hand, autograd gradients.
    act = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[activation]
    ref_losses, ref_grads = [], []
    for k in range(2):
        linears = [nn.Linear(w.shape[1], w.shape[2]).double() for w in weights]
        for lin, w, b in zip(linears, weights, biases):
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w[k].T))
                lin.bias.copy_(torch.from_numpy(b[k]))
        a = torch.from_numpy(x) * torch.from_numpy(drop[0][k])
        for l, lin in enumerate(linears):
            a = lin(a)
            if l < len(linears) - 1:
                a = act(a) * torch.from_numpy(drop[l + 1][k])
        loss = nn.functional.cross_entropy(a, torch.from_numpy(y))
        loss.backward()
        ref_losses.append(loss.item())
        ref_grads.append([lin.weight.grad.numpy().T for lin in linears])

    net = NumpyNet(weights, biases, activation, "sgd", lr=0.0, momentum=0.0, weight_decay=0.0)
    losses = net.train_step(x, y, drop, p)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    np.testing.assert_allclose(losses, _numpy_reference(x, y, weights, biases, keep, p, activation), rtol=1e-12)
    for l in range(len(weights)):
        np.testing.assert_allclose(net.gW[l], np.stack([g[l] for g in ref_grads]), rtol=1e-9, atol=1e-14)


# "exact": the fast path in float64, to the last digits; "auto": what the app trains with (the compiled kernel in
# float32, as PyTorch by default), within float32's rounding after 30 steps (measured: losses 2e-7, weights 8e-7).
PRECISION = {
    "exact": {"loss": 1e-10, "rtol": 1e-9, "atol": 1e-12, "val": 1e-6},
    "auto": {"loss": 1e-5, "rtol": 1e-4, "atol": 1e-5, "val": 1e-6},
}


@pytest.mark.parametrize("backend", list(PRECISION))
@pytest.mark.parametrize("optimizer,weight_decay", [("sgd", 0.0), ("sgd", 0.01), ("adam", 0.0), ("adam", 0.01)])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_fast_path_equals_torch_autograd_step_for_step(optimizer, weight_decay, activation, backend):
    config = RunConfig(
        dataset="moons",
        n_train=48,
        hidden=(6, 4),
        activation=activation,
        optimizer=optimizer,
        weight_decay=weight_decay,
        lr=0.05,
        batch_size=10,
        p=(0.5, 0.3),
        p_input=0.2,
    )
    fast, reference, tolerance = Trainer(config, backend=backend), Trainer(config, backend="torch"), PRECISION[backend]
    assert fast.backend == ("numba" if backend == "exact" else "numba32")
    for _ in range(30):  # 6 epochs, the last batch of each a partial one
        fast.step()
        reference.step()
        np.testing.assert_allclose(fast.last_losses, reference.last_losses, rtol=tolerance["loss"])
    for a, b in zip(fast.net.parameters()[0], reference.net.parameters()[0]):
        np.testing.assert_allclose(a, b, rtol=tolerance["rtol"], atol=tolerance["atol"])
    # Evaluation runs in float32 (PyTorch's default; 19 % more epochs per second than float64), the reference in float64.
    assert fast.history().runs["dropout"].val_loss == pytest.approx(reference.history().runs["dropout"].val_loss, rel=tolerance["val"])


def test_dropped_fraction_matches_p_within_binomial_bounds():
    config = RunConfig(n_train=1000, hidden=(200,), p=(0.3,), p_input=0.6, batch_size=1000)
    trainer = Trainer(config)
    trainer.step()
    keep = trainer.last_keep()
    for mask, p in ((keep[0][0], 0.6), (keep[1][0], 0.3)):
        n = mask.size
        dropped = n - mask.sum()
        assert abs(dropped - n * p) < 5 * np.sqrt(n * p * (1 - p))
    assert keep[0][1].all() and keep[1][1].all()  # the twin never drops


def test_masks_are_fresh_for_every_example_and_step():
    trainer = Trainer(RunConfig(n_train=64, hidden=(32,), p=(0.5,), batch_size=32))
    trainer.step()
    first = trainer.last_keep()[1][0]  # (B, 32)
    trainer.step()
    second = trainer.last_keep()[1][0]
    assert len({row.tobytes() for row in first}) > 20  # examples differ within a step
    assert not np.array_equal(first, second)  # and steps differ


def test_stacked_torch_forward_draws_and_returns_its_masks():
    weights, biases = _stacked()
    model = StackedMLP(weights, biases, "relu").train()
    p = torch.tensor([[0.5, 0.5, 0.5], [0.0, 0.0, 0.0]], dtype=torch.float64)
    logits, masks = model(torch.ones(4, 2, dtype=torch.float64), p, generator=torch.Generator().manual_seed(3))
    assert logits.shape == (2, 4, 2) and [m.shape for m in masks] == [(2, 4, 2), (2, 4, 7), (2, 4, 5)]
    assert not masks[1][0].all() and masks[1][1].all()
    model.eval()
    _, none = model(torch.ones(4, 2, dtype=torch.float64), p)
    assert none == []


def test_evaluation_applies_no_mask_and_no_scaling_and_export_reproduces_it():
    config = RunConfig(n_train=40, hidden=(8, 8), p=(0.5, 0.5), p_input=0.3, batch_size=8)
    trainer = Trainer(config)
    for _ in range(12):
        trainer.step()
    x = trainer.data.x_val
    snapshot = trainer.snapshot(BOUNDARY_GRID)
    layers = snapshot.params["dropout"]
    sequential = to_sequential([p.weight for p in layers], [p.bias for p in layers], config.activation, config.p, config.p_input).eval()
    with torch.no_grad():
        exported = sequential(torch.tensor(x, dtype=torch.float32)).numpy()
    engine_logits = trainer.net.logits(x)[0]
    np.testing.assert_allclose(exported, engine_logits, atol=1e-4)  # float32 export
    # Plain evaluation without any dropout: the same numbers, so nothing was scaled.
    weights, biases = trainer.net.parameters()
    a = x
    for w, b in zip(weights[:-1], biases[:-1]):
        a = np.maximum(a @ w[0] + b[0], 0)
    np.testing.assert_allclose(a @ weights[-1][0] + biases[-1][0], engine_logits, rtol=1e-12)
    # In training mode torch's own Dropout does drop: the export is the real thing.
    sequential.train()
    assert isinstance(sequential[0], nn.Dropout) and sequential[0].p == pytest.approx(0.3)


def test_torchnet_logits_restore_training_mode():
    weights, biases = _stacked()
    net = TorchNet(weights, biases, "tanh", "adam", 0.01, 0.9, 0.0)
    net.logits(np.zeros((3, 2)))
    assert net.model.training
