"""K stacked MLPs in NumPy with a hand-written backward pass: the "numpy" backend, and the base the compiled kernel builds on.

The dropout run and its twin (or the members of a sweep) are one set of arrays, parameter l of
model k at W[l][k] with shape (in, out), so every step is a handful of batched matmuls.
model.py's TorchNet is the reference: tests run both on the same masks and compare step for step.
Not here: random numbers (the Trainer draws the masks), history, data.
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


_SIGN = np.array([-1.0, 1.0])


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean two-class cross-entropy per model and its gradient. logits (K, B, 2), y (B,) -> (K,), (K, B, 2).

    With two classes softmax is the logistic of d = logit_1 - logit_0, which needs a third of the ops.
    y may be float (0.0 / 1.0), which saves a conversion on the hot path.
    """
    d = logits @ _SIGN  # (K, B)
    batch = len(y)
    loss = np.add.reduce(np.logaddexp(0.0, d) - y * d, axis=1) / batch
    g = np.tanh(0.5 * d)
    g += 1.0 - 2.0 * y
    g *= 0.5 / batch  # dL/dd = (sigmoid(d) - y) / B
    return loss, g[:, :, None] * _SIGN  # (K, B, 2): dL/dlogit_1 = g, dL/dlogit_0 = -g


class NumpyNet:
    """K MLPs trained in lockstep on the same batches. Modifies its parameters and optimizer state in train_step only."""

    DTYPE = np.float64  # of the parameters and the optimizer state

    def __init__(self, weights, biases, activation: str, optimizer: str, lr: float, momentum: float, weight_decay: float):
        """weights[l] (K, in, out), biases[l] (K, out): copied in, as DTYPE."""
        self.activation = activation
        self.optimizer = optimizer
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.k = weights[0].shape[0]
        shapes = [(w.shape[1], w.shape[2]) for w in weights]
        total = sum(i * o + o for i, o in shapes)
        # Model k's parameters are row k of one buffer, so the optimizer is a few whole-array ops.
        self.flat = np.zeros((self.k, total), self.DTYPE)  # (K, P)
        self.grad = np.zeros((self.k, total), self.DTYPE)
        self.W, self.b, self.gW, self.gb = [], [], [], []
        offset = 0
        for (i, o), w, b in zip(shapes, weights, biases):
            for store, grads, size, shape, value in ((self.W, self.gW, i * o, (i, o), w), (self.b, self.gb, o, (o,), b)):
                store.append(self.flat[:, offset : offset + size].reshape((self.k, *shape)))
                grads.append(self.grad[:, offset : offset + size].reshape((self.k, *shape)))
                store[-1][...] = value
                offset += size
        # Views made once: the buffers are updated in place, so these stay current.
        self.Wt = [w.swapaxes(1, 2) for w in self.W]  # (K, out, in), for the backward pass
        self.b3 = [b[:, None, :] for b in self.b]  # (K, 1, out), broadcast over the batch
        self.state1 = np.zeros_like(self.flat)  # SGD momentum buffer or Adam's first moment
        self.state2 = np.zeros_like(self.flat)  # Adam's second moment
        self.steps = 0

    def logits(self, x: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Evaluation mode: nothing dropped, nothing scaled. x (N, 2) -> (K, N, 2).

        dtype=np.float32, as PyTorch computes by default: what the Trainer's metrics and boundary grid use, as it is faster than float64.
        """
        f, _ = ACTIVATIONS[self.activation]
        a = x.astype(dtype, copy=False)
        for l, (w, b) in enumerate(zip(self.W, self.b)):
            a = a @ w.astype(dtype, copy=False)  # (K, N, out), a new array: bias and activation go in place, no temporaries
            a += b[:, None, :].astype(dtype, copy=False)
            if l < len(self.W) - 1:
                f(a, out=a)
        return a

    def train_step(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], p: np.ndarray) -> np.ndarray:
        """One optimizer step of all K models on one batch. Modifies parameters and optimizer state.

        x (B, 2), y (B,); drop[0] (K, B, 2) for the inputs, drop[l] (K, B, h_l) for hidden layer l:
        the keep masks already scaled, 0 or 1 / (1 - p); None where no model drops on that layer.
        p (K, L + 1) is not needed here (TorchNet uses it). Returns the optimized loss per model, (K,).
        """
        f, df = ACTIVATIONS[self.activation]
        inputs = [x if drop[0] is None else x * drop[0]]  # what each linear layer sees, (B or K, B, in)
        outputs = []  # activations before the mask, for f'
        for l in range(len(self.W) - 1):
            out = f(inputs[-1] @ self.W[l] + self.b3[l])  # (K, B, h_l)
            outputs.append(out)
            inputs.append(out if drop[l + 1] is None else out * drop[l + 1])
        logits = inputs[-1] @ self.W[-1] + self.b3[-1]
        loss, dz = cross_entropy(logits, y)  # dz (K, B, 2)
        for l in range(len(self.W) - 1, -1, -1):
            np.matmul(inputs[l].swapaxes(-1, -2), dz, out=self.gW[l])  # (K, in, out)
            np.add.reduce(dz, axis=1, out=self.gb[l])
            if l > 0:
                dz = (dz @ self.Wt[l]) * df(outputs[l - 1])
                if drop[l] is not None:
                    dz *= drop[l]
        self._update()
        return loss

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
