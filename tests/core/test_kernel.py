"""kernel.NumbaNet against its references, step for step: fastnet.NumpyNet and model.TorchNet on the same masks.

The kernel compiles once per session (all calls share one signature) and is cached on disk after that.
"""

import ast
import dataclasses
import itertools
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from dropviz.core import engine, kernel
from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer, initial_parameters
from dropviz.core.fastnet import ACTIVATIONS, NumpyNet
from dropviz.core.kernel import NumbaNet, NumbaNet32
from dropviz.core.model import TorchNet

SIZES = (2, 7, 5, 2)
OPTIMIZERS = {"sgd": ("sgd", 0.0), "sgd-momentum": ("sgd", 0.9), "adam": ("adam", 0.9)}  # name -> (optimizer, momentum)
# (K, L + 1) drop probabilities, a different p per model; a layer where every model has p = 0 gets no mask (None).
P = {
    2: np.array([[0.2, 0.5, 0.0], [0.0, 0.0, 0.0]]),  # the dropout run and its twin, no mask on the last hidden layer
    3: np.array([[0.0, 0.3, 0.1], [0.0, 0.6, 0.4], [0.0, 0.0, 0.0]]),  # a sweep, no mask on the inputs
}
N, BATCH = 23, 2  # 12 steps, the last a partial one


def _stacked(k, sizes=SIZES, seed=0):
    """K different models, as tests/core/test_model.py stacks them: weights [(K, in, out)], biases [(K, out)]."""
    rng = np.random.default_rng(seed)
    models = [initial_parameters(sizes, rng) for _ in range(k)]
    return [np.stack([m[0][l] for m in models]) for l in range(len(sizes) - 1)], [
        np.stack([m[1][l] for m in models]) for l in range(len(sizes) - 1)
    ]


def _epoch(k, p, sizes=SIZES, n=N, seed=1):
    """x (n, 2), y (n,) 0.0/1.0 and the masks as the Trainer draws them: (u >= p) / (1 - p), None where no model drops."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, sizes[0])), rng.integers(0, 2, n).astype(np.float64)
    u = rng.random((k, n, sum(sizes[:-1])), dtype=np.float32)
    drop, column = [], 0
    for l, units in enumerate(sizes[:-1]):
        pl = p[:, l, None, None]
        drop.append((u[:, :, column : column + units] >= pl) / (1.0 - pl) if pl.any() else None)
        column += units
    return x, y, drop


def _per_step(net, x, y, drop, p, batch=BATCH):
    """The Trainer's way: one train_step per mini-batch on slices. Returns losses (S, K)."""
    losses = []
    for start in range(0, len(x), batch):
        stop = min(start + batch, len(x))
        losses.append(net.train_step(x[start:stop], y[start:stop], [None if d is None else d[:, start:stop] for d in drop], p))
    return np.array(losses)


