"""The network arithmetic in NumPy, written once: forward, softmax cross-entropy (2 to 10 classes), backward, dropout masks, and NumpyNet that trains with them.

Every function takes one model's parameters, weights[l] (in, out) and biases[l] (out,), or K models stacked,
(K, in, out) and (K, out): the dropout run and its twin, or the members of a sweep, so a step is a handful of batched
matmuls. NumpyNet is the "numpy" backend; the probes, the sweeps and the Trainer's metrics call these functions, the
compiled kernel (kernel.py) follows them step for step, and model.py's TorchNet is the reference both are checked against.
Not here: random numbers (callers draw the uniforms and pass them in), history, data.
"""

from __future__ import annotations

import numpy as np


def _relu(z, out=None):
    return np.maximum(z, 0.0, out=out)


def _sigmoid(z, out=None):
    if out is None:
        return 0.5 * (np.tanh(0.5 * z) + 1.0)  # overflow-free logistic
    np.multiply(z, 0.5, out=out)  # the same operations in place, on an array
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


# activation -> (f(z, out=None), f'(z) written in terms of y = f(z))
ACTIVATIONS = {
    "relu": (_relu, lambda y: y > 0),
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": (_sigmoid, lambda y: y * (1.0 - y)),
}

ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
ADAM_EPS = 1e-8


def activation_functions(name: str):
    """(f(z, out=None), f'(y) in terms of y = f(z)) of an activation name; ValueError for a name not in ACTIVATIONS."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# --- forward --------------------------------------------------------------------------------------


def linear(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ w + b as a new array: a (N, in) or (K, N, in), w (in, out) or (K, in, out), b (out,) or (K, out) -> (..., N, out)."""
    z = a @ w  # one BLAS product per model, even at an inner size of 2: broadcast products cost more (bench/RESULTS.md)
    z += b[..., None, :]  # in place: one pass over the result instead of a new array
    return z


def forward(x: np.ndarray, weights, biases, activation: str, drop=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits and hidden activations of one model or K stacked ones, with the dropout masks given.

    x (N, in) or (K, N, in) -> logits (..., N, C) and hidden [(..., N, h_l)], the activations before their mask.
    drop[l] multiplies layer l's input (the inputs first, then each hidden layer), broadcast against it: the scaled
    keep masks of dropout_masks, (K, N, units), any fixed factor per unit, or None for nothing; drop=None is
    evaluation mode. Computed in the arrays' own dtype.
    """
    f, _ = activation_functions(activation)
    if not len(weights):
        raise ValueError("a network needs at least one layer")
    hidden, a, last = [], x, len(weights) - 1
    for l, (w, b) in enumerate(zip(weights, biases)):
        if drop is not None and drop[l] is not None:
            a = a * drop[l]
        z = linear(a, w, b)
        if l == last:
            break
        a = f(z, out=z)  # in place: z is a new array
        hidden.append(a)
    return z, hidden


# --- loss -----------------------------------------------------------------------------------------


_SIGN = np.array([-1.0, 1.0])


def _mean_over_examples(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis divided by its length: how every loss and accuracy here averages. (..., N) -> (...)."""
    return np.add.reduce(values, axis=-1) / values.shape[-1]


def _binary_losses(d: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log(1 + e^d) - y d: the cross-entropy of each example's logit difference d (..., N), overflow-free."""
    return np.logaddexp(0.0, d) - y * d


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean softmax cross-entropy per model and its gradient. logits (..., B, C), y (B,) class indices -> (...), (..., B, C).

    With two classes softmax is the logistic of d = logit_1 - logit_0, which needs a third of the ops.
    y may be float (0.0, 1.0, ...), which saves a conversion on the hot path.
    """
    if logits.shape[-1] != 2:
        return _softmax_cross_entropy(logits, y)
    d = logits @ _SIGN  # (..., B), the same numbers as logit_1 - logit_0
    loss = _mean_over_examples(_binary_losses(d, y))
    g = np.tanh(0.5 * d)
    g += 1.0 - 2.0 * y
    g *= 0.5 / len(y)  # dL/dd = (sigmoid(d) - y) / B
    return loss, g[..., None] * _SIGN  # (..., B, 2): dL/dlogit_1 = g, dL/dlogit_0 = -g


def _softmax_parts(logits: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each example's cross-entropy (..., B) for C > 2 classes, with the exponentials (..., B, C) and their sums
    (..., B) the gradient needs: log-sum-exp shifted by each row's largest logit, so nothing overflows.
    rows (B,) = 0 .. B - 1 and labels (B,) as intp pick each example's own logit."""
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., B, C), each row's largest is 0
    exp = np.exp(shifted)
    total = exp.sum(axis=-1)  # (..., B)
    return np.log(total) - shifted[..., rows, labels], exp, total


def _rows_and_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B,) row numbers and (B,) intp class indices of labels y, for picking each example's own logit."""
    return np.arange(len(y)), np.asarray(y).astype(np.intp)


