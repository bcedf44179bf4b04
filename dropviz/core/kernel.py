"""Compiled training steps for NumpyNet's stacked parameters: many mini-batches per call, no Python per step.

NumbaNet is a fastnet.NumpyNet (same buffers, layout, interface) whose training runs in one Numba function:
forward, two-class cross-entropy, backward and the torch.optim update, with explicit loops, except the wide
layers' three matrix products per step, which call NumPy's own OpenBLAS gemm (the loops without it). Its
evaluation pass (logits) is compiled too for ReLU networks, bias and ReLU applied as each product is read.
fastnet.NumpyNet and model.TorchNet are the references it is tested against, step for step
(tests/core/test_kernel.py). Not here: random numbers (the Trainer draws the masks), metrics, history.
The first call compiles (seconds); cache=True keeps the machine code in __pycache__ for later processes.
Numba itself is imported then, not with this module: a page that has not trained yet does not wait for it.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import math
import os

import numpy as np

from .fastnet import ADAM_BETAS, ADAM_EPS, NumpyNet

ACTIVATION_CODES = {"relu": 0, "tanh": 1, "sigmoid": 2}  # fastnet.ACTIVATIONS' keys, as the kernel's branch
OPTIMIZER_CODES = {"sgd": 0, "adam": 1}
_LOG2 = math.log(2.0)
TILE = 16  # rows of W per pass of its transposition: at 128 units a column's rows are 512 bytes apart, all in 8 cache sets
BLAS_MIN = 8  # a layer with at least this many inputs and outputs multiplies by gemm; below, the loops are faster
# NumPy's OpenBLAS (ILP64 CBLAS: enums as C int, sizes int64), called by symbol name so that the cached kernel links
# to it when loaded. _compiled_kernel sets these once numba is imported; the kernel reads them at compile time.
_BLAS_SYMBOLS = ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_")
_CBLAS_ROW_MAJOR, _CBLAS_NO_TRANS, _CBLAS_TRANS = 101, 111, 112
_sgemm = _dgemm = _stub = None
_loaded = False  # set by _compiled_kernel: the compiled code is in this process


def _gemm(single, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc):
    """C (m, n) = op(A) (m, k) @ op(B) (k, n), row-major, by OpenBLAS; a, b, c are the first elements' addresses
    (ctypes.data), op = transpose when trans_*. sgemm when single, else dgemm. Compiled by _compiled_kernel."""
    ta = _CBLAS_TRANS if trans_a else _CBLAS_NO_TRANS
    tb = _CBLAS_TRANS if trans_b else _CBLAS_NO_TRANS
    if single:
        _sgemm(_CBLAS_ROW_MAJOR, ta, tb, m, n, k, np.float32(1.0), a, lda, b, ldb, np.float32(0.0), c, ldc)
    else:
        _dgemm(_CBLAS_ROW_MAJOR, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc)


def _train_kernel(flat, grad, state1, state2, x, y, masks, has_mask, sizes, w_off, b_off, col_off,
                  activation, optimizer, lr, momentum, weight_decay, steps, start, stop, batch, losses, blas):  # fmt: skip
    """S = ceil((stop - start) / batch) steps of every model; writes losses (S, K). Modifies flat, grad, state1, state2.

    flat/grad/state1/state2 (K, P): row k = model k, per layer W (in, out) row-major at w_off[l], b at b_off[l].
    x (n, in), y (n,) 0.0/1.0; masks (K, stop - start, U), example `start` first: layer l's input units at columns
    col_off[l]..+sizes[l], read only where has_mask[l]. The arithmetic follows fastnet step by step; only the order of sums differs.
    Each layer runs over the whole mini-batch at once, innermost loops along contiguous rows, so a weight row
    is read once per step rather than once per example; (in, out) views indexed from 0 let LLVM vectorize
    those loops (with offsets, Numba's negative-index checks block it).
    blas: the layers with at least BLAS_MIN inputs and outputs do their three products by OpenBLAS's gemm
    instead (_gemm); 0 where _compiled_kernel found no OpenBLAS, and then everything runs in these loops.
    """
    n_models, n_params = flat.shape
    n_layers = sizes.shape[0] - 1
    width = masks.shape[2]  # U = sum of the layers' input widths
    widest = 0
    for l in range(n_layers + 1):
        widest = max(widest, sizes[l])
    rows = min(batch, stop - start)
    a_in = np.empty((rows, width), flat.dtype)  # what each linear layer sees (masked, scaled), laid out like the masks
    a_out = np.empty((rows, width), flat.dtype)  # hidden activations before the mask, for f'
    z = np.empty((rows, widest), flat.dtype)  # a layer's outputs, then dL/d(outputs) in the backward pass
    da = np.empty((rows, widest), flat.dtype)
    dz_t = np.empty((widest, rows), flat.dtype)  # (out, B), (in, B): gradients transposed, since W @ dz^T is faster than dz @ W^T
    da_t = np.empty((widest, rows), flat.dtype)
    wt = np.empty(n_params, flat.dtype)  # W transposed (out, in) at w_off[l], for the loops' backward pass along contiguous rows
    single = flat.itemsize == 4  # sgemm, else dgemm
    beta1, beta2 = ADAM_BETAS
    n_steps = losses.shape[0]
    for k in range(n_models):  # the models share nothing: each runs all its steps while its rows are in cache
        params = flat[k]  # (P,) model k's row
        g = grad[k]
        m1 = state1[k]
        m2 = state2[k]
        for s in range(n_steps):
            first = start + s * batch
            count = min(first + batch, stop) - first
            for l in range(1, n_layers):
                n_in, n_out, w0 = sizes[l], sizes[l + 1], w_off[l]
                if blas and n_in >= BLAS_MIN and n_out >= BLAS_MIN:
                    continue  # gemm multiplies by W^T as W lies: no copy
                w = params[w0 : w0 + n_in * n_out].reshape((n_in, n_out))
                w_t = wt[w0 : w0 + n_in * n_out].reshape((n_out, n_in))
                for i0 in range(0, n_in, TILE):  # TILE rows at a time, so their cache lines stay loaded along o
                    i1 = min(i0 + TILE, n_in)
                    for o in range(n_out):
                        for i in range(i0, i1):
                            w_t[o, i] = w[i, o]
            # forward, (B, units) at a time
            for r in range(count):
                for i in range(sizes[0]):
                    a_in[r, i] = x[first + r, i] * masks[k, first - start + r, i] if has_mask[0] else x[first + r, i]
            for l in range(n_layers):
                n_in, n_out, w0, b0, c = sizes[l], sizes[l + 1], w_off[l], b_off[l], col_off[l]
                # Views with indices counted from 0: Numba then drops its negative-index checks and vectorizes.
                w = params[w0 : w0 + n_in * n_out].reshape((n_in, n_out))
                if blas and n_in >= BLAS_MIN and n_out >= BLAS_MIN:
                    # z (B, out) = a_in[:, c:c+in] (B, in; rows U apart) @ W (in, out)
                    _gemm(
                        single,
                        False,
                        False,
                        count,
                        n_out,
                        n_in,
                        a_in[:, c:].ctypes.data,
                        width,
                        w.ctypes.data,
                        n_out,
                        z.ctypes.data,
                        widest,
                    )
                else:
                    for r in range(count):
                        for o in range(n_out):
                            z[r, o] = 0.0
                    # Four inputs per pass: z's row is loaded and stored once per four products, summed in the same order.
                    i = 0
                    while i + 4 <= n_in:
                        for r in range(count):
                            a0, a1, a2, a3 = a_in[r, c + i], a_in[r, c + i + 1], a_in[r, c + i + 2], a_in[r, c + i + 3]
                            for o in range(n_out):
                                z[r, o] = (((z[r, o] + a0 * w[i, o]) + a1 * w[i + 1, o]) + a2 * w[i + 2, o]) + a3 * w[i + 3, o]
                        i += 4
                    while i < n_in:
                        for r in range(count):
                            ai = a_in[r, c + i]
                            for o in range(n_out):
                                z[r, o] += ai * w[i, o]
                        i += 1
                if l < n_layers - 1:
                    c_next = col_off[l + 1]
                    masked = has_mask[l + 1]
                    for r in range(count):
                        for o in range(n_out):
                            v = z[r, o] + params[b0 + o]
                            if activation == 0:
                                h = v if (v > 0.0 or math.isnan(v)) else 0.0  # np.maximum(v, 0): NaN passes through
                            elif activation == 1:
                                h = math.tanh(v)
                            else:
                                h = 0.5 * (math.tanh(0.5 * v) + 1.0)  # fastnet's overflow-free logistic
                            a_out[r, c_next + o] = h
                            a_in[r, c_next + o] = h * masks[k, first - start + r, c_next + o] if masked else h
                else:
                    for r in range(count):
                        for o in range(n_out):
                            z[r, o] = z[r, o] + params[b0 + o]  # logits
            # fastnet.cross_entropy: d = logit_1 - logit_0, loss = logaddexp(0, d) - y d, dL/dd = (sigmoid(d) - y) / B
            loss_sum = 0.0
            for r in range(count):
                d = z[r, 1] - z[r, 0]
                if d == 0.0:  # np.logaddexp(0, d), branch for branch
                    softplus = _LOG2
                elif d < 0.0:
                    softplus = math.log1p(math.exp(d))
                elif d > 0.0:
                    softplus = d + math.log1p(math.exp(-d))
                else:
                    softplus = d  # NaN
                yr = y[first + r]
                loss_sum += softplus - yr * d
                gd = math.tanh(0.5 * d)
                gd += 1.0 - 2.0 * yr
                gd *= 0.5 / count
                z[r, 0] = -gd
                z[r, 1] = gd
            losses[s, k] = loss_sum / count
            # backward: z holds dL/d(layer outputs); g is written whole, layer by layer (gemm overwrites g_w)
            for l in range(n_layers - 1, -1, -1):
                n_in, n_out, w0, b0, c = sizes[l], sizes[l + 1], w_off[l], b_off[l], col_off[l]
                g_w = g[w0 : w0 + n_in * n_out].reshape((n_in, n_out))
                g_b = g[b0 : b0 + n_out]
                gemm = blas and n_in >= BLAS_MIN and n_out >= BLAS_MIN
                if gemm:
                    # g_w (in, out) = a_in[:, c:c+in]^T (in, B) @ dz (B, out)
                    _gemm(
                        single,
                        True,
                        False,
                        n_in,
                        n_out,
                        count,
                        a_in[:, c:].ctypes.data,
                        width,
                        z.ctypes.data,
                        widest,
                        g_w.ctypes.data,
                        n_out,
                    )
                else:
                    for i in range(n_in):
                        for o in range(n_out):
                            g_w[i, o] = 0.0
                        r = 0
                        while r + 4 <= count:  # four examples per pass over g_w's row, in the same order
                            a0, a1, a2, a3 = a_in[r, c + i], a_in[r + 1, c + i], a_in[r + 2, c + i], a_in[r + 3, c + i]
                            for o in range(n_out):
                                g_w[i, o] = (((g_w[i, o] + a0 * z[r, o]) + a1 * z[r + 1, o]) + a2 * z[r + 2, o]) + a3 * z[r + 3, o]
                            r += 4
                        while r < count:
                            ai = a_in[r, c + i]
                            for o in range(n_out):
                                g_w[i, o] += ai * z[r, o]
                            r += 1
                for o in range(n_out):
                    g_b[o] = 0.0
                for r in range(count):
                    for o in range(n_out):
                        g_b[o] += z[r, o]
                if l > 0 and gemm:
                    for r in range(count):
                        for o in range(n_out):
                            dz_t[o, r] = z[r, o]
                    # da^T (in, B) = W (in, out) @ dz^T (out, B)
                    w = params[w0 : w0 + n_in * n_out].reshape((n_in, n_out))
                    _gemm(single, False, False, n_in, count, n_out, w.ctypes.data, n_out, dz_t.ctypes.data, rows, da_t.ctypes.data, rows)
                    d_a = da_t[:n_in, :count].T  # (B, in)
                elif l > 0:
                    w_t = wt[w0 : w0 + n_in * n_out].reshape((n_out, n_in))
                    for r in range(count):
                        for i in range(n_in):
                            da[r, i] = 0.0
                    o = 0
                    while o + 4 <= n_out:  # four outputs per pass over da's row, in the same order
                        for r in range(count):
                            d0, d1, d2, d3 = z[r, o], z[r, o + 1], z[r, o + 2], z[r, o + 3]
                            for i in range(n_in):
                                da[r, i] = (((da[r, i] + w_t[o, i] * d0) + w_t[o + 1, i] * d1) + w_t[o + 2, i] * d2) + w_t[o + 3, i] * d3
                        o += 4
                    while o < n_out:
                        for r in range(count):
                            dzo = z[r, o]
                            for i in range(n_in):
                                da[r, i] += w_t[o, i] * dzo
                        o += 1
                    d_a = da[:count, :n_in]
                if l > 0:
                    masked = has_mask[l]
                    for r in range(count):
                        for i in range(n_in):
                            h = a_out[r, c + i]
                            if activation == 0:
                                v = d_a[r, i] * (1.0 if h > 0.0 else 0.0)
                            elif activation == 1:
                                v = d_a[r, i] * (1.0 - h * h)
                            else:
                                v = d_a[r, i] * (h * (1.0 - h))
                            z[r, i] = v * masks[k, first - start + r, c + i] if masked else v
            # NumpyNet._update, element by element in the same order of operations, in flat's dtype: coefficients
            # computed in float64 (as torch does from Python floats) then rounded once, so float32 vectorizes twice as wide.
            real = flat.dtype.type
            t = steps + s + 1
            if optimizer == 0:
                rate, mom, decay = real(lr), real(momentum), real(weight_decay)
                for j in range(n_params):
                    gj = g[j]
                    if decay != 0.0:
                        gj = gj + decay * params[j]
                    if mom != 0.0:
                        m1[j] = m1[j] * mom + gj
                        gj = m1[j]
                    params[j] -= rate * gj
            else:
                decay, b2, c1, c2 = real(weight_decay), real(beta2), real(1.0 - beta1), real(1.0 - beta2)
                step_size = real(lr / (1.0 - math.pow(beta1, float(t))))
                correction2 = real(math.sqrt(1.0 - math.pow(beta2, float(t))))
                eps = real(ADAM_EPS)
                for j in range(n_params):
                    gj = g[j]
                    if decay != 0.0:
                        gj = gj + decay * params[j]
                    m1[j] += c1 * (gj - m1[j])
                    m2[j] *= b2
                    m2[j] += c2 * gj * gj
                    denom = math.sqrt(m2[j]) / correction2 + eps
                    params[j] -= step_size * m1[j] / denom


EVAL_ROWS = 256  # examples per block of the evaluation pass: a block's (rows, 128) activations stay in L2 between layers


def _logits_kernel(flat, x, sizes, w_off, b_off, out, blas):
    """ReLU networks in evaluation mode (nothing dropped): writes out (K, N, 2) = every model's logits of x (N, in).

    fastnet.NumpyNet.logits in one pass, EVAL_ROWS examples at a time: each layer's product by gemm (the product NumPy's
    matmul makes), and bias and ReLU applied as the product is read, instead of two more sweeps over the whole array.
    blas = 0: the products in loops.
    """
    n_models = flat.shape[0]
    n_rows = x.shape[0]
    n_layers = sizes.shape[0] - 1
    widest = 0
    for l in range(n_layers + 1):
        widest = max(widest, sizes[l])
    a = np.empty((EVAL_ROWS, widest), flat.dtype)  # a layer's inputs
    z = np.empty((EVAL_ROWS, widest), flat.dtype)  # its outputs before bias and activation
    single = flat.itemsize == 4
    for k in range(n_models):
        params = flat[k]
        for first in range(0, n_rows, EVAL_ROWS):
            count = min(EVAL_ROWS, n_rows - first)
            for r in range(count):
                for i in range(sizes[0]):
                    a[r, i] = x[first + r, i]
            for l in range(n_layers):
                n_in, n_out, w0, b0 = sizes[l], sizes[l + 1], w_off[l], b_off[l]
                w = params[w0 : w0 + n_in * n_out].reshape((n_in, n_out))
                if blas:  # even a 2-wide layer: a block's product is large enough for gemm to beat the loops
                    _gemm(single, False, False, count, n_out, n_in, a.ctypes.data, widest, w.ctypes.data, n_out, z.ctypes.data, widest)
                else:
                    for r in range(count):
                        for o in range(n_out):
                            z[r, o] = 0.0
                        for i in range(n_in):
                            ai = a[r, i]
                            for o in range(n_out):
                                z[r, o] += ai * w[i, o]
                if l < n_layers - 1:
                    for r in range(count):
                        for o in range(n_out):
                            v = z[r, o] + params[b0 + o]
                            a[r, o] = v if (v > 0.0 or math.isnan(v)) else 0.0  # np.maximum(v, 0): NaN passes through
                else:
                    for r in range(count):
                        for o in range(n_out):
                            out[k, first + r, o] = z[r, o] + params[b0 + o]


class NumbaNet(NumpyNet):
    """Same parameters, layout and interface as NumpyNet; training steps compiled, and the evaluation of ReLU networks.

    Modifies its parameters and optimizer state in train_step and train_steps only. Both keep NumpyNet's
    flat, grad, state1, state2 and steps current, so the two kinds of call mix freely.
    """

    def __init__(self, weights, biases, activation: str, optimizer: str, lr: float, momentum: float, weight_decay: float):
        super().__init__(weights, biases, activation, optimizer, lr, momentum, weight_decay)
        self.sizes = np.array([weights[0].shape[1], *(w.shape[2] for w in weights)], dtype=np.int64)  # (layers + 1,): 2, hidden..., 2
        if self.sizes[-1] != 2:
            raise ValueError(f"two-class networks only: the last layer has {self.sizes[-1]} outputs")
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
        """NumpyNet.logits; compiled (_logits_kernel) for ReLU networks in their own dtype once the kernel is loaded.

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
        out = np.empty((self.k, len(x), 2), self.DTYPE)
        _, blas = _compiled_kernel()
        _compiled_logits()(self.flat, x, self.sizes, self.w_off, self.b_off, out, blas)
        return out

    def train_step(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], p: np.ndarray) -> np.ndarray:
        """NumpyNet.train_step's contract: one step on the batch x (B, 2), y (B,), drop[l] (K, B, units) or None.

        p is not needed (the masks are already scaled). Returns the optimized loss per model, (K,).
        """
        return self.train_steps(x, y, drop, 0, len(x), len(x))[0]

    def train_steps(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], start: int, stop: int, batch: int) -> np.ndarray:
        """Trains consecutive mini-batches [start, start+batch), [start+batch, ...) up to stop (the last may be
        partial) on epoch-ordered arrays: x (n, 2), y (n,) 0/1, drop: list of (K, n, units) scaled masks
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
        kernel, blas = _compiled_kernel()
        kernel(
            self.flat, self.grad, self.state1, self.state2, x, y, masks, has_mask, self.sizes, self.w_off, self.b_off, self.col_off,
            ACTIVATION_CODES[self.activation], OPTIMIZER_CODES[self.optimizer], float(self.lr), float(self.momentum),
            float(self.weight_decay), int(self.steps), int(start), int(stop), int(batch), losses, blas,
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


def _openblas_paths() -> list[str]:
    """The OpenBLAS library NumPy's wheels bundle (numpy.libs/ on Linux and Windows, numpy/.dylibs/ on macOS)."""
    package = os.path.dirname(np.__file__)
    patterns = (
        os.path.join(package, os.pardir, "numpy.libs", "libscipy_openblas*"),
        os.path.join(package, ".dylibs", "libscipy_openblas*"),
    )
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