def _assert_params_close(a, b, rtol=1e-9):
    for u, v in zip(a.parameters()[0] + a.parameters()[1], b.parameters()[0] + b.parameters()[1]):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_train_steps_equal_numpy_and_torch_step_for_step(activation, optimizer, weight_decay, k):
    weights, biases = _stacked(k)
    name, momentum = OPTIMIZERS[optimizer]
    args = (activation, name, 0.05, momentum, weight_decay)
    numba_net, numpy_net, torch_net = (cls(weights, biases, *args) for cls in (NumbaNet, NumpyNet, TorchNet))
    x, y, drop = _epoch(k, P[k])
    assert any(d is None for d in drop) and any(d is not None for d in drop)

    losses = numba_net.train_steps(x, y, drop, 0, N, BATCH)
    assert losses.shape == (12, k)
    np.testing.assert_allclose(losses, _per_step(numpy_net, x, y, drop, P[k]), rtol=1e-9)
    np.testing.assert_allclose(losses, _per_step(torch_net, x, y, drop, P[k]), rtol=1e-9)
    _assert_params_close(numba_net, numpy_net)
    _assert_params_close(numba_net, torch_net)
    # The optimizer state NumpyNet would carry on with, and the last step's gradient.
    assert numba_net.steps == numpy_net.steps == 12
    for name in ("grad", "state1", "state2"):
        np.testing.assert_allclose(getattr(numba_net, name), getattr(numpy_net, name), rtol=1e-9, atol=1e-14)
    # Evaluation is NumpyNet's own, on the buffers the kernel wrote.
    np.testing.assert_allclose(numba_net.logits(x), torch_net.logits(x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_float32_kernel_follows_the_float64_one_within_float32_rounding(activation, optimizer):
    weights, biases = _stacked(3)
    name, momentum = OPTIMIZERS[optimizer]
    fast, exact = (cls(weights, biases, activation, name, 0.05, momentum, 0.01) for cls in (NumbaNet32, NumbaNet))
    x, y, drop = _epoch(3, P[3])
    losses = fast.train_steps(x, y, drop, 0, N, BATCH)
    assert fast.flat.dtype == np.float32 and losses.dtype == np.float64
    np.testing.assert_allclose(losses, exact.train_steps(x, y, drop, 0, N, BATCH), rtol=1e-5)
    for u, v in zip(fast.parameters()[0] + fast.parameters()[1], exact.parameters()[0] + exact.parameters()[1]):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    assert np.abs(fast.parameters()[0][0] - weights[0]).max() > 1e-3  # it trained: the comparison is not of two starts


def test_one_step_at_a_time_equals_one_call_to_the_last_bit():
    k, p = 3, P[3]
    weights, biases = _stacked(k)
    x, y, drop = _epoch(k, p)
    whole, mixed = (NumbaNet(weights, biases, "tanh", "adam", 0.05, 0.9, 0.01) for _ in range(2))
    losses = whole.train_steps(x, y, drop, 0, N, BATCH)
    # Mixed: train_step on slices, train_steps from a batch boundary mid-epoch, NumpyNet's own step, train_step again.
    parts = [mixed.train_step(x[:2], y[:2], [None if d is None else d[:, :2] for d in drop], p)[None]]
    parts.append(mixed.train_steps(x, y, drop, 2, 12, BATCH))
    parts.append(NumpyNet.train_step(mixed, x[12:14], y[12:14], [None if d is None else d[:, 12:14] for d in drop], p)[None])
    parts.append(_per_step(mixed, x[14:], y[14:], [None if d is None else d[:, 14:] for d in drop], p))
    np.testing.assert_allclose(np.concatenate(parts), losses, rtol=1e-12)
    np.testing.assert_allclose(mixed.flat, whole.flat, rtol=1e-12, atol=1e-15)
    # Without NumpyNet's step in the middle the kernel does the same arithmetic: identical bits.
    again = NumbaNet(weights, biases, "tanh", "adam", 0.05, 0.9, 0.01)
    assert np.array_equal(_per_step(again, x, y, drop, p), losses)
    assert np.array_equal(again.flat, whole.flat) and np.array_equal(again.state2, whole.state2) and again.steps == whole.steps


@pytest.mark.parametrize("sizes", [(2, 2), (2, 1, 2), (2, 3, 2), (2, 32, 16, 8, 2)], ids=str)
def test_network_sizes(sizes):
    k = 2
    p = np.tile(np.array([[0.3], [0.1]]), (1, len(sizes) - 1))  # every layer masked, different p per model
    weights, biases = _stacked(k, sizes)
    x, y, drop = _epoch(k, p, sizes)
    numba_net, numpy_net = (
        NumbaNet(weights, biases, "relu", "adam", 0.05, 0.9, 0.01),
        NumpyNet(weights, biases, "relu", "adam", 0.05, 0.9, 0.01),
    )
    np.testing.assert_allclose(numba_net.train_steps(x, y, drop, 0, N, 5), _per_step(numpy_net, x, y, drop, p, batch=5), rtol=1e-9)
    _assert_params_close(numba_net, numpy_net)


def test_nan_weight_gives_nan_losses_for_that_model_only():
    k, p = 2, P[2]
    weights, biases = _stacked(k)
    weights[1][0, 3, 2] = np.nan  # model 0, a hidden weight
    x, y, drop = _epoch(k, p)
    net, reference = (
        NumbaNet(weights, biases, "sigmoid", "sgd", 0.05, 0.9, 0.0),
        NumpyNet(weights, biases, "sigmoid", "sgd", 0.05, 0.9, 0.0),
    )
    losses = net.train_steps(x, y, drop, 0, N, BATCH)
    assert np.isnan(losses[:, 0]).all() and np.isfinite(losses[:, 1]).all()
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(losses[:, 1], _per_step(reference, x, y, drop, p)[:, 1], rtol=1e-9)
    assert np.isfinite(net.flat[1]).all()


def test_overflow_runs_to_inf_and_nan_like_numpy_without_raising():
    weights, biases = _stacked(2)
    for w in weights:
        w[0] *= 1e120  # model 0's logits overflow: inf - inf, inf * 0
    x, y, drop = _epoch(2, P[2])
    net, reference = NumbaNet(weights, biases, "relu", "adam", 0.05, 0.0, 0.0), NumpyNet(weights, biases, "relu", "adam", 0.05, 0.0, 0.0)
    losses = net.train_steps(x, y, drop, 0, N, BATCH)
    assert not np.isfinite(losses[:, 0]).all() and np.isfinite(losses[:, 1]).all()
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(losses, _per_step(reference, x, y, drop, P[2]), rtol=1e-9)  # the same inf and NaN
    np.testing.assert_allclose(net.flat, reference.flat, rtol=1e-9, atol=1e-12)


def test_epoch_from_the_trainers_arrays_equals_the_trainers_steps(monkeypatch):
    config = RunConfig(
        dataset="spiral", n_train=53, hidden=(8, 8), activation="tanh", optimizer="sgd", momentum=0.0, lr=0.03, batch_size=10, p=(0.2, 0.2)
    )
    reference = Trainer(config, backend="exact")
    reference_losses = []
    for _ in range(reference.steps_per_epoch):
        reference.step()
        reference_losses.append(reference.last_losses)
    trainer = Trainer(config, backend="exact")
    trainer._start_epoch()  # draws the same order and masks as reference's first step did
    net = NumbaNet(*trainer.net.parameters(), config.activation, config.optimizer, config.lr, config.momentum, config.weight_decay)
    np.testing.assert_allclose(
        net.train_steps(trainer._x, trainer._y, trainer._drop, 0, config.n_train, config.batch_size), reference_losses, rtol=1e-9
    )
    _assert_params_close(net, reference.net)
    # And as a drop-in backend for the Trainer's per-step loop.
    monkeypatch.setitem(engine.BACKENDS, "numba", NumbaNet)
    long = dataclasses.replace(config, epochs=3)
    np.testing.assert_allclose(
        Trainer(long, backend="numba").run().runs["dropout"].val_loss,
        Trainer(long, backend="exact").run().runs["dropout"].val_loss,
        rtol=1e-9,
    )


def test_bad_ranges_and_shapes_are_refused_before_the_unchecked_kernel():
    weights, biases = _stacked(2)
    x, y, drop = _epoch(2, P[2])
    net = NumbaNet(weights, biases, "relu", "sgd", 0.05, 0.0, 0.0)
    for start, stop, batch in ((0, N + 1, 2), (-1, 5, 2), (5, 5, 2), (0, 5, 0)):
        with pytest.raises(ValueError):
            net.train_steps(x, y, drop, start, stop, batch)
    with pytest.raises(ValueError):
        net.train_steps(x, y, [drop[0][:, :5], *drop[1:]], 0, N, 2)
    with pytest.raises(ValueError):
        net.train_steps(x, y, drop[:2], 0, N, 2)
    with pytest.raises(ValueError):
        net.train_steps(x, y[:-1], drop, 0, N, 2)
    assert net.steps == 0


def test_after_warm_up_a_first_play_compiles_nothing():
    # A fresh process, as a worker starts: warm_up (run while the worker is idle) must leave nothing for the first Play to
    # compile, neither the float32 training the page uses nor the float64 the CLI traces with, nor their evaluation.
    script = """
import json
from dropviz.core import kernel
from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer
loaded = kernel._loaded
kernel.warm_up()
count = lambda: [len(kernel._compiled_kernel().signatures), len(kernel._compiled_logits().signatures)]
warm = count()
for backend in ("auto", "exact"):
    Trainer(RunConfig(epochs=2), backend=backend).run()  # the default preset, trained and evaluated every epoch
print(json.dumps([loaded, kernel._loaded, warm, count()]))
"""
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parents[2])}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    loaded_before, loaded_after, warm, after_play = json.loads(run.stdout)
    assert not loaded_before and loaded_after  # the first page did not wait for the kernel; once warm, evaluation is compiled
    assert warm == after_play == [2, 2]  # float32 and float64, training and evaluation: all compiled by warm_up


