"""The Numba-compiled arithmetic behind kernel.NumbaNet: training steps on flat parameter rows, and the ReLU evaluation pass.

Importing this module imports Numba, so kernel.py imports it only when training first needs it. Each function is
compiled on its first call (cache=True: the machine code is kept in __pycache__ for later processes). A training step's
products of at least blas_min multiply-adds, and all of the evaluation's, go through np.dot on contiguous 2-D views,
which Numba implements with SciPy's BLAS (scipy.linalg.cython_blas); smaller ones run in loops, where a BLAS call costs
more than it saves. Not here: argument checks (Numba does not check bounds: kernel.NumbaNet checks everything first).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fastnet import ADAM_BETAS, ADAM_EPS

_LOG2 = math.log(2.0)
# fastmath=False: the same IEEE arithmetic as NumPy (NaN and inf included); error_model="numpy": 0/0 gives NaN, no raise.
_compiled = njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
# The helpers are inlined into train and logits: as calls of their own they cost a small network's step more than its
# loops do (bench/RESULTS.md).
_inlined = njit(cache=True, nogil=True, fastmath=False, error_model="numpy", inline="always")


@_inlined
def _block(buffer, offset, rows, cols):
    """(rows, cols) C-contiguous view of the 1-D buffer from offset: a shape np.dot takes without a copy."""
    return buffer[offset : offset + rows * cols].reshape((rows, cols))


@_inlined
def _product(a, b, out, wide):
    """out (m, n) = a (m, k) @ b (k, n): np.dot (BLAS gemm, through SciPy) when wide, else loops along out's rows."""
    if wide:
        np.dot(a, b, out)
        return
    for r in range(out.shape[0]):
        for o in range(out.shape[1]):
            out[r, o] = 0.0
        for i in range(a.shape[1]):
            v = a[r, i]
            for o in range(out.shape[1]):
                out[r, o] += v * b[i, o]


@_inlined
def _masked(a, masks, c, masked, out):
    """out (B, n) = a * masks[:, c:c+n] (B, U) where masked, else a copy of a: what the next linear layer sees."""
    for r in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[r, i] = a[r, i] * masks[r, c + i] if masked else a[r, i]


@_inlined
def _activate(z, b, activation, h):
    """h (B, out) = f(z + b), b (out,); activation 0 ReLU, 1 tanh, 2 logistic, as fastnet.ACTIVATIONS computes them."""
    for r in range(z.shape[0]):
        for o in range(z.shape[1]):
            v = z[r, o] + b[o]
            if activation == 0:
                h[r, o] = v if (v > 0.0 or math.isnan(v)) else 0.0  # np.maximum(v, 0): NaN passes through
            elif activation == 1:
                h[r, o] = math.tanh(v)
            else:
                h[r, o] = 0.5 * (math.tanh(0.5 * v) + 1.0)  # fastnet's overflow-free logistic


@_inlined
def _cross_entropy(z, b, y):
    """Mean loss of logits z + b (B, C), b (C,), against y (B,) class indices as floats; overwrites z with dL/dz.
    As fastnet.cross_entropy: two classes by the logistic of the logits' difference, more by a shifted softmax."""
    if z.shape[1] != 2:
        return _softmax_cross_entropy(z, b, y)
    count = z.shape[0]
    loss_sum = 0.0
    for r in range(count):
        d = (z[r, 1] + b[1]) - (z[r, 0] + b[0])  # logit_1 - logit_0
        if d == 0.0:  # np.logaddexp(0, d), branch for branch
            softplus = _LOG2
        elif d < 0.0:
            softplus = math.log1p(math.exp(d))
        elif d > 0.0:
            softplus = d + math.log1p(math.exp(-d))
        else:
            softplus = d  # NaN
        loss_sum += softplus - y[r] * d
        gd = math.tanh(0.5 * d)
        gd += 1.0 - 2.0 * y[r]
        gd *= 0.5 / count  # dL/dd = (sigmoid(d) - y) / B
        z[r, 0] = -gd
        z[r, 1] = gd
    return loss_sum / count


@_inlined
def _softmax_cross_entropy(z, b, y):
    """_cross_entropy for C > 2 classes: log-sum-exp shifted by the row's largest logit, as fastnet._softmax_cross_entropy."""
    count, classes = z.shape
    loss_sum = 0.0
    for r in range(count):
        top = -math.inf
        for c in range(classes):
            z[r, c] += b[c]
            if z[r, c] > top:  # noqa: PLR1730 - NaN never is, explicitly: it reaches the loss through exp below
                top = z[r, c]
        label = int(y[r])
        picked = z[r, label] - top
        total = 0.0
        for c in range(classes):
            z[r, c] = math.exp(z[r, c] - top)  # unnormalized softmax, largest 1
            total += z[r, c]
        loss_sum += math.log(total) - picked
        for c in range(classes):
            z[r, c] = (z[r, c] / total - (1.0 if c == label else 0.0)) / count  # (softmax - one-hot) / B
    return loss_sum / count


