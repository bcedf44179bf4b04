"""NumbaNet: fastnet.NumpyNet whose training steps (and ReLU evaluation) run compiled, many mini-batches per call.

NumbaNet has NumpyNet's buffers, layout and interface; train_steps checks its arguments, packs the masks, and hands
everything to one compiled function (kernel_jit.train): forward, softmax cross-entropy (2 to 10 classes), backward and the torch.optim
update, with np.dot (SciPy's BLAS, through Numba) for all but the smallest products (BLAS_MIN), which run in loops. Its
evaluation pass (logits) is compiled too for ReLU networks. fastnet.NumpyNet and model.TorchNet are the references it is tested
against, step for step (tests/core/test_kernel.py). Not here: random numbers (the Trainer draws the masks), metrics,
history, the compiled arithmetic itself (kernel_jit.py).
The first call compiles (seconds); cache=True keeps the machine code in __pycache__ for later processes.
Numba itself is imported then, not with this module: a page that has not trained yet does not wait for it.
"""

from __future__ import annotations

import functools

import numpy as np

from .fastnet import NumpyNet

ACTIVATION_CODES = {"relu": 0, "tanh": 1, "sigmoid": 2}  # fastnet.ACTIVATIONS' keys, as the kernel's branch
OPTIMIZER_CODES = {"sgd": 0, "adam": 1}
# A training product of at least this many multiply-adds (batch rows x inputs x outputs) goes to np.dot (BLAS gemm);
# smaller ones are faster in the kernel's loops (bench/RESULTS.md). An argument of every call, not compiled in: tests
# set it out of reach to check the loops against np.dot.
BLAS_MIN = 128
EVAL_ROWS = 256  # examples per block of the evaluation pass: a block's (rows, 128) activations stay in L2 between layers
_loaded = False  # set by _compiled: the compiled code is in this process


