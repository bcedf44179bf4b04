"""Two experiments of the dropout paper, each many models trained stacked: the p-sweep (its Figure 9) and the training-set size (its Figure 10).

Each experiment is a pure function of a RunConfig (plus its own arguments) and a progress callback, and
returns a frozen record, NumPy only. Every model of an experiment that can share batches lives in one set
of (K, ...) arrays and trains in one pass (kernel.NumbaNet32, engine.choose_backend's path). Not here: figures
(sweep_figures.py), where they run and their cancel buttons (live.ExperimentJob and worker.py run these functions), the page.

Randomness, all from Generators made from config.seed (no global seeds); K members share everything but
their own seed's streams and their p:
  data             dataset_for(config), as the Trainer
  batch order      default_rng([seed, 1]), drawn per epoch exactly as the Trainer draws it (a permutation,
                   then its (2, n, units) mask uniforms), so every member sees the Trainer's batches
  weights, seed s  engine.initial_parameters with default_rng([seed, 2]) for s = 0 (the Trainer's), [seed, 2, s] else
  masks, seed s    s = 0: the uniforms of the Trainer's dropout run (row 0 above); s >= 1: default_rng([seed, 3, s])
So member (seed 0, p) is the Trainer's dropout run at hidden p (same weights, batches and masks), and member
(seed 0, p = 0) with no input dropout is its twin; tests/experiments/test_sweeps.py checks both. Members of one seed share
their uniforms (unit kept when u >= p, as the Trainer does): a unit kept at p = 0.5 is kept at p = 0.3 too, so
neighbouring p differ only by the units between, and the curve over p is smoother than independent masks make it.
The config's dropout toggle is ignored: the experiments set p themselves (the sweep's hidden p, the size
experiment's config.p against 0).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.chunks import StepChunks
from ..core.config import LIMITS, POOL_SIZES, RunConfig, io_sizes, weight_count
from ..core.data import Dataset, dataset_for
from ..core.engine import BACKENDS, DIVERGED_TRAIN_LOSS, choose_backend, initial_parameters
from ..core.fastnet import accuracy, cross_entropy_loss, dropout_masks
from ..core.records import RUN_NAMES, frozen

P_VALUES: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(9))  # hidden-layer drop probabilities swept: 0, 0.1, ..., 0.8
SIZES: tuple[int, ...] = (20, 50, 100, 200, 500, 1000, 2000)  # training-set sizes, capped at MAX_SIZE
MAX_SIZE = int(LIMITS["n_train"].high)  # the largest training set a run may have
MIN_SIZE = 2  # labels alternate 0, 1, ...: two points hold both classes
# Default schedules are cut to fit about this many seconds of training per experiment on the 2-core server
# (estimated_seconds), so the default preset stays well under 20 s with room for a busy machine.
BUDGET_SECONDS = 7.0  # of training, estimated on a quiet machine: leaves room for a busy server within 20 s
REPORT_EVERY = 0.1  # seconds between progress calls: often enough for a cancel button, few enough for the page
CHUNK_SECONDS = 0.05  # aim of one call to the net (steps per call adapt to it), so progress is never long delayed
RUNS = RUN_NAMES  # the size sweep's two members per seed: ("dropout", "twin"), the twin never drops


class Cancelled(Exception):
    """Raised by an experiment when its progress callback returns False."""


# --- cost: defaults that fit the budget -----------------------------------------------------------


def estimated_seconds(hidden: tuple[int, ...], models: int, n: int, batch: int, epochs: int, inputs: int = 2, outputs: int = 2) -> float:
    """Rough training time of `models` stacked models on this project's 2-core server, compiled kernel, float32.

    A cost per model-step, per weight and model-step (growing with the batch), per mask entry and per epoch, fitted
    to p-sweeps timed by hand (14 shapes: 8x8 to 256x256x256, 2 to 27 models, batch 1 to 200, 100 to 2000 points;
    its error is in bench/RESULTS.md). It only picks defaults.
    """
    steps = -(-n // batch)
    units = inputs + sum(hidden)
    weights = weight_count(hidden, inputs, outputs)
    per_epoch = models * (steps * (0.8e-6 + weights * (1.1e-9 + 0.08e-9 * batch)) + n * units * 8e-9) + 0.14e-3
    return epochs * per_epoch


def _round_down(value: float) -> int:
    """To two significant digits, at least 1: 238 -> 230, 1456 -> 1400."""
    if value < 1:
        return 1
    scale = 10 ** max(0, int(math.log10(value)) - 1)
    return max(1, int(value // scale) * scale)


# --- progress ----------------------------------------------------------------------------------------


class _Progress:
    """Counts the experiment's optimizer steps; calls back with the fraction done at most every REPORT_EVERY s.

    Modifies itself only. Raises Cancelled when the callback returns False (None counts as "go on").
    """

    def __init__(self, callback: Callable[[float], bool], total_steps: int):
        self.callback = callback
        self.total = max(1, total_steps)
        self.done = 0
        self.last = time.perf_counter()
        self._report(0.0)

    def add(self, steps: int) -> None:
        self.done += steps
        if self.done < self.total and time.perf_counter() - self.last >= REPORT_EVERY:
            self._report(self.done / self.total)

    def finish(self) -> None:
        self._report(1.0)

    def _report(self, fraction: float) -> None:
        answer = self.callback(fraction)
        self.last = time.perf_counter()
        if answer is not None and not answer:
            raise Cancelled(f"cancelled at {fraction:.0%}")


# --- the stacked training loop -------------------------------------------------------------------------


def _init_rng(seed: int, s: int) -> np.random.Generator:
    return np.random.default_rng([seed, 2] if s == 0 else [seed, 2, s])  # s = 0: the Trainer's initial weights


class _Uniforms:
    """Per epoch: the batch order (shared) and one (n, units) float32 block of mask uniforms per seed. Modifies itself."""

    def __init__(self, seed: int, seeds: int, n: int, units: int):
        self.n = n
        self.order_rng = np.random.default_rng([seed, 1])  # the Trainer's batch-and-mask stream
        self.pair = np.empty((len(RUN_NAMES), n, units), dtype=np.float32)  # what the Trainer draws after its permutation
        self.mask_rngs = [np.random.default_rng([seed, 3, s]) for s in range(1, seeds)]
        self.uniform = np.empty((seeds, n, units), dtype=np.float32)  # (S, n, units)

    def next_epoch(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,) batch order and (S, n, units) uniforms of the next epoch."""
        order = self.order_rng.permutation(self.n)
        self.order_rng.random(out=self.pair, dtype=np.float32)
        self.uniform[0] = self.pair[0]  # seed 0 drops what the Trainer's dropout run drops
        for s, rng in enumerate(self.mask_rngs, start=1):
            rng.random(out=self.uniform[s], dtype=np.float32)
        return order, self.uniform


