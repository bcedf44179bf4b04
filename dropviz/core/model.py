"""The MLP with dropout in PyTorch: the reference the fast path is proven against, and the export.

StackedMLP holds K models in (K, in, out) tensors and its forward returns (logits, masks): the
masks are explicit, never hidden in a hook. TorchNet trains it with autograd and torch.optim
behind the same interface as fastnet.NumpyNet. to_sequential() turns one trained model into a
plain torch.nn.Sequential with nn.Dropout layers.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import nn

ACTIVATION_MODULES = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class StackedMLP(nn.Module):
    """K MLPs with inverted dropout, parameters stacked along a leading model axis."""

    def __init__(self, weights, biases, activation: str):
        """weights[l] (K, in, out), biases[l] (K, out), NumPy; kept as float64 parameters."""
        super().__init__()
        self.W = nn.ParameterList(nn.Parameter(torch.tensor(np.asarray(w), dtype=torch.float64)) for w in weights)
        self.b = nn.ParameterList(nn.Parameter(torch.tensor(np.asarray(b), dtype=torch.float64)) for b in biases)
        self.f = ACTIVATION_MODULES[activation]()

    def forward(
        self,
        x: torch.Tensor,
        p: torch.Tensor | None = None,
        keep: list[torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
    ):
        """x (B, in). In training mode with p (K, L + 1) drop probabilities: keep masks are drawn from
        generator unless given, kept units scaled by 1 / (1 - p). Returns logits (K, B, C) and the
        keep masks used, [(K, B, in), (K, B, h_1), ...] bool, or [] in evaluation mode."""
        k = self.W[0].shape[0]
        a = x.expand(k, *x.shape)  # (K, B, in)
        dropping = self.training and p is not None
        used = []
        for l, (w, b) in enumerate(zip(self.W, self.b)):
            if dropping:
                mask = keep[l] if keep is not None else torch.rand(a.shape, generator=generator, dtype=a.dtype) >= p[:, l, None, None]
                used.append(mask)
                a = a * mask / (1.0 - p[:, l, None, None])
            a = torch.baddbmm(b[:, None, :], a, w)  # (K, B, out)
            if l < len(self.W) - 1:
                a = self.f(a)
        return a, used


class TorchNet:
    """StackedMLP trained with autograd and torch.optim. Modifies its parameters and optimizer state in train_step only."""

    def __init__(self, weights, biases, activation: str, optimizer: str, lr: float, momentum: float, weight_decay: float):
        self.model = StackedMLP(weights, biases, activation)
        params = self.model.parameters()
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        else:
            self.optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)

    def logits(self, x: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Evaluation mode, no gradient; training mode restored after. x (N, in) -> (K, N, C) float64 (dtype ignored)."""
        self.model.eval()
        with torch.no_grad():
            out, _ = self.model(torch.tensor(x, dtype=torch.float64))
        self.model.train()
        return out.numpy()

    def train_step(self, x: np.ndarray, y: np.ndarray, drop: list[np.ndarray | None], p: np.ndarray) -> np.ndarray:
        """Same contract as NumpyNet.train_step. Only which units are kept is taken from drop;
        the 1 / (1 - p) scaling is done here from p, independently of the fast path."""
        self.model.train()
        k, batch = p.shape[0], len(x)
        keep = [
            torch.ones((k, batch, w.shape[1]), dtype=torch.bool) if m is None else torch.from_numpy(m > 0)
            for m, w in zip(drop, self.model.W)
        ]
        logits, _ = self.model(torch.from_numpy(x), torch.from_numpy(p), keep)
        target = torch.from_numpy(np.asarray(y, dtype=np.int64)).expand(logits.shape[0], -1)  # (K, B)
        losses = nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none").mean(dim=1)  # (K,)
        self.optimizer.zero_grad()
        losses.sum().backward()  # the models share no parameter, so each gets its own gradient
        self.optimizer.step()
        return losses.detach().numpy()

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [w.detach().numpy().copy() for w in self.model.W], [b.detach().numpy().copy() for b in self.model.b]


def to_sequential(weights, biases, activation: str, p: tuple[float, ...], p_input: float) -> nn.Sequential:
    """One model as plain torch.nn: Dropout(p_input), Linear, act, Dropout(p_1), ..., Linear.

    weights[l] (out, in) and biases[l] (out,) as nn.Linear stores them. Call .eval() to predict.
    """
    layers: list[nn.Module] = [nn.Dropout(p_input)]
    for l, (w, b) in enumerate(zip(weights, biases)):
        linear = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(np.asarray(w)))
            linear.bias.copy_(torch.tensor(np.asarray(b)))
        layers.append(linear)
        if l < len(weights) - 1:
            layers += [ACTIVATION_MODULES[activation](), nn.Dropout(p[l])]
    return nn.Sequential(*layers)


def export_network(weights, biases, activation: str, p: tuple[float, ...], p_input: float) -> bytes:
    """One trained model as a file for torch.load(..., weights_only=True).

    Holds {"state_dict": the nn.Sequential's state_dict, "architecture": its layers as text,
    "sizes", "activation", "p", "p_input"}; the state_dict loads into the plain nn.Sequential that
    to_sequential (or the architecture text) describes.
    """
    model = to_sequential(weights, biases, activation, p, p_input)
    buffer = io.BytesIO()
    sizes = [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights]
    torch.save(
        {
            "state_dict": model.state_dict(),
            "architecture": str(model),
            "sizes": sizes,
            "activation": activation,
            "p": [float(v) for v in p],
            "p_input": float(p_input),
        },
        buffer,
    )
    return buffer.getvalue()