@_inlined
def _backward_activation(da, h, activation, masks, c, masked, dz):
    """dz (B, n) = da * f'(h) (* masks[:, c:c+n] where masked): from dL/d(a layer's inputs) to dL/d(the outputs below)."""
    for r in range(dz.shape[0]):
        for i in range(dz.shape[1]):
            if activation == 0:
                v = da[r, i] * (1.0 if h[r, i] > 0.0 else 0.0)
            elif activation == 1:
                v = da[r, i] * (1.0 - h[r, i] * h[r, i])
            else:
                v = da[r, i] * (h[r, i] * (1.0 - h[r, i]))
            dz[r, i] = v * masks[r, c + i] if masked else v


@_inlined
def _backward_linear(a, dz, w, g_w, g_b, da, wide):
    """g_w (in, out) = a^T (in, B) @ dz (B, out), g_b (out,) = dz summed over B, and da (B, in) = dz @ w^T unless da is empty."""
    _product(a.T, dz, g_w, wide)
    for o in range(dz.shape[1]):
        g_b[o] = 0.0
    for r in range(dz.shape[0]):
        for o in range(dz.shape[1]):
            g_b[o] += dz[r, o]
    if da.size:  # on w's transposed view: copying dz^T for w @ dz^T instead made the whole step slower (bench/RESULTS.md)
        _product(dz, w.T, da, wide)


@_inlined
def _gradient(w, b, g_w, g_b, x, y, masks, has_mask, col_off, activation, blas_min, acts, hidden, zs, das):
    """One model's forward and backward pass on one mini-batch x (B, in), y (B,): writes g_w, g_b; returns the mean loss.

    Per layer l: w[l], g_w[l] (in, out), b[l], g_b[l] (out,). masks (B, U), layer l's input columns from col_off[l].
    Buffers of >= B rows, per layer: acts[l] (B, in) its input (masked), hidden[l] (B, in) that input before the mask
    (l > 0, for f'), zs[l] (B, out) its outputs, then their gradient, das[l] (B, in) its inputs' gradient. A product of
    at least blas_min multiply-adds (B x in x out) goes to np.dot.
    """
    count, n_layers = x.shape[0], len(w)
    a = acts[0][:count]
    _masked(x, masks, 0, has_mask[0], a)
    for l in range(n_layers):
        n_in, n_out = w[l].shape
        z = zs[l][:count]  # z (B, out) = a (B, in) @ W (in, out), then the bias
        _product(a, w[l], z, count * n_in * n_out >= blas_min)
        if l < n_layers - 1:
            c, h, a = col_off[l + 1], hidden[l + 1][:count], acts[l + 1][:count]
            _activate(z, b[l], activation, h)
            _masked(h, masks, c, has_mask[l + 1], a)
    dz = zs[n_layers - 1][:count]
    loss = _cross_entropy(dz, b[n_layers - 1], y)  # dz: now dL/d(logits)
    for l in range(n_layers - 1, -1, -1):
        n_in, n_out = w[l].shape
        da = das[l][: count if l > 0 else 0]  # the network's inputs need no gradient
        _backward_linear(acts[l][:count], dz, w[l], g_w[l], g_b[l], da, count * n_in * n_out >= blas_min)
        if l > 0:
            c, dz = col_off[l], zs[l - 1][:count]
            _backward_activation(da, hidden[l][:count], activation, masks, c, has_mask[l], dz)
    return loss


@_inlined
def _sgd(params, g, m1, lr, momentum, weight_decay):
    """torch.optim.SGD on one model (P,), as NumpyNet._update. Modifies params and m1 (the momentum buffer)."""
    real = params.dtype.type  # coefficients rounded once to params' dtype: float32 vectorizes twice as wide
    rate, mom, decay = real(lr), real(momentum), real(weight_decay)
    for j in range(params.shape[0]):
        gj = g[j]
        if decay != 0.0:
            gj = gj + decay * params[j]
        if mom != 0.0:
            m1[j] = m1[j] * mom + gj
            gj = m1[j]
        params[j] -= rate * gj


@_inlined
def _adam(params, g, m1, m2, lr, weight_decay, t):
    """torch.optim.Adam's step t (from 1) on one model (P,), as NumpyNet._update. Modifies params, m1 and m2 (the moments)."""
    real = params.dtype.type  # coefficients computed in float64 (as torch does from Python floats), rounded once
    beta1, beta2 = ADAM_BETAS
    decay, b2, c1, c2 = real(weight_decay), real(beta2), real(1.0 - beta1), real(1.0 - beta2)
    step_size = real(lr / (1.0 - math.pow(beta1, float(t))))
    correction2 = real(math.sqrt(1.0 - math.pow(beta2, float(t))))
    eps = real(ADAM_EPS)
    for j in range(params.shape[0]):
        gj = g[j]
        if decay != 0.0:
            gj = gj + decay * params[j]
        m1[j] += c1 * (gj - m1[j])
        m2[j] *= b2
        m2[j] += c2 * gj * gj
        denom = math.sqrt(m2[j]) / correction2 + eps
        params[j] -= step_size * m1[j] / denom


