"""Trainer: trains the dropout run and its no-dropout twin in lockstep; it modifies itself, and what it hands out is frozen.

Both runs start from the same initial weights and see the same batches in the same order; they
differ only in dropout. The Trainer owns the random streams (seeded from the config), draws every
mask, keeps the history, and hands out frozen records (records.py). No tensor leaves this module
or model.py; the network arithmetic is the compiled kernel (kernel.py, see choose_backend), checked against
fastnet.NumpyNet and model.TorchNet. Not the only thing that mutates: the live layer's run handles and workers
(dropviz/web/live.py, worker.py) do too.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from .config import RunConfig
from .data import EXTENT, dataset_for
from .fastnet import NumpyNet, accuracy, class_probabilities, cross_entropy_loss, dropout_masks, probability
from .kernel import NumbaNet, NumbaNet32
from .records import RUN_NAMES, Event, History, LayerParams, RunHistory, Snapshot, frozen

# A run has diverged when a loss is not finite, or when it is this confidently wrong on its own training
# data (a coin flip scores ln 2 = 0.69): the stable cross-entropy rarely overflows, the weights run away first.
DIVERGED_TRAIN_LOSS = 100.0
# "numba32" trains the app's networks; "numba" is the same kernel in float64, checked against "torch" (model.TorchNet,
# imported only when asked for) and "numpy" step for step.
BACKENDS = {"numpy": NumpyNet, "numba": NumbaNet, "numba32": NumbaNet32}


def choose_backend(exact: bool = False) -> str:
    """The training path: the compiled kernel, in float32 as PyTorch trains ("numba32"), or in float64 when exact ("numba").

    It beats NumPy on every shape a page or an experiment can ask for: its wide layers call the same gemm, and the rest
    of a step runs compiled instead of as one NumPy call per operation (figures in bench/RESULTS.md).
    """
    return "numba" if exact else "numba32"


LIVE_FIELDS = ("dropout", "p", "p_input", "epochs")  # settings that change mid-training without a reset


def _net_class(backend: str):
    """The network class of a backend. torch is imported only for "torch": it costs seconds at start-up."""
    if backend != "torch":
        return BACKENDS[backend]
    import torch

    from .model import TorchNet

    torch.set_num_threads(1)  # two threads are slower on networks this small
    return TorchNet


def initial_parameters(sizes: tuple[int, ...], rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """torch.nn.Linear's default initialisation, U(-1/sqrt(in), 1/sqrt(in)), drawn from rng.

    Returns weights [(in, out)] and biases [(out,)] of one model.
    """
    weights, biases = [], []
    for fan_in, fan_out in pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).T.copy())
        biases.append(rng.uniform(-bound, bound, fan_out))
    return weights, biases


def grid_axis(grid: int) -> np.ndarray:
    """(G,) coordinates along x and y of a G x G boundary grid over the data's square."""
    return np.linspace(EXTENT[0], EXTENT[1], grid)


def boundary_proba(net, grid: int) -> dict[str, np.ndarray]:
    """Evaluation-mode probabilities of each run of net on grid_axis(grid)'s square, rows = y: {run: (G, G) float32}
    P(class 1) for two classes, {run: (G, G, C) float32} every class's for more."""
    axis = grid_axis(grid)
    gx, gy = np.meshgrid(axis, axis)  # rows = y
    points = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)  # (G * G, 2)
    with np.errstate(all="ignore"):
        logits = net.logits(points, dtype=np.float32)  # (K, G * G, C), only drawn
    proba = probability(logits) if logits.shape[-1] == 2 else class_probabilities(logits)  # (K, G * G[, C])
    return {name: frozen(proba[k].reshape(grid, grid, *proba.shape[2:]).astype(np.float32)) for k, name in enumerate(RUN_NAMES)}