GEMM_SIZES = (2, 16, 12, 2)  # at BATCH rows the middle layer's products are large enough (kernel.BLAS_MIN) for np.dot


def _with_loops(monkeypatch):
    """Makes NumbaNet's kernel multiply every layer in its loops: BLAS_MIN out of reach (it is an argument, not compiled in)."""
    monkeypatch.setattr(kernel, "BLAS_MIN", 10**9)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_gemm_layers_equal_numpy_torch_and_the_loops(activation, optimizer, monkeypatch):
    # np.dot in the middle (BLAS's gemm, and gemv for the last step's single row), loops on either side.
    assert BATCH * GEMM_SIZES[1] * GEMM_SIZES[2] >= kernel.BLAS_MIN > BATCH * max(GEMM_SIZES[0] * GEMM_SIZES[1], GEMM_SIZES[2] * 2)
    k, p = 2, np.tile(np.array([[0.2], [0.5]]), (1, len(GEMM_SIZES) - 1))
    weights, biases = _stacked(k, GEMM_SIZES)
    name, momentum = OPTIMIZERS[optimizer]
    args = (activation, name, 0.05, momentum, 0.01)
    numba_net, numpy_net, torch_net, fast = (cls(weights, biases, *args) for cls in (NumbaNet, NumpyNet, TorchNet, NumbaNet32))
    x, y, drop = _epoch(k, p, GEMM_SIZES)
    losses = numba_net.train_steps(x, y, drop, 0, N, BATCH)
    np.testing.assert_allclose(losses, _per_step(numpy_net, x, y, drop, p), rtol=1e-9)
    np.testing.assert_allclose(losses, _per_step(torch_net, x, y, drop, p), rtol=1e-9)
    _assert_params_close(numba_net, numpy_net)
    _assert_params_close(numba_net, torch_net)
    np.testing.assert_allclose(fast.train_steps(x, y, drop, 0, N, BATCH), losses, rtol=1e-5)  # sgemm
    _with_loops(monkeypatch)
    loops = NumbaNet(weights, biases, *args)
    np.testing.assert_allclose(loops.train_steps(x, y, drop, 0, N, BATCH), losses, rtol=1e-9)
    _assert_params_close(loops, numba_net)