@dataclass(frozen=True)
class _Final:
    """Final evaluation-mode metrics of K stacked models, (K,) each; NaN where a model diverged."""

    train_loss: np.ndarray
    train_acc: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray
    diverged: np.ndarray  # (K,) bool


def _train_stack(config: RunConfig, data: Dataset, n: int, seed_of: np.ndarray, p: np.ndarray, epochs: int, batch: int,
                 progress: _Progress) -> tuple[_Final, str]:  # fmt: skip
    """Trains K = len(seed_of) models in one stack on data's first n training points, all on the same batches;
    returns their final metrics (validated on all of data's validation points) and the backend.

    seed_of (K,) picks each member's initial weights and mask uniforms; p (K, L + 1) its drop probabilities
    (input, hidden layers). Metrics are measured once, after the last epoch, in evaluation mode.
    """
    x_train, y_train, x_val, y_val = data.x_train[:n], data.y_train[:n], data.x_val, data.y_val
    sizes = (x_train.shape[1], *config.hidden, data.classes)
    seeds = int(seed_of.max()) + 1
    inits = [initial_parameters(sizes, _init_rng(config.seed, s)) for s in range(seeds)]
    backend = choose_backend()
    net = BACKENDS[backend](
        [np.stack([inits[s][0][l] for s in seed_of]) for l in range(len(sizes) - 1)],  # (K, in, out)
        [np.stack([inits[s][1][l] for s in seed_of]) for l in range(len(sizes) - 1)],  # (K, out)
        config.activation, config.optimizer, config.lr, config.momentum, config.weight_decay,
    )  # fmt: skip
    streams = _Uniforms(config.seed, seeds, n, sum(sizes[:-1]))
    mask_dtype = net.DTYPE  # the masks in the net's own precision, as the Trainer makes them: no conversion per call
    chunks = StepChunks(CHUNK_SECONDS)
    with np.errstate(all="ignore"):  # a diverging member overflows: reported in the result, not as warnings
        for _ in range(epochs):
            order, uniform = streams.next_epoch()
            x, y = x_train[order], y_train[order].astype(np.float64)
            drop = dropout_masks(uniform[seed_of], p, sizes, mask_dtype)  # (K, n, units): the Trainer's masks, bit for bit
            start = 0
            while start < n:
                stop = min(start + chunks.next() * batch, n)
                began = chunks.clock()
                net.train_steps(x, y, drop, start, stop, batch)
                steps = -(-(stop - start) // batch)
                chunks.took(began, steps)
                progress.add(steps)
                start = stop
        logits = net.logits(np.concatenate([x_train, x_val]), dtype=np.float32)  # (K, n + n_val, C): one pass, as Trainer evaluates
        train_loss, train_acc = cross_entropy_loss(logits[:, :n], y_train), accuracy(logits[:, :n], y_train)
        val_loss, val_acc = cross_entropy_loss(logits[:, n:], y_val), accuracy(logits[:, n:], y_val)
    # The Trainer's rule: a loss that is not finite, or this confidently wrong on its own training data.
    diverged = ~(np.isfinite(train_loss) & np.isfinite(val_loss) & (train_loss <= DIVERGED_TRAIN_LOSS))
    metrics = [np.where(diverged, np.nan, m) for m in (train_loss, train_acc, val_loss, val_acc)]
    return _Final(*metrics, diverged=diverged), backend


# --- records -------------------------------------------------------------------------------------------


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over the last axis (seeds), ignoring NaN (diverged models); NaN where all are NaN."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice": all seeds diverged
        return np.nanmean(values, axis=-1), np.nanmin(values, axis=-1), np.nanmax(values, axis=-1)


def _fmt_p(values) -> str:
    values = tuple(float(v) for v in values)
    return f"{values[0]:g}" if len(set(values)) == 1 else "/".join(f"{v:g}" for v in values)


def _number(value: float) -> str:
    return f"{float(value):.6g}"  # "nan" for a diverged model


METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


@dataclass(frozen=True)
class SweepResult:
    """The p-sweep: final metrics of every model, arrays (P, S) indexed [p, seed], measured in evaluation mode.

    NaN marks a diverged model (diverged is True there). Arrays are read-only.
    """

    config: RunConfig  # the setup swept; its hidden-layer p is replaced by each of p_values
    p_values: np.ndarray  # (P,) hidden-layer drop probability, every hidden layer alike
    p_input: float  # input drop probability of every model, the config's
    seeds: int
    epochs: int  # trained by every model
    steps: int  # optimizer steps of every model
    schedule: str  # one sentence: how epochs was chosen
    backend: str  # "numba" or "numpy"
    train_loss: np.ndarray  # (P, S)
    train_acc: np.ndarray  # (P, S)
    val_loss: np.ndarray  # (P, S)
    val_acc: np.ndarray  # (P, S)
    diverged: np.ndarray  # (P, S) bool

    def summary(self, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, min and max over seeds of one of METRICS, (P,) each; NaN where every seed diverged."""
        return _spread(getattr(self, metric))

    @property
    def best_index(self) -> int | None:
        """Index into p_values of the lowest mean validation loss; None if every model diverged."""
        mean = self.summary("val_loss")[0]
        return int(np.nanargmin(mean)) if np.isfinite(mean).any() else None

    @property
    def best_p(self) -> float | None:
        best = self.best_index
        return None if best is None else float(self.p_values[best])

    def to_csv(self) -> str:
        """One row per model: p, p_input, seed, epochs, steps, the four metrics, diverged."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["p", "p_input", "seed", "epochs", "steps", *METRICS, "diverged"])
        for i, p in enumerate(self.p_values):
            for s in range(self.seeds):
                writer.writerow([f"{p:g}", f"{self.p_input:g}", s, self.epochs, self.steps,
                                 *(_number(getattr(self, m)[i, s]) for m in METRICS), int(self.diverged[i, s])])  # fmt: skip
        return out.getvalue()


@dataclass(frozen=True)
class SizeResult:
    """The training-set size experiment: final metrics, arrays (N, 2, S) indexed [size, run, seed], run in RUNS.

    Run 0 ("dropout") drops with the config's p and input p; run 1 ("twin") never drops; the two members of one
    seed start from the same weights and see the same batches. NaN marks a diverged model. Arrays are read-only.
    """

    config: RunConfig
    sizes: np.ndarray  # (N,) int training-set sizes; the validation set is the same n_val points for all
    p: tuple[float, ...]  # the dropout run's hidden-layer p (the config's)
    p_input: float
    seeds: int
    epochs: np.ndarray  # (N,) int epochs trained at each size
    steps: np.ndarray  # (N,) int optimizer steps at each size
    schedule: str  # one sentence: how the schedule was chosen
    backend: str
    train_loss: np.ndarray  # (N, 2, S)
    train_acc: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray
    diverged: np.ndarray  # (N, 2, S) bool

    @property
    def val_error(self) -> np.ndarray:
        """(N, 2, S) validation error, 1 - accuracy."""
        return frozen(1.0 - self.val_acc)

    @property
    def gain(self) -> np.ndarray:
        """(N, S) twin's validation error minus dropout's, per seed (a paired difference: same weights, same batches)."""
        return frozen(self.val_error[:, 1] - self.val_error[:, 0])

    def summary(self, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, min and max over seeds: metric in METRICS or "val_error" -> (N, 2) each; "gain" -> (N,) each."""
        return _spread(getattr(self, metric))

    def to_csv(self) -> str:
        """One row per model: size, run, p, p_input, seed, epochs, steps, the four metrics, val_error, diverged."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["size", "run", "p", "p_input", "seed", "epochs", "steps", *METRICS, "val_error", "diverged"])
        error = self.val_error
        for i, size in enumerate(self.sizes):
            for r, run in enumerate(RUNS):
                p, p_input = (_fmt_p(self.p), f"{self.p_input:g}") if r == 0 else ("0", "0")
                for s in range(self.seeds):
                    writer.writerow([int(size), run, p, p_input, s, int(self.epochs[i]), int(self.steps[i]),
                                     *(_number(getattr(self, m)[i, r, s]) for m in METRICS), _number(error[i, r, s]),
                                     int(self.diverged[i, r, s])])  # fmt: skip
        return out.getvalue()


# What to look for, as measured on the default preset over 5 seeds (dropviz/experiments/claims.py states each claim and its threshold).
P_SWEEP_TEXT = (
    "On the default preset the validation loss falls steeply as p rises from 0, where it is more than twice its minimum, "
    "to its lowest at p = 0.6 to 0.8 (the star), and stays within 20% of that minimum over 0.6 to 0.8: on these noisy "
    "labels more dropout pays than the paper's range (keep probability 0.4 to 0.8, p = 0.2 to 0.6 here). Training loss "
    "rises steadily with p as fewer units are kept, and at p = 0.8 validation accuracy has fallen back from its peak: "
    "the start of underfitting."
)
SIZE_TEXT = (
    "On the default preset dropout helps most, about 4 to 9 points of validation error, at 50 to 100 training points, "
    "where the network without dropout memorizes its flipped labels; with 20 points the gain is smaller, on some seeds "
    "below zero. From 500 points on the data alone keeps the twin from overfitting and the gain stays within about a "
    "point of zero."
)


# --- the experiments ----------------------------------------------------------------------------------


def _check_count(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def p_sweep(config: RunConfig, progress: Callable[[float], bool], seeds: int = 3, epochs: int | None = None,
            p_values: tuple[float, ...] = P_VALUES) -> SweepResult:  # fmt: skip
    """The setup trained at every hidden-layer p in p_values with `seeds` seeds each: all models in one stack.

    Every model trains on config's data and batches (the same batches in the same order for all) with its
    seed's initial weights and mask uniforms (see the module docstring); the input p is the config's. epochs:
    None trains config.epochs, cut to fit BUDGET_SECONDS (result.schedule says which). progress(fraction) is
    called with increasing fractions, at least every ~0.2 s of work, last with 1.0; Cancelled when it returns False.
    """
    seeds = _check_count("seeds", seeds)
    p_grid = np.array(p_values, dtype=np.float64)
    if p_grid.ndim != 1 or not len(p_grid) or not ((p_grid >= 0) & (p_grid < 1)).all():
        raise ValueError(f"p_values must be drop probabilities in [0, 1), got {p_values!r}")
    data = dataset_for(config)
    n, batch = config.n_train, min(config.batch_size, config.n_train)
    k = len(p_grid) * seeds  # member k = (p index k // S, seed k % S)
    if epochs is None:
        fits = _round_down(BUDGET_SECONDS / estimated_seconds(config.hidden, k, n, batch, 1, *io_sizes(config)))
        epochs = min(config.epochs, fits)
        schedule = (
            f"{epochs} epochs, as the config says."
            if epochs == config.epochs
            else f"{epochs} of the config's {config.epochs} epochs: {k} models at once, cut to about {BUDGET_SECONDS:g} s of training."
        )
    else:
        epochs = _check_count("epochs", epochs)
        schedule = f"{epochs} epochs, as asked."
    steps = epochs * -(-n // batch)
    p = np.zeros((k, len(config.hidden) + 1))  # (K, L + 1): input, hidden layers
    p[:, 0] = config.p_input
    p[:, 1:] = np.repeat(p_grid, seeds)[:, None]
    seed_of = np.tile(np.arange(seeds), len(p_grid))
    tracker = _Progress(progress, steps)
    final, backend = _train_stack(config, data, n, seed_of, p, epochs, batch, tracker)
    shaped = {name: frozen(getattr(final, name).reshape(len(p_grid), seeds)) for name in (*METRICS, "diverged")}
    result = SweepResult(config=config, p_values=frozen(p_grid), p_input=float(config.p_input), seeds=seeds, epochs=epochs,
                         steps=steps, schedule=schedule, backend=backend, **shaped)  # fmt: skip
    tracker.finish()
    return result


def _most_training_points(config: RunConfig) -> int:
    """The largest training set the config's data can give: MAX_SIZE, or what a fixed pool (digits, a file's points)
    has left beside the validation set."""
    pool = len(config.points.y) if config.points is not None else POOL_SIZES.get(config.dataset)
    return MAX_SIZE if pool is None else min(MAX_SIZE, pool - config.n_val)


def size_sweep(config: RunConfig, progress: Callable[[float], bool], seeds: int = 2, sizes: tuple[int, ...] | None = None,
               epochs: int | None = None) -> SizeResult:  # fmt: skip
    """Validation error with and without dropout for training sets of several sizes; one stack per size.

    Sizes are capped at MAX_SIZE, or at what a fixed pool has beside the validation set (duplicates dropped, sorted).
    The training sets are nested: the first `size`
    points of one make_dataset draw of the largest size, so every size is validated on the same config.n_val
    points. Per size, 2 x seeds models train in one stack: the dropout run (the config's p and input p) and its
    twin (no dropout), each seed's pair from the same weights. epochs: None gives every size the number of
    optimizer steps of the config's own run (config.epochs epochs of config.n_train points), rounded up to whole
    epochs, fewer if BUDGET_SECONDS requires (result.schedule says); a number trains every size that many epochs.
    progress as in p_sweep.
    """
    seeds = _check_count("seeds", seeds)
    wanted = SIZES if sizes is None else tuple(sizes)
    if not wanted or any(int(s) != s or s < MIN_SIZE for s in wanted):
        raise ValueError(f"sizes must be whole numbers of at least {MIN_SIZE}, got {sizes!r}")
    largest = _most_training_points(config)
    grid = np.array(sorted({min(int(s), largest) for s in wanted}), dtype=np.int64)
    pool = dataset_for(dataclasses.replace(config, n_train=int(grid[-1])))
    k = 2 * seeds  # member k = (run k // S, seed k % S)
    batches = np.minimum(config.batch_size, grid)
    per_epoch = -(-grid // batches)  # (N,) steps per epoch
    if epochs is None:
        # Every size gets the optimizer steps of the config's own run (epochs x batches of n_train points), so a
        # small set trains as long as a large one: the default preset's 2100 steps are 1050 epochs of 20 points, 17 of 2000.
        target = config.epochs * -(-config.n_train // min(config.batch_size, config.n_train))
        cost = sum(
            estimated_seconds(config.hidden, k, int(n), int(b), 1, *io_sizes(config)) / int(s) for n, b, s in zip(grid, batches, per_epoch)
        )  # per step
        fits = _round_down(BUDGET_SECONDS / cost)
        cut = "" if target <= fits else f", cut from the config's {target} to fit about {BUDGET_SECONDS:g} s"
        target = min(target, fits)
        epoch_counts = -(-target // per_epoch)
        schedule = (
            f"About {target} optimizer steps at every size (rounded up to whole epochs){cut}: small sets train as many steps as large ones."
        )
    else:
        epoch_counts = np.full(len(grid), _check_count("epochs", epochs))
        schedule = f"{epochs} epochs at every size, as asked."
    step_counts = epoch_counts * per_epoch
    p = np.zeros((k, len(config.hidden) + 1))  # (K, L + 1); rows of the twin stay 0
    p[:seeds, 0] = config.p_input
    p[:seeds, 1:] = config.p
    seed_of = np.tile(np.arange(seeds), 2)
    tracker = _Progress(progress, int(step_counts.sum()))
    finals, backend = [], ""
    for n, batch, count in zip(grid, batches, epoch_counts):
        n = int(n)
        final, backend = _train_stack(config, pool, n, seed_of, p, int(count), int(batch), tracker)
        finals.append(final)
    shaped = {name: frozen(np.stack([getattr(f, name).reshape(2, seeds) for f in finals])) for name in (*METRICS, "diverged")}
    result = SizeResult(config=config, sizes=frozen(grid), p=tuple(float(v) for v in config.p), p_input=float(config.p_input),
                        seeds=seeds, epochs=frozen(epoch_counts), steps=frozen(step_counts), schedule=schedule, backend=backend,
                        **shaped)  # fmt: skip
    tracker.finish()
    return result