@_inlined
def _layers(row, w_off, b_off, sizes):
    """Per layer l of one model's row (P,): W (in, out) at w_off[l], b (out,) at b_off[l], as two lists of views."""
    n_layers = sizes.shape[0] - 1
    w = [_block(row, w_off[l], sizes[l], sizes[l + 1]) for l in range(n_layers)]
    b = [row[b_off[l] : b_off[l] + sizes[l + 1]] for l in range(n_layers)]
    return w, b


@_compiled
def train(flat, grad, state1, state2, x, y, masks, has_mask, sizes, w_off, b_off, col_off,
          activation, optimizer, lr, momentum, weight_decay, steps, start, stop, batch, losses, blas_min):  # fmt: skip
    """S = ceil((stop - start) / batch) steps of every model; writes losses (S, K). Modifies flat, grad, state1, state2.

    flat/grad/state1/state2 (K, P): row k = model k (layout: _layers). x (n, in), y (n,) class indices as floats; masks (K, stop - start,
    U), example `start` first, layer l's input units at columns col_off[l]..+sizes[l], read only where has_mask[l].
    optimizer 0 SGD, 1 Adam; steps: those done before. The arithmetic follows fastnet.NumpyNet step by step; only the
    order of the products' sums differs.
    """
    n_layers, rows = sizes.shape[0] - 1, min(batch, stop - start)
    # The buffers and views every step uses, (B, units) per layer, made once: a reshape calls into Numba's helper library
    # (bench/RESULTS.md); a short last batch slices rows off, which keeps them contiguous.
    acts = [np.empty((rows, sizes[l]), flat.dtype) for l in range(n_layers)]
    hidden = [np.empty((rows, sizes[l]), flat.dtype) for l in range(n_layers)]
    zs = [np.empty((rows, sizes[l + 1]), flat.dtype) for l in range(n_layers)]
    das = [np.empty((rows, sizes[l]), flat.dtype) for l in range(n_layers)]
    for k in range(flat.shape[0]):  # the models share nothing: each runs all its steps while its rows are in cache
        params, g, m1, m2 = flat[k], grad[k], state1[k], state2[k]
        w, b = _layers(params, w_off, b_off, sizes)
        g_w, g_b = _layers(g, w_off, b_off, sizes)
        for s in range(losses.shape[0]):
            first = start + s * batch
            last = min(first + batch, stop)
            losses[s, k] = _gradient(
                w, b, g_w, g_b, x[first:last], y[first:last], masks[k, first - start : last - start], has_mask, col_off,
                activation, blas_min, acts, hidden, zs, das,
            )  # fmt: skip
            if optimizer == 0:
                _sgd(params, g, m1, lr, momentum, weight_decay)
            else:
                _adam(params, g, m1, m2, lr, weight_decay, steps + s + 1)


@_inlined
def _bias_relu(z, b, relu):
    """z (B, out) += b (out,), then ReLU where relu, as np.maximum(z, 0) (NaN passes through)."""
    for r in range(z.shape[0]):
        for o in range(z.shape[1]):
            v = z[r, o] + b[o]
            z[r, o] = v if (not relu or v > 0.0 or math.isnan(v)) else 0.0


@_compiled
def logits(flat, x, sizes, w_off, b_off, out, block_rows):
    """ReLU networks in evaluation mode (nothing dropped): writes out (K, N, C) = every model's logits of x (N, in).

    fastnet.NumpyNet.logits block_rows examples at a time (a block's activations stay in cache between layers): each
    layer's product by np.dot, bias and ReLU in one pass over it instead of NumPy's two sweeps over the whole array.
    """
    buffers = np.empty((2, block_rows * sizes.max()), flat.dtype)  # a layer's inputs and outputs, in turns
    n_layers = sizes.shape[0] - 1
    for k in range(flat.shape[0]):
        params = flat[k]
        for first in range(0, x.shape[0], block_rows):
            count = min(block_rows, x.shape[0] - first)
            a = x[first : first + count]
            for l in range(n_layers):
                n_in, n_out = sizes[l], sizes[l + 1]
                last = l == n_layers - 1
                z = out[k, first : first + count] if last else _block(buffers[l % 2], 0, count, n_out)
                np.dot(a, _block(params, w_off[l], n_in, n_out), z)
                _bias_relu(z, params[b_off[l] : b_off[l] + n_out], not last)
                a = z