def _softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cross_entropy for C > 2 classes."""
    rows, labels = _rows_and_labels(y)
    losses, exp, total = _softmax_parts(logits, rows, labels)
    grad = exp / total[..., None]  # softmax
    grad[..., rows, labels] -= 1.0
    grad /= len(y)  # dL/dlogit = (softmax - one-hot) / B
    return _mean_over_examples(losses), grad


def _example_losses(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each example's cross-entropy in float64, without a gradient: the terms cross_entropy_loss averages. (..., N, C),
    y (N,) -> (..., N).

    Two classes: d = logit_1 - logit_0 in float64, exact for float32 logits.
    """
    if logits.shape[-1] != 2:
        return _softmax_parts(logits.astype(np.float64), *_rows_and_labels(y))[0]
    d = logits[..., 1].astype(np.float64) - logits[..., 0]  # (..., N)
    return _binary_losses(d, y)


def cross_entropy_loss(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """cross_entropy's loss, number for number, without the gradient: what evaluation needs. (..., N, C), y (N,) -> (...) float64."""
    return _mean_over_examples(_example_losses(logits, y))


def accuracy(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fraction of points whose largest logit is their label, per model: (..., N, C), y (N,) -> (...). A tie goes to the lower class."""
    return _mean_over_examples(logits.argmax(axis=-1) == y)


def probability(logits: np.ndarray) -> np.ndarray:
    """P(class 1) = logistic(logit_1 - logit_0), overflow-free, in the logits' dtype: (..., N, 2) -> (..., N)."""
    return _sigmoid(logits[..., 1] - logits[..., 0])


def class_probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, overflow-free, in the logits' dtype: (..., N, C) -> (..., N, C), rows summing to 1."""
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


# --- backward -------------------------------------------------------------------------------------


def backward(x, hidden, drop, weights, activation: str, dlogits: np.ndarray, out=None) -> tuple[list, list]:
    """Gradients of the loss with respect to every weight and bias, by the chain rule through forward's layers.

    x, weights, activation and drop (a list, None per undropped layer) as given to forward; hidden as forward returned
    them; dlogits (..., B, C) from cross_entropy. Returns grad_w [(..., in, out)] and grad_b [(..., out)]; with
    out = (grad_w, grad_b) it writes into those arrays instead (Modifies them).
    """
    _, df = activation_functions(activation)
    grad_w, grad_b = out if out is not None else ([None] * len(weights), [None] * len(weights))
    dz = dlogits
    for l in range(len(weights) - 1, -1, -1):
        a = x if l == 0 else hidden[l - 1]
        if drop[l] is not None:
            a = a * drop[l]  # what layer l read, as forward computed it
        grad_w[l] = np.matmul(a.swapaxes(-1, -2), dz, out=grad_w[l])  # (..., in, out)
        grad_b[l] = np.add.reduce(dz, axis=-2, out=grad_b[l])
        if l > 0:
            dz = (dz @ weights[l].swapaxes(-1, -2)) * df(hidden[l - 1])
            if drop[l] is not None:
                dz *= drop[l]
    return grad_w, grad_b


# --- dropout masks ------------------------------------------------------------------------------


def keep_scale(p, dtype=np.float64) -> np.ndarray:
    """1 / (1 - p), computed in float64 and rounded once to dtype, as torch computes it; p a number or an array."""
    return (1.0 / (1.0 - np.asarray(p, dtype=np.float64))).astype(dtype)


def scaled_keep(keep: np.ndarray, p, dtype=np.float64) -> np.ndarray:
    """Inverted dropout's mask from keep (bool): 1 / (1 - p) where kept, else 0, in dtype; p broadcasts against keep."""
    return keep * keep_scale(p, dtype)


def dropout_masks(uniform: np.ndarray, p: np.ndarray, sizes, dtype=np.float64) -> list[np.ndarray | None]:
    """Every layer input's scaled keep masks from uniforms: unit kept when u >= p (torch.nn.Dropout's rule), scaled by 1 / (1 - p).

    uniform (K, n, U): U = sum(sizes[:-1]) columns, layer l's input units after those of the layers before;
    p (K, L + 1) drop probabilities (inputs first); sizes the layer widths (inputs, h_1, ..., classes).
    Returns [(K, n, sizes[l]) dtype] per layer input, None for a layer no model drops.
    """
    # Every layer's scales and whether any model drops on it at once: the Trainer calls this every epoch, and on small
    # layers these steps, taken once per layer, cost as much as the masks.
    scale = keep_scale(p, dtype)  # (K, L + 1)
    dropping = p.any(axis=0).tolist()  # (L + 1,)
    masks, column = [], 0
    for l, units in enumerate(sizes[:-1]):
        if dropping[l]:
            keep = uniform[:, :, column : column + units] >= p[:, l, None, None]  # (K, n, units)
            masks.append(keep * scale[:, l, None, None])
        else:
            masks.append(None)
        column += units
    return masks


# --- the "numpy" backend --------------------------------------------------------------------------


class NumpyNet:
    """K MLPs trained in lockstep on the same batches. Modifies its parameters and optimizer state in train_step(s) only."""

    DTYPE = np.float64  # of the parameters and the optimizer state

    def __init__(self, weights, biases, activation: str, optimizer: str, lr: float, momentum: float, weight_decay: float):
        """weights[l] (K, in, out), biases[l] (K, out): copied in, as DTYPE."""
        activation_functions(activation)  # an unknown name fails here, not at the first step
        self.activation = activation
        self.optimizer = optimizer
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.k = weights[0].shape[0]
        shapes = [(w.shape[1], w.shape[2]) for w in weights]
        total = sum(i * o + o for i, o in shapes)
        # Model k's parameters are row k of one buffer, so the optimizer is a few whole-array ops.
        self.flat = np.zeros((self.k, total), self.DTYPE)  # (K, P)
        self.grad = np.zeros((self.k, total), self.DTYPE)
        self.W, self.b, self.gW, self.gb = [], [], [], []  # views into flat and grad: (K, in, out), (K, out)
        offset = 0
        for (i, o), w, b in zip(shapes, weights, biases):
            for store, grads, size, shape, value in ((self.W, self.gW, i * o, (i, o), w), (self.b, self.gb, o, (o,), b)):
                store.append(self.flat[:, offset : offset + size].reshape((self.k, *shape)))
                grads.append(self.grad[:, offset : offset + size].reshape((self.k, *shape)))
                store[-1][...] = value
                offset += size
        self.state1 = np.zeros_like(self.flat)  # SGD momentum buffer or Adam's first moment
        self.state2 = np.zeros_like(self.flat)  # Adam's second moment
        self.steps = 0

    def logits(self, x: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Evaluation mode (forward without masks): nothing dropped, nothing scaled. x (N, in) -> (K, N, C).

        dtype=np.float32, as PyTorch computes by default: what the Trainer's metrics and boundary grid use, as it is faster than float64.
        """
        weights = [w.astype(dtype, copy=False) for w in self.W]
        biases = [b.astype(dtype, copy=False) for b in self.b]
        return forward(x.astype(dtype, copy=False), weights, biases, self.activation)[0]

    def train_step(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], p: np.ndarray) -> np.ndarray:
        """One optimizer step of all K models on one batch. Modifies parameters and optimizer state.

        x (B, in), y (B,); drop[0] (K, B, in) for the inputs, drop[l] (K, B, h_l) for hidden layer l:
        the keep masks already scaled (dropout_masks), 0 or 1 / (1 - p); None where no model drops on that layer.
        p (K, L + 1) is not needed here (TorchNet uses it). Returns the optimized loss per model, (K,).
        """
        logits, hidden = forward(x, self.W, self.b, self.activation, drop)
        loss, dlogits = cross_entropy(logits, y)  # (K,), (K, B, C)
        backward(x, hidden, drop, self.W, self.activation, dlogits, out=(self.gW, self.gb))
        self._update()
        return loss

    def train_steps(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], start: int, stop: int, batch: int) -> np.ndarray:
        """train_step on the mini-batches [start, start + batch), ... up to stop (the last may be partial) of epoch-ordered
        x (n, in), y (n,) and drop [(K, n, units) or None]. Modifies parameters and optimizer state. Returns losses (S, K).

        The contract kernel.NumbaNet.train_steps compiles, so a caller runs many steps per call on either backend.
        """
        steps = [(s, min(s + batch, stop)) for s in range(start, stop, batch)]
        return np.array(
            [self.train_step(x[s:e], y[s:e], [None if d is None else d[:, s:e] for d in drop], None) for s, e in steps]
        ).reshape(-1, self.k)

    def _update(self):
        """torch.optim.SGD / Adam on every parameter, L2 weight decay added to the gradient as torch does."""
        self.steps += 1
        g = self.grad
        if self.weight_decay:
            g = g + self.weight_decay * self.flat
        if self.optimizer == "sgd":
            if self.momentum:
                self.state1 *= self.momentum
                self.state1 += g
                g = self.state1
            self.flat -= self.lr * g
            return
        beta1, beta2 = ADAM_BETAS
        self.state1 += (1.0 - beta1) * (g - self.state1)
        self.state2 *= beta2
        self.state2 += (1.0 - beta2) * g * g
        step_size = self.lr / (1.0 - beta1**self.steps)
        denom = np.sqrt(self.state2) / np.sqrt(1.0 - beta2**self.steps) + ADAM_EPS
        self.flat -= step_size * self.state1 / denom

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Copies of the weights (K, in, out) and biases (K, out)."""
        return [w.copy() for w in self.W], [b.copy() for b in self.b]