@pytest.mark.parametrize("batch", [5, 23], ids=["short last batch", "one batch"])
def test_a_wide_network_follows_numpy_and_its_own_loops(batch, monkeypatch):
    # The default preset's shape at a smaller scale, 23 examples in batches of 5 (the last one 3 rows) or all at once:
    # every product goes to np.dot, at every row count the kernel gives it.
    sizes, k = (2, 32, 24, 2), 2
    assert 3 * min(i * o for i, o in itertools.pairwise(sizes)) >= kernel.BLAS_MIN
    p = np.tile(np.array([[0.0], [0.4]]), (1, len(sizes) - 1))
    weights, biases = _stacked(k, sizes)
    x, y, drop = _epoch(k, p, sizes)
    args = ("relu", "adam", 0.05, 0.9, 0.01)
    net, reference = NumbaNet(weights, biases, *args), NumpyNet(weights, biases, *args)
    losses = net.train_steps(x, y, drop, 0, N, batch)
    np.testing.assert_allclose(losses, _per_step(reference, x, y, drop, p, batch=batch), rtol=1e-9)
    _assert_params_close(net, reference)
    _with_loops(monkeypatch)
    loops = NumbaNet(weights, biases, *args)
    np.testing.assert_allclose(loops.train_steps(x, y, drop, 0, N, batch), losses, rtol=1e-9)
    _assert_params_close(loops, net)


def test_blas_only_through_numbas_np_dot_and_numba_only_when_training():
    # The kernel reaches BLAS as Numba documents it (np.dot on contiguous arrays, by SciPy's BLAS): no library symbol
    # looked up by name, so no ctypes and no llvmlite; Numba is imported by kernel_jit, which kernel.py imports lazily.
    core = pathlib.Path(kernel.__file__).parent
    for name in ("kernel.py", "kernel_jit.py"):
        tree = ast.parse((core / name).read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"ctypes", "llvmlite"}, name
    script = "import sys; from dropviz.core import engine; print(sorted({'numba', 'scipy'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parents[2])}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"  # a page that has not trained loads neither