def _load_openblas(binding) -> bool:
    """Makes _BLAS_SYMBOLS resolvable by the kernel's machine code; False if NumPy has no such OpenBLAS.

    Without it the symbols get a stub the kernel never calls (blas = 0), so one cached kernel serves both cases.
    """
    global _stub
    for path in _openblas_paths():
        try:
            binding.load_library_permanently(path)  # already mapped by NumPy: the same library, threads and settings
        except RuntimeError:
            continue
        if all(binding.address_of_symbol(name) for name in _BLAS_SYMBOLS):
            return True
    _stub = ctypes.CFUNCTYPE(None)(lambda: None)  # kept alive while the process runs
    for name in _BLAS_SYMBOLS:
        if not binding.address_of_symbol(name):
            binding.add_symbol(name, ctypes.cast(_stub, ctypes.c_void_p).value)
    return False


@functools.cache
def _compiled_kernel():
    """(_train_kernel compiled or loaded from the on-disk cache, its blas argument): once per process.

    numba and llvmlite are imported here, the first time they are needed.
    """
    global _sgemm, _dgemm, _gemm, _loaded
    from llvmlite import binding
    from numba import njit, types

    blas = _load_openblas(binding)
    pointer, size, enum = types.uintp, types.int64, types.intc
    _sgemm, _dgemm = (
        types.ExternalFunction(
            name, types.void(enum, enum, enum, size, size, size, real, pointer, size, pointer, size, real, pointer, size)
        )
        for name, real in zip(_BLAS_SYMBOLS, (types.float32, types.float64))
    )
    _gemm = njit(nogil=True)(_gemm)
    compiled = njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(_train_kernel)
    _loaded = True
    return compiled, int(blas)


@functools.cache
def _compiled_logits():
    """_logits_kernel compiled or loaded from the on-disk cache, once per process, after _compiled_kernel (its gemm)."""
    from numba import njit

    _compiled_kernel()
    return njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(_logits_kernel)


def warm_up() -> None:
    """Compiles (or loads from the on-disk cache) the kernel with a tiny network, so the first Play does not wait."""
    weights = [np.zeros((1, 2, 1)), np.zeros((1, 1, 2))]
    biases = [np.zeros((1, 1)), np.zeros((1, 2))]
    for net_class in (NumbaNet32, NumbaNet):
        net = net_class(weights, biases, "relu", "sgd", 0.0, 0.0, 0.0)
        net.train_steps(np.zeros((1, 2)), np.zeros(1), [None, None], 0, 1, 1)
        net.logits(np.zeros((1, 2)), dtype=net.DTYPE)
