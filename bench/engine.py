"""Training speed in model-epochs per CPU second (our Trainer, a plain PyTorch loop, 8 stacked models) and the boundary grid's cost.

    .venv/bin/python bench/engine.py           # about 40 seconds on 2 CPUs
    .venv/bin/python bench/engine.py --quick   # a 10-second smoke run; its figures are noisy

Prints figures and asserts nothing (tests never depend on speed). One epoch of one model = every
training point once in mini-batches, plus the four evaluation-mode metrics (train and validation
loss and accuracy). Engines, measured side by side, repetitions alternating so that a busy moment of
the machine hits all of them alike:
  trainer         dropviz.core.engine.Trainer as the app runs it (backend "auto": the compiled kernel, float32):
                  the dropout run and its twin, 2 models
  trainer numpy   the Trainer forced onto the NumPy fast path
  plain torch     the loop a tutorial writes: one nn.Sequential with nn.Dropout, float32, torch.optim,
                  a shuffled index per epoch, F.cross_entropy, then model.eval() + torch.no_grad()
                  metrics; torch.set_num_threads(1)
  trainer torch   the Trainer with backend="torch" (autograd reference, float64), for information
  8 stacked       the path choose_backend picks for K = 8 copies of the same initial weights and p = 0, 0.1, .. 0.7
                  on every hidden layer, masks drawn as the Trainer draws them (uniforms per epoch,
                  kept when u >= p, scaled by 1 / (1 - p))
Workloads: "playground" (TensorFlow Playground's spiral: 250 + 250 points, 8-8 tanh, SGD 0.03,
batch 10, p 0.2), "default" (RunConfig(), the overfitting demo) and "digits" (the "handwritten digits" preset: 64
inputs, 64-64 ReLU, ten classes). Grid: Trainer.grid_proba(48) with
its cache cleared, which computes both runs at once; ms per run = call / 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/engine.py` from anywhere

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim

from dropviz.core.config import RunConfig, io_sizes
from dropviz.core.data import dataset_for
from dropviz.core.engine import BACKENDS, Trainer, choose_backend, evaluate, initial_parameters
from dropviz.core.presets import PRESETS
from dropviz.figures.boundary import BOUNDARY_GRID as GRID

WORKLOADS = {
    "playground": RunConfig(
        dataset="spiral",
        n_train=250,
        n_val=250,
        noise=0.0,
        label_noise=0.0,
        hidden=(8, 8),
        activation="tanh",
        p=(0.2, 0.2),
        optimizer="sgd",
        lr=0.03,
        momentum=0.0,
        batch_size=10,
    ),
    "default": RunConfig(),
    "digits": PRESETS["handwritten digits"].config,  # 64 pixels in, ten classes out
}
STACK_P = tuple(np.round(np.linspace(0.0, 0.7, 8), 2))  # one drop probability per stacked model
PLAYGROUND_RATE = 960  # model-epochs/s of TensorFlow Playground on the same spiral (the figure)
TARGET_PAIR = 2 * PLAYGROUND_RATE  # the twin pair, 2 models per epoch
TARGET_PAIR_RATIO = 17  # the estimate of the same target against the plain loop
TARGET_STACK_RATIO = 40  # 8 stacked, per model, against the plain loop
TARGET_GRID_MS = 2.0

# An engine: (config, epochs) -> (a callable that trains that many epochs, model-epochs it does).
# Everything built before the callable (data, models) is outside the timing.
Setup = Callable[[RunConfig, int], tuple[Callable[[], object], int]]


def trainer_setup(backend: str) -> Setup:
    def setup(config: RunConfig, epochs: int):
        trainer = Trainer(dataclasses.replace(config, epochs=epochs), backend=backend)
        return trainer.run, 2 * epochs

    return setup


def plain_torch_setup(config: RunConfig, epochs: int):
    """One nn.Sequential trained the way a tutorial does it, on the same data and schedule."""
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)  # a script of its own, so the global seed is harmless here
    data = dataset_for(config)
    x_train, y_train = torch.tensor(data.x_train, dtype=torch.float32), torch.tensor(data.y_train)
    x_val, y_val = torch.tensor(data.x_val, dtype=torch.float32), torch.tensor(data.y_val)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[config.activation]
    layers: list[nn.Module] = [nn.Dropout(config.p_input)] if config.p_input else []
    width = data.x_train.shape[1]
    for units, p in zip(config.hidden, config.p):
        layers += [nn.Linear(width, units), act(), nn.Dropout(p)]
        width = units
    model = nn.Sequential(*layers, nn.Linear(width, data.classes))
    if config.optimizer == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    else:
        optimizer = optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def train():
        curves = []
        for _ in range(epochs):
            model.train()
            order = torch.randperm(config.n_train)
            for start in range(0, config.n_train, config.batch_size):
                index = order[start : start + config.batch_size]
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x_train[index]), y_train[index])
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                row = []
                for x, y in ((x_train, y_train), (x_val, y_val)):
                    logits = model(x)
                    row += [F.cross_entropy(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()]
                curves.append(row)
        return curves

    return train, epochs


def stacked_setup(config: RunConfig, epochs: int):
    """len(STACK_P) stacked models, on the path the Trainer would choose for them, built and fed as it feeds its pair."""
    k = len(STACK_P)
    data = dataset_for(config)
    rng = np.random.default_rng([config.seed, 1])
    sizes = (data.x_train.shape[1], *config.hidden, data.classes)
    weights, biases = initial_parameters(sizes, np.random.default_rng([config.seed, 2]))
    net = BACKENDS[choose_backend()](
        [np.stack([w] * k) for w in weights],
        [np.stack([b] * k) for b in biases],
        config.activation,
        config.optimizer,
        config.lr,
        config.momentum,
        config.weight_decay,
    )
    p = np.zeros((k, len(sizes) - 1))  # (K, L + 1): input, hidden layers
    p[:, 0] = config.p_input
    p[:, 1:] = np.array(STACK_P)[:, None]
    uniform = np.zeros((k, config.n_train, sum(sizes[:-1])), dtype=np.float32)
    n, batch = config.n_train, config.batch_size
    x_eval = np.concatenate([data.x_train, data.x_val])  # (n_train + n_val, inputs): one evaluation pass, as the Trainer does

    def train():
        with np.errstate(all="ignore"):
            for _ in range(epochs):
                order = rng.permutation(n)
                x, y = data.x_train[order], data.y_train[order]
                rng.random(out=uniform, dtype=np.float32)  # (K, n, inputs + sum(hidden))
                drop, column = [], 0
                for l, units in enumerate(sizes[:-1]):
                    pl = p[:, l, None, None]  # (K, 1, 1)
                    u = uniform[:, :, column : column + units]
                    drop.append((u >= pl) / (1.0 - pl) if pl.any() else None)  # (K, n, units)
                    column += units
                if hasattr(net, "train_steps"):
                    net.train_steps(x, y.astype(np.float64), drop, 0, n, batch)
                for start in range(0, n, batch) if not hasattr(net, "train_steps") else ():
                    stop = min(start + batch, n)
                    net.train_step(x[start:stop], y[start:stop], [None if d is None else d[:, start:stop] for d in drop], p)
                logits = net.logits(x_eval)  # (K, n_train + n_val, C)
                evaluate(logits[:, :n], data.y_train)
                evaluate(logits[:, n:], data.y_val)

    return train, k * epochs


ENGINES: dict[str, Setup] = {
    "trainer": trainer_setup("auto"),
    "trainer numpy": trainer_setup("numpy"),
    "plain torch": plain_torch_setup,
    "trainer torch": trainer_setup("torch"),
    "8 stacked": stacked_setup,
}
MODELS = {
    "trainer": "2 models",
    "trainer numpy": "2 models",
    "plain torch": "1 model",
    "trainer torch": "2 models",
    "8 stacked": "8 models",
}


def timed(setup: Setup, config: RunConfig, epochs: int) -> float:
    """Model-epochs per CPU second of one fresh training of `epochs` epochs.

    CPU time of this process, not wall time: every engine runs on one thread, and on a shared machine other processes
    then slow it less (they still share the caches and the memory bus)."""
    train, model_epochs = setup(config, epochs)
    start = time.process_time()
    train()
    return model_epochs / (time.process_time() - start)


def speeds(config: RunConfig, repeats: int, seconds: float) -> dict[str, list[float]]:
    """Each engine `repeats` times, alternating; each measurement trains for about `seconds`."""
    epochs = {}
    for name, setup in ENGINES.items():  # warm-up, and how many epochs fill `seconds`
        rate = timed(setup, config, 2)
        _, per_epoch = setup(config, 1)
        epochs[name] = max(2, round(seconds * rate / per_epoch))
    rates: dict[str, list[float]] = {name: [] for name in ENGINES}
    for _ in range(repeats):
        for name, setup in ENGINES.items():
            rates[name].append(timed(setup, config, epochs[name]))
    return rates


def grid_ms(config: RunConfig, repeats: int) -> list[float]:
    """ms per run of the GRID x GRID boundary grid, cache cleared before each call."""
    trainer = Trainer(config)
    trainer.train(trainer.steps_per_epoch)  # trained weights, not the initial ones
    trainer.grid_proba(GRID)
    runs = len(trainer.grid_proba(GRID))
    out = []
    for _ in range(repeats):
        trainer._grid_cache = None  # the bench's business only: force a recomputation
        start = time.process_time()
        trainer.grid_proba(GRID)
        out.append((time.process_time() - start) * 1e3 / runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 10-second smoke run")
    args = parser.parse_args()
    repeats, seconds, grid_repeats = (5, 0.05, 10) if args.quick else (7, 0.7, 50)
    torch.set_num_threads(1)
    print(__doc__.splitlines()[0])
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}, torch threads {torch.get_num_threads()}"
    )
    print(f"{repeats} alternating repetitions of ~{seconds:g} s per engine and workload; figures: median (min to max)\n")

    began = time.perf_counter()
    results = {name: speeds(config, repeats, seconds) for name, config in WORKLOADS.items()}
    grids = {name: grid_ms(config, grid_repeats) for name, config in WORKLOADS.items() if io_sizes(config)[0] == 2}  # a plane

    header = f"{'workload':<11} {'engine':<14} {'models':<9} {'model-epochs/s':>14} {'min':>8} {'max':>8} {'x plain loop':>13}"
    print(header)
    print("-" * len(header))
    for workload, rates in results.items():
        plain = statistics.median(rates["plain torch"])
        for engine, values in rates.items():
            median = statistics.median(values)
            print(
                f"{workload:<11} {engine:<14} {MODELS[engine]:<9} {median:>14.0f} {min(values):>8.0f} {max(values):>8.0f} {median / plain:>12.1f}x"
            )
    print()
    print(f"{'workload':<11} {f'boundary grid ({GRID} x {GRID}), ms per run':<40} {'median':>7} {'min':>7} {'max':>7}")
    for workload, values in grids.items():
        print(
            f"{workload:<11} {'Trainer.grid_proba(48), cache cleared':<40} {statistics.median(values):>7.2f} {min(values):>7.2f} {max(values):>7.2f}"
        )

    play = {engine: statistics.median(values) for engine, values in results["playground"].items()}
    pair, stack, plain = play["trainer"], play["8 stacked"], play["plain torch"]
    grid = statistics.median(grids["playground"])

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("\ntargets from the issue (playground workload), measured here:")
    print(
        f"  twin pair  >= {TARGET_PAIR} model-epochs/s (2x TensorFlow Playground's ~{PLAYGROUND_RATE}; ~{TARGET_PAIR_RATIO}x the plain loop): "
        f"{pair:.0f} model-epochs/s = {pair / TARGET_PAIR:.2f} of target, {pair / plain:.1f}x the plain loop -> {verdict(pair >= TARGET_PAIR)}"
    )
    print(
        f"  8 stacked  >= {TARGET_STACK_RATIO}x the plain loop per model: {stack / plain:.1f}x -> {verdict(stack / plain >= TARGET_STACK_RATIO)}"
    )
    print(
        f"  grid       < {TARGET_GRID_MS:g} ms per run: {grid:.2f} ms -> {verdict(grid < TARGET_GRID_MS)}"
        f" (default workload: {statistics.median(grids['default']):.2f} ms)"
    )
    print(f"\n{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