@pytest.mark.parametrize("net_class", [NumbaNet, NumbaNet32])
def test_compiled_evaluation_equals_numpys(net_class):
    kernel.warm_up()  # the compiled evaluation is used once the kernel is loaded
    weights, biases = _stacked(3, (2, 16, 300, 2))  # a layer wider than the kernel's buffers would be at 128
    net = net_class(weights, biases, "relu", "adam", 0.01, 0.0, 0.0)
    x = np.random.default_rng(5).normal(size=(kernel.EVAL_ROWS + 77, 2)) * 3  # two blocks, the last one partial
    x[4] = np.nan  # a NaN input stays NaN through ReLU, as np.maximum keeps it
    compiled, reference = net.logits(x, dtype=net.DTYPE), NumpyNet.logits(net, x, dtype=net.DTYPE)
    assert compiled.shape == (3, len(x), 2) and compiled.dtype == net.DTYPE
    assert np.isnan(compiled[:, 4]).all()
    np.testing.assert_allclose(compiled, reference, rtol=1e-5 if net.DTYPE == np.float32 else 1e-12, atol=1e-6)


def test_evaluation_falls_back_to_numpy_where_it_is_faster_or_not_loaded(monkeypatch):
    weights, biases = _stacked(2, (2, 16, 12, 2))
    calls = []
    monkeypatch.setattr(kernel, "_compiled_logits", lambda: calls.append(1) or (lambda *args: None))
    x = np.zeros((5, 2))
    for activation in ("tanh", "sigmoid"):  # NumPy's vectorized tanh is faster than the kernel's
        NumbaNet(weights, biases, activation, "sgd", 0.1, 0.0, 0.0).logits(x)
    NumbaNet32(weights, biases, "relu", "sgd", 0.1, 0.0, 0.0).logits(x, dtype=np.float64)  # another dtype than its own
    monkeypatch.setattr(kernel, "_loaded", False)
    NumbaNet(weights, biases, "relu", "sgd", 0.1, 0.0, 0.0).logits(x)  # the kernel not loaded yet: a first page never waits
    assert calls == []


@pytest.mark.parametrize("sizes", [(2, 5, 3), (64, 7, 10)], ids=str)
@pytest.mark.parametrize("optimizer", ["sgd-momentum", "adam"])
def test_many_classes_and_inputs_equal_numpy_and_torch_step_for_step(sizes, optimizer, monkeypatch):
    k, p = 2, np.array([[0.2, 0.5], [0.0, 0.0]])
    weights, biases = _stacked(k, sizes)
    name, momentum = OPTIMIZERS[optimizer]
    args = ("relu", name, 0.05, momentum, 0.01)
    x, _, drop = _epoch(k, p, sizes)
    y = np.random.default_rng(7).integers(0, sizes[-1], N).astype(np.float64)  # every class index, as floats
    for blas_min in (1 << 30, 1):  # the kernel's loops, then np.dot for every product
        monkeypatch.setattr(kernel, "BLAS_MIN", blas_min)
        numba_net, numpy_net, torch_net = (cls(weights, biases, *args) for cls in (NumbaNet, NumpyNet, TorchNet))
        losses = numba_net.train_steps(x, y, drop, 0, N, BATCH)
        np.testing.assert_allclose(losses, _per_step(numpy_net, x, y, drop, p), rtol=1e-9)
        np.testing.assert_allclose(losses, _per_step(torch_net, x, y, drop, p), rtol=1e-9)
        _assert_params_close(numba_net, torch_net)
        np.testing.assert_allclose(numba_net.logits(x), torch_net.logits(x), rtol=1e-9, atol=1e-12)
    fast = NumbaNet32(weights, biases, *args)
    np.testing.assert_allclose(fast.train_steps(x, y, drop, 0, N, BATCH), losses, rtol=1e-5)


def test_a_label_outside_the_outputs_is_refused_before_the_unchecked_kernel():
    weights, biases = _stacked(2, (2, 5, 3))
    net = NumbaNet(weights, biases, "relu", "adam", 0.05, 0.9, 0.0)
    x = np.zeros((4, 2))
    for bad in ([0.0, 1.0, 3.0, 0.0], [0.0, -1.0, 2.0, 0.0]):
        with pytest.raises(ValueError, match="labels must be from 0 to 2"):
            net.train_steps(x, np.array(bad), [None, None], 0, 4, 2)
    with pytest.raises(ValueError, match="at least two outputs"):
        NumbaNet(*_stacked(2, (2, 5, 1)), "relu", "adam", 0.05, 0.9, 0.0)