def evaluate(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Loss and accuracy per model of evaluation-mode logits (K, N, C) -> (K,), (K,): fastnet's, without a gradient."""
    return cross_entropy_loss(logits, y), accuracy(logits, y)


class Trainer:
    """Trains both runs. Every public method but snapshot(), history() and the properties modifies it."""

    def __init__(self, config: RunConfig, backend: str = "auto"):
        """backend: "auto" (choose_backend: the compiled kernel in float32, as PyTorch), "exact" (the same, float64
        throughout: what the tests check against torch and a trace records), "numba32", "numba", "numpy", or "torch"
        (autograd, the reference: slow)."""
        self.config = config
        self.data = dataset_for(config)
        self.rng = np.random.default_rng([config.seed, 1])  # batches and masks; data has its own stream
        # Layer widths: the data's inputs (2 for points in the plane, 64 for digits), the hidden layers, one logit per class.
        self.sizes = (self.data.x_train.shape[1], *config.hidden, self.data.classes)
        weights, biases = initial_parameters(self.sizes, np.random.default_rng([config.seed, 2]))
        k = len(RUN_NAMES)
        self.backend = choose_backend(exact=backend == "exact") if backend in ("auto", "exact") else backend
        # Both runs start from the same weights: (K, in, out) and (K, out).
        self.net = _net_class(self.backend)(
            [np.stack([w] * k) for w in weights],
            [np.stack([b] * k) for b in biases],
            config.activation,
            config.optimizer,
            config.lr,
            config.momentum,
            config.weight_decay,
        )
        self.p = np.zeros((k, len(self.sizes) - 1))  # (K, L + 1) drop probability: input, hidden layers
        self._set_p(config)
        self.steps_per_epoch = -(-config.n_train // config.batch_size)
        self.epoch = 0  # completed epochs
        self.step_count = 0
        self._position = 0  # examples of the current epoch already used
        self._order = np.arange(config.n_train)
        self._uniform = np.zeros((k, config.n_train, sum(self.sizes[:-1])), dtype=np.float32)
        self._mask_dtype = getattr(self.net, "DTYPE", np.float64)  # the masks in the net's own precision: no conversion per call
        self._step_losses = np.zeros((self.steps_per_epoch, k))  # this epoch's optimized loss per step and model
        # (steps,) examples in each step of an epoch: weights for the epoch's mean optimized loss
        self._step_sizes = np.minimum(config.batch_size, config.n_train - np.arange(0, config.n_train, config.batch_size))
        # (room, K) per curve, rows 0..epoch-1 filled: a frame's history is five slices, not a walk that grows with the epochs
        self._curves = {name: np.empty((config.epochs, k)) for name in ("train_loss", "val_loss", "train_acc", "val_acc", "optimized_loss")}
        self.diverged_at: list[int | None] = [None] * k  # epoch in which run k's loss stopped being finite
        self.events: list[Event] = []
        self._burst_start: RunConfig | None = None  # the settings before the latest burst of live changes
        self._x, self._y = self.data.x_train, self.data.y_train  # this epoch's examples in batch order
        self._x_eval = np.concatenate([self.data.x_train, self.data.x_val])  # (n_train + n_val, in)
        self._drop: list[np.ndarray | None] = []  # per layer (K, n, units): 0 or 1 / (1 - p); None if nothing drops
        self.last_drop: list[np.ndarray | None] | None = None  # the last step's slices of _drop, (K, B, units)
        self.last_batch: np.ndarray | None = None  # (B,) training-set indices of the last step
        self.last_losses: np.ndarray | None = None  # (K,) optimized loss of the last step
        self._grid_cache: tuple[int, int, dict[str, np.ndarray]] | None = None  # (step, G, per-run (G, G))
        self._val_predicted: np.ndarray | None = None  # (K, n_val) int16 predicted classes at the last epoch's end

    # --- state read by the page ---------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs or all(d is not None for d in self.diverged_at)

    @property
    def epoch_progress(self) -> float:
        return self.epoch + self._position / self.config.n_train

    # --- changes without a reset --------------------------------------------------------
    def _set_p(self, config: RunConfig) -> None:
        self.p[0, 0] = config.p_input_effective
        self.p[0, 1:] = config.p_effective  # row 1, the twin, stays 0

    def update(self, config: RunConfig, burst: bool = False) -> bool:
        """Modifies: takes the live settings (LIVE_FIELDS) of config without a reset, keeping the weights.

        burst: this change continues the previous one (the caller's clock says so), so both share one event.
        Returns False, changing nothing, when config differs in anything else: then a new Trainer is needed.
        """
        if {**config.__dict__, **{f: None for f in LIVE_FIELDS}} != {**self.config.__dict__, **{f: None for f in LIVE_FIELDS}}:
            return False
        self.set_dropout(config.dropout, config.p, config.p_input, burst)
        self.config = RunConfig(**{**self.config.__dict__, "epochs": config.epochs})
        return True

    def set_dropout(self, dropout: bool, p: tuple[float, ...], p_input: float, burst: bool = False) -> None:
        """Modifies the dropout run's drop probabilities from the next step on; weights are kept.

        p and p_input must already have passed config.validate; the change is recorded as an Event. With burst, a
        change right after the last one (arrow keys on a slider) replaces that event: one marker from the burst's
        first value to its last, or none when the burst ends where it began. Switching dropout never joins a burst.
        """
        old = self.config
        new = RunConfig(**{**old.__dict__, "dropout": dropout, "p": tuple(p), "p_input": p_input})
        if new == old:
            return
        # Only moves of p make a burst: each switch of dropout is a deliberate event of its own.
        switched = new.dropout != old.dropout or (self._burst_start is not None and self._burst_start.dropout != old.dropout)
        merging = burst and not switched and self.events and self._burst_start is not None
        if not merging:
            self._burst_start = old
        self.config = new
        self._set_p(new)
        if self._position:
            self._make_drop()
        text = _change_text(self._burst_start, new)
        if merging:
            last = self.events.pop()
            if text:
                self.events.append(Event(last.epoch, text))
        elif text:
            self.events.append(Event(self.epoch_progress, text))

    # --- training ------------------------------------------------------------------------
    def _start_epoch(self) -> None:
        """Modifies the batch order and draws one uniform number per model, example and unit."""
        self._order = self.rng.permutation(self.config.n_train)
        self._x = self.data.x_train[self._order]
        self._y = self.data.y_train[self._order].astype(np.float64)  # 0.0 / 1.0: no int-float mixing per step
        self.rng.random(out=self._uniform, dtype=np.float32)  # (K, n, 2 + sum(hidden))
        self._make_drop()

    def _make_drop(self) -> None:
        """Modifies the epoch's scaled masks from the uniforms and the p now in force: kept when u >= p.

        Every example of every step gets its own mask; a p changed mid-epoch applies from the next step.
        """
        self._drop = dropout_masks(self._uniform, self.p, self.sizes, self._mask_dtype)

    def step(self) -> None:
        """Modifies: one optimizer step of both runs on the next mini-batch; closes the epoch when it ends."""
        self.train(1)

    def train(self, count: int) -> int:
        """Modifies: up to count steps, never past the end of the epoch, in one call to the net when it can.

        Returns the steps taken (0 once finished). How many steps fit a time slice is the caller's business.
        """
        with np.errstate(all="ignore"):  # a diverging run overflows: reported by status, not by warnings
            before = self.step_count
            self._steps(count)
            return self.step_count - before

    def _steps(self, count: int) -> None:
        if self.finished:
            return
        if self._position == 0:
            self._start_epoch()
        n, batch = self.config.n_train, self.config.batch_size
        start, stop = self._position, min(self._position + count * batch, n)
        if count > 1 and hasattr(self.net, "train_steps"):
            losses = self.net.train_steps(self._x, self._y, self._drop, start, stop, batch)  # (S, K)
        else:
            losses = np.array([
                self.net.train_step(self._x[s : s + batch], self._y[s : s + batch],
                                    [None if d is None else d[:, s : s + batch] for d in self._drop], self.p)
                for s in range(start, stop, batch)
            ])  # fmt: skip
        first = start // batch
        self._step_losses[first : first + len(losses)] = losses  # summed at the epoch's end, however the steps were chunked
        last = start + (len(losses) - 1) * batch  # the final step's first example
        self.last_drop = [None if d is None else d[:, last:stop] for d in self._drop]
        self.last_batch, self.last_losses = self._order[last:stop], losses[-1]
        self.step_count += len(losses)
        self._position = stop
        if not np.isfinite(losses).all():
            for k in np.flatnonzero(~np.isfinite(losses).all(axis=0)):
                if self.diverged_at[k] is None:
                    self.diverged_at[k] = self.epoch + 1
        if self._position == n:
            self._close_epoch()

    def last_keep(self) -> list[np.ndarray] | None:
        """The last step's keep masks, [(K, B, units)] bool: input layer first. None before the first step."""
        if self.last_drop is None:
            return None
        k, batch = self.p.shape[0], len(self.last_batch)
        return [np.ones((k, batch, units), bool) if d is None else d > 0 for d, units in zip(self.last_drop, self.sizes)]

    def _close_epoch(self) -> None:
        """Modifies the history: evaluation-mode metrics of both runs, appended once per epoch."""
        n = self.config.n_train
        with np.errstate(all="ignore"):
            logits = self.net.logits(
                self._x_eval, dtype=np.float32
            )  # (K, n_train + n_val, C): one pass for both sets, float32 as in PyTorch
            train_loss, train_acc = evaluate(logits[:, :n], self.data.y_train)
            val_loss, val_acc = evaluate(logits[:, n:], self.data.y_val)
            healthy = np.isfinite(train_loss) & np.isfinite(val_loss) & (train_loss <= DIVERGED_TRAIN_LOSS)
        self._val_predicted = logits[:, n:].argmax(axis=-1).astype(np.int16)  # a tie goes to the lower class, as accuracy's
        for k in np.flatnonzero(~healthy):
            if self.diverged_at[k] is None:
                self.diverged_at[k] = self.epoch + 1
        values = (train_loss, val_loss, train_acc, val_acc, self._step_sizes @ self._step_losses / self.config.n_train)
        for name, value in zip(self._curves, values):
            if self.epoch == len(self._curves[name]):  # Epochs was raised mid-run
                self._curves[name] = np.concatenate([self._curves[name], np.empty_like(self._curves[name])])
            self._curves[name][self.epoch] = value
        self.epoch += 1
        self._position = 0

    def run(self, progress=None) -> History:
        """Modifies: trains to config.epochs (or until both runs diverge). progress(epoch) after each epoch."""
        with np.errstate(all="ignore"):
            while not self.finished:
                epoch = self.epoch
                self._steps(self.steps_per_epoch)  # to the end of the epoch
                if progress is not None and self.epoch != epoch:
                    progress(self.epoch)
        return self.history()

    # --- frozen records -------------------------------------------------------------------
    def history(self) -> History:
        runs = {}
        for k, name in enumerate(RUN_NAMES):
            bad = self.diverged_at[k]
            kept = self.epoch if bad is None else bad - 1  # a diverged run keeps its finite epochs
            curves = {key: frozen(rows[:kept, k]) for key, rows in self._curves.items()}
            runs[name] = RunHistory(**curves, status="ok" if bad is None else f"diverged at epoch {bad}")
        return History(runs=runs, events=tuple(self.events), classes=self.sizes[-1])

    def grid_proba(self, grid: int) -> dict[str, np.ndarray]:
        """boundary_proba on grid_axis(grid)'s square, per run, cached per step; {} when the inputs are not points in the
        plane (digits): there is no plane to draw."""
        if self.sizes[0] != 2:
            return {}
        if self._grid_cache is None or self._grid_cache[:2] != (self.step_count, grid):
            self._grid_cache = (self.step_count, grid, boundary_proba(self.net, grid))
        return self._grid_cache[2]

    def snapshot(self, grid: int) -> Snapshot:
        """The frozen state both runs are in, with their boundaries on a grid x grid square (the caller's resolution)."""
        weights, biases = self.net.parameters()
        params = {
            name: tuple(LayerParams(frozen(w[k].T.astype(np.float32)), frozen(b[k].astype(np.float32))) for w, b in zip(weights, biases))
            for k, name in enumerate(RUN_NAMES)
        }
        tracked = None if self.last_batch is None else int(self.last_batch[0])
        keep = self.last_keep()
        masks = () if keep is None else tuple(frozen(m[0, 0]) for m in keep)  # run 0, first example
        return Snapshot(
            epoch=self.epoch,
            step=self.step_count,
            epoch_progress=self.epoch_progress,
            sizes=self.sizes,
            params=params,
            activation=self.config.activation,
            masks=masks,
            tracked_index=tracked,
            p_effective=tuple(float(v) for v in self.p[0, 1:]),
            p_input_effective=float(self.p[0, 0]),
            grid_axis=frozen(grid_axis(grid)),
            grid_proba=self.grid_proba(grid),
            history=self.history(),
            finished=self.finished,
            val_predicted={} if self._val_predicted is None else {run: frozen(self._val_predicted[k]) for k, run in enumerate(RUN_NAMES)},
        )


def _change_text(old: RunConfig, new: RunConfig) -> str:
    """What changed in the live dropout settings: "dropout off", "p 0.5 -> 0.3", ... joined; "" when nothing did."""
    texts = []
    if new.dropout != old.dropout:
        texts.append("dropout on" if new.dropout else "dropout off")
    if new.p != old.p:
        texts.append(f"p {_fmt(old.p)} -> {_fmt(new.p)}")
    if new.p_input != old.p_input:
        texts.append(f"input p {old.p_input:g} -> {new.p_input:g}")
    return ", ".join(texts)


def _fmt(values: tuple[float, ...]) -> str:
    return f"{values[0]:g}" if len(set(values)) == 1 else "/".join(f"{v:g}" for v in values)