class NumbaNet(NumpyNet):
    """Same parameters, layout and interface as NumpyNet; training steps compiled, and the evaluation of ReLU networks.

    Modifies its parameters and optimizer state in train_step and train_steps only. Both keep NumpyNet's
    flat, grad, state1, state2 and steps current, so the two kinds of call mix freely.
    """

    def __init__(self, weights, biases, activation: str, optimizer: str, lr: float, momentum: float, weight_decay: float):
        super().__init__(weights, biases, activation, optimizer, lr, momentum, weight_decay)
        self.sizes = np.array([weights[0].shape[1], *(w.shape[2] for w in weights)], dtype=np.int64)  # (layers + 1,): in, hidden..., C
        if self.sizes[-1] < 2:
            raise ValueError(f"a classifier needs at least two outputs: the last layer has {self.sizes[-1]}")
        # Offsets into a row of flat, as NumpyNet.__init__ lays it out: W (in, out) then b (out,) per layer.
        w_off, b_off, offset = [], [], 0
        for i, o in zip(self.sizes[:-1], self.sizes[1:]):
            w_off.append(offset)
            b_off.append(offset + i * o)
            offset += i * o + o
        self.w_off = np.array(w_off, dtype=np.int64)
        self.b_off = np.array(b_off, dtype=np.int64)
        self.col_off = np.concatenate([[0], np.cumsum(self.sizes[:-2])]).astype(np.int64)  # layer l's mask columns
        self.units = int(self.sizes[:-1].sum())  # U: mask columns, inputs + hidden units

    def logits(self, x: np.ndarray, dtype=np.float64) -> np.ndarray:
        """NumpyNet.logits; compiled (kernel_jit.logits) for ReLU networks in their own dtype once the kernel is loaded.

        Why: under a class's load the Trainer's evaluation every epoch takes more of a worker than training, part of it
        in NumPy's separate bias and ReLU sweeps over the activations, which the kernel does while it reads each product
        (bench/RESULTS.md). Not for tanh and sigmoid (NumPy's vectorized tanh is faster than the kernel's), nor before
        the kernel is loaded (a worker loads it once idle, after the first page): a first page never waits for Numba.
        """
        if self.activation != "relu" or np.dtype(dtype) != self.DTYPE or not _loaded:
            return super().logits(x, dtype)
        x = np.ascontiguousarray(x, dtype=self.DTYPE)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:  # Numba does not check bounds
            raise ValueError(f"x {x.shape} is not (N, {self.sizes[0]})")
        out = np.empty((self.k, len(x), self.sizes[-1]), self.DTYPE)
        _compiled_logits()(self.flat, x, self.sizes, self.w_off, self.b_off, out, EVAL_ROWS)
        return out

    def train_step(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], p: np.ndarray) -> np.ndarray:
        """NumpyNet.train_step's contract: one step on the batch x (B, in), y (B,), drop[l] (K, B, units) or None.

        p is not needed (the masks are already scaled). Returns the optimized loss per model, (K,).
        """
        return self.train_steps(x, y, drop, 0, len(x), len(x))[0]

    def train_steps(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], start: int, stop: int, batch: int) -> np.ndarray:
        """Trains consecutive mini-batches [start, start+batch), [start+batch, ...) up to stop (the last may be
        partial) on epoch-ordered arrays: x (n, in), y (n,) class indices 0..C-1, drop: list of (K, n, units) scaled masks
        (0 or 1/(1-p)) or None (= no dropout on that layer for any model), one per layer input (input layer
        first, then each hidden layer); all taken as DTYPE. Returns losses (S, K) of every step, float64.
        Modifies parameters and optimizer state as S calls of NumpyNet.train_step would (exactly, in float64).
        """
        n = len(x)
        x = np.ascontiguousarray(x, dtype=self.DTYPE)
        y = np.ascontiguousarray(y, dtype=self.DTYPE)
        # Numba does not check bounds: everything the kernel indexes is checked here.
        if x.shape != (n, self.sizes[0]) or y.shape != (n,):
            raise ValueError(f"x {x.shape} and y {y.shape} do not fit {n} examples of {self.sizes[0]} inputs")
        if n and not (0 <= y.min() and y.max() < self.sizes[-1]):  # a label indexes the logits of its row
            raise ValueError(f"labels must be from 0 to {self.sizes[-1] - 1}")
        if not (0 <= start < stop <= n and batch >= 1):
            raise ValueError(f"no steps in [{start}, {stop}) of {n} examples with batch {batch}")
        if len(drop) != len(self.w_off):
            raise ValueError(f"{len(drop)} masks for {len(self.w_off)} layer inputs")
        # One (K, stop - start, U) array of the masks in use: a copy of only the examples these steps see.
        masks = np.empty((self.k, stop - start, self.units), self.DTYPE)  # columns of a None layer are never read
        has_mask = np.zeros(len(drop), dtype=np.int64)
        for l, d in enumerate(drop):
            if d is not None:
                c, units = self.col_off[l], self.sizes[l]
                if d.shape != (self.k, n, units):
                    raise ValueError(f"drop[{l}] has shape {d.shape}, expected {(self.k, n, units)}")
                masks[:, :, c : c + units] = d[:, start:stop]
                has_mask[l] = 1
        losses = np.empty((-(-(stop - start) // batch), self.k), self.DTYPE)  # (S, K)
        _compiled_kernel()(
            self.flat, self.grad, self.state1, self.state2, x, y, masks, has_mask, self.sizes, self.w_off, self.b_off, self.col_off,
            ACTIVATION_CODES[self.activation], OPTIMIZER_CODES[self.optimizer], float(self.lr), float(self.momentum),
            float(self.weight_decay), int(self.steps), int(start), int(stop), int(batch), losses, int(BLAS_MIN),
        )  # fmt: skip
        self.steps += len(losses)
        return losses.astype(np.float64, copy=False)


class NumbaNet32(NumbaNet):
    """NumbaNet in float32, as PyTorch trains by default: the path the app trains every network with.

    The same compiled kernel, specialised for float32 (sgemm): faster than float64, with twice the numbers per vector
    instruction (Adam's square roots and divisions included). NumbaNet, in
    float64, is the one checked step for step against NumPy and torch autograd; this one is checked against it.
    """

    DTYPE = np.float32


@functools.cache
def _compiled():
    """kernel_jit, imported the first time it is needed (importing it imports Numba); from then on _loaded is True."""
    global _loaded
    from . import kernel_jit

    _loaded = True
    return kernel_jit


def _compiled_kernel():
    """kernel_jit.train: compiled on its first call with each dtype, or loaded from the on-disk cache."""
    return _compiled().train


def _compiled_logits():
    """kernel_jit.logits: compiled on its first call with each dtype, or loaded from the on-disk cache."""
    return _compiled().logits


def warm_up() -> None:
    """Compiles (or loads from the on-disk cache) the kernel with a tiny network, so the first Play does not wait."""
    weights = [np.zeros((1, 2, 1)), np.zeros((1, 1, 2))]
    biases = [np.zeros((1, 1)), np.zeros((1, 2))]
    for net_class in (NumbaNet32, NumbaNet):
        net = net_class(weights, biases, "relu", "sgd", 0.0, 0.0, 0.0)
        net.train_steps(np.zeros((1, 2)), np.zeros(1), [None, None], 0, 1, 1)
        net.logits(np.zeros((1, 2)), dtype=net.DTYPE)
