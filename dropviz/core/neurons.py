"""What each neuron computes over the input plane: its value on a grid, for the network graph's maps; not how they are drawn."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from .data import EXTENT
from .fastnet import class_probabilities, forward, probability
from .records import RUN_NAMES, Snapshot, frozen


@functools.lru_cache(maxsize=8)  # every frame asks for the same grid
def plane(grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(G,) coordinates along x and y of a G x G grid over the data's square, and its points (G * G, 2), rows = y; read-only."""
    axis = np.linspace(EXTENT[0], EXTENT[1], grid)
    gx, gy = np.meshgrid(axis, axis)
    return frozen(axis), frozen(np.column_stack([gx.ravel(), gy.ravel()]))


def neuron_maps(weights, biases, activation: str, grid: int, units: int) -> tuple[dict[str, tuple[np.ndarray, ...]], float]:
    """Every column's first `units` neurons over the plane, evaluation mode, for the stacked runs (RUN_NAMES order).

    weights [(K, in, out)], biases [(K, out)] -> {run: per column (U_c, G, G) float32, rows = y}: the inputs (x1, x2 over
    the data's extent), each hidden layer's activations divided by one shared scale, the output's P(class 1) (two
    classes) or each output unit's class probability (more); and the scale: the 95th percentile of |activation| over the drawn hidden neurons of all K models, beyond which a map saturates.
    """
    _, points = plane(grid)
    f32 = [np.asarray(w, np.float32) for w in weights], [np.asarray(b, np.float32) for b in biases]  # pictures: float32 is plenty
    logits, hidden = forward(points.astype(np.float32), *f32, activation)
    k = logits.shape[0]
    inputs = np.broadcast_to((points / EXTENT[1]).T.reshape(1, 2, grid, grid), (k, 2, grid, grid))
    drawn = [np.moveaxis(h[:, :, :units], 2, 1).reshape(k, -1, grid, grid) for h in hidden]  # (K, U_l, G, G)
    values = np.abs(np.concatenate([h.ravel() for h in drawn])) if drawn else np.zeros(1)
    scale = float(np.nanpercentile(values, 95)) if np.isfinite(values).any() else 1.0  # the few largest values saturate
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    drawn = [np.clip(h / scale, -1.0, 1.0) for h in drawn]
    output = _output_maps(logits).reshape(k, -1, grid, grid)  # (K, 1 or C, G, G)
    columns = [m.astype(np.float32) for m in (inputs, *drawn, output)]  # (K, U_c, G, G) each
    return {name: tuple(frozen(c[k]) for c in columns) for k, name in enumerate(RUN_NAMES)}, scale


def _output_maps(logits: np.ndarray) -> np.ndarray:
    """(..., N, C) logits -> (..., 1, N) P(class 1) for two classes (one map says it all), else (..., C, N) per class."""
    if logits.shape[-1] == 2:
        return probability(logits)[..., None, :]
    return np.swapaxes(class_probabilities(logits), -1, -2)


def with_maps(snapshot: Snapshot, grid: int, units: int) -> Snapshot:
    """The snapshot with its neuron maps (neuron_maps) on a grid x grid plane, for the first units of every column."""
    weights = [np.stack([layer.weight.T for layer in layers]) for layers in zip(*(snapshot.params[run] for run in RUN_NAMES))]
    biases = [np.stack([layer.bias for layer in layers]) for layers in zip(*(snapshot.params[run] for run in RUN_NAMES))]
    maps, scale = neuron_maps(weights, biases, snapshot.activation, grid, units)
    return dataclasses.replace(snapshot, neuron_maps=maps, neuron_scale=scale)


@dataclass(frozen=True)
class NeuronCloseup:
    """One neuron of both runs up close: its value over the plane and what feeds it. Frozen, from a Snapshot."""

    column: int  # 1..L hidden layers, L + 1 the output (two classes: P(class 1) for either unit; more: P(its class))
    unit: int
    axis: np.ndarray  # (G,) grid coordinates along x and y
    maps: dict[str, np.ndarray]  # run -> (G, G) float32, rows = y: the activation (hidden) or a class's probability (output)
    incoming: dict[str, np.ndarray]  # run -> (in,) float32 weights from the previous column into this neuron
    bias: dict[str, float]


def closeup(snapshot: Snapshot, column: int, unit: int, grid: int) -> NeuronCloseup:
    """The neuron at (column, unit) of both runs of a snapshot, evaluated on a grid x grid plane."""
    params, activation = snapshot.params, snapshot.activation
    layers = next(iter(params.values()))
    if not 1 <= column <= len(layers) or not 0 <= unit < layers[column - 1].weight.shape[0]:
        raise ValueError(f"no neuron {unit} in column {column}")
    axis, points = plane(grid)
    maps = {}
    for run, run_layers in params.items():
        weights = [np.asarray(layer.weight, np.float64).T for layer in run_layers]  # (in, out), as forward takes them
        logits, hidden = forward(points, weights, [np.asarray(layer.bias, np.float64) for layer in run_layers], activation)
        output = _output_maps(logits)  # (1 or C, G * G)
        values = output[min(unit, len(output) - 1)] if column == len(run_layers) else hidden[column - 1][:, unit]  # (G * G,)
        maps[run] = frozen(values.reshape(grid, grid).astype(np.float32))
    return NeuronCloseup(
        column=column,
        unit=unit,
        axis=frozen(axis),
        maps=maps,
        incoming={run: frozen(layers[column - 1].weight[unit]) for run, layers in params.items()},
        bias={run: float(layers[column - 1].bias[unit]) for run, layers in params.items()},
    )
