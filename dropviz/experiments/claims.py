"""The claims the presets' lessons and the experiment texts make, each measured: a seed in, the figures behind each claim and PASS or FAIL out.

A claim function runs what its text describes, the way the page runs it (the preset's Trainer, EXPERIMENTS' run
functions on the pair trained to the end), and returns Claims: the measured numbers and whether the stated
threshold holds. bench/claims.py runs them over 5 seeds; tests/experiments/test_claims.py over one. Not here: the texts
(presets.py, sweeps.py, probes.py own them), figures, printing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.config import RunConfig
from ..core.data import Dataset
from ..core.engine import Trainer
from ..core.neurons import with_maps
from ..core.presets import DEFAULT_PRESET, PRESETS
from ..core.records import RUN_NAMES, History, Snapshot
from ..figures.boundary import BOUNDARY_GRID
from .probes import grid_points
from .registry import EXPERIMENTS, Inputs


@dataclass(frozen=True)
class Claim:
    topic: str  # whose text: "overfitting demo", "p-sweep", ...
    statement: str  # what the text says, with the threshold checked
    figures: dict[str, float]  # the measured numbers behind it
    holds: bool


@dataclass(frozen=True)
class Pair:
    """A preset trained to its last epoch, as the page shows it when the run has finished."""

    config: RunConfig
    history: History
    snapshot: Snapshot
    data: Dataset


def train(name: str, seed: int) -> Pair:
    config = dataclasses.replace(PRESETS[name].config, seed=seed)
    trainer = Trainer(config)
    history = trainer.run()
    return Pair(config, history, trainer.snapshot(BOUNDARY_GRID), trainer.data)


def _run(name: str, pair: Pair):
    """The experiment's result exactly as the Experiments view computes it (default passes, draws, seeds)."""
    return EXPERIMENTS[name].run(Inputs(pair.config, pair.snapshot, pair.data), lambda fraction: True)


def _claim(topic: str, statement: str, holds, **figures) -> Claim:
    return Claim(topic, statement, {k: float(v) for k, v in figures.items()}, bool(holds))


# --- the presets' lessons ------------------------------------------------------------------------

CLIMB_RATIO = 0.5  # the dropout run's validation loss climbs at most this fraction of the twin's
TWIN_CLIMB = 0.5  # the twin's validation loss ends at least this far above its best


def _climb(run) -> float:
    """How far the validation loss ends above its lowest point of the run."""
    return float(run.val_loss[-1] - np.nanmin(run.val_loss))


def overfitting_claims(pair: Pair) -> list[Claim]:
    dropout, twin = (pair.history.runs[r] for r in ("dropout", "twin"))
    up_dropout, up_twin = _climb(dropout), _climb(twin)
    topic = "overfitting demo"
    return [
        _claim(topic, f"the twin's validation loss climbs >= {TWIN_CLIMB} above its best", up_twin >= TWIN_CLIMB,
               twin_best=np.nanmin(twin.val_loss), twin_end=twin.val_loss[-1], twin_climb=up_twin),
        _claim(topic, f"the dropout run's climbs at most {CLIMB_RATIO:g} of the twin's", up_dropout <= CLIMB_RATIO * up_twin,
               dropout_best=np.nanmin(dropout.val_loss), dropout_end=dropout.val_loss[-1], dropout_climb=up_dropout,
               ratio=up_dropout / up_twin),
    ]  # fmt: skip


def too_much_dropout_claims(pair: Pair) -> list[Claim]:
    dropout, twin = pair.history.runs["dropout"].train_acc[-1], pair.history.runs["twin"].train_acc[-1]
    return [_claim("too much dropout", "the dropout run stays near chance (train acc <= 0.6), the twin learns (>= 0.95)",
                   dropout <= 0.6 and twin >= 0.95, dropout_train_acc=dropout, twin_train_acc=twin)]  # fmt: skip


def playground_claims(pair: Pair) -> list[Claim]:
    dropout, twin = pair.history.runs["dropout"].val_acc[-1], pair.history.runs["twin"].val_acc[-1]
    return [_claim("TensorFlow Playground classic", "after 1000 epochs the dropout run is only part way (val acc 0.55 to 0.75)",
                   0.55 <= dropout <= 0.75, dropout_val_acc=dropout, twin_val_acc=twin)]  # fmt: skip


DIGITS_TWIN_RISE = 3.0  # the twin's validation loss ends at least this multiple of its best
DIGITS_LOSS_RATIO = 0.5  # the dropout run's final validation loss is at most this fraction of the twin's


def digits_claims(pair: Pair) -> list[Claim]:
    dropout, twin = (pair.history.runs[r] for r in ("dropout", "twin"))
    rise = twin.val_loss[-1] / np.nanmin(twin.val_loss)
    topic = "handwritten digits"
    return [
        _claim(topic, f"the twin learns every training digit and its validation loss ends >= {DIGITS_TWIN_RISE:g} x its best",
               twin.train_acc[-1] == 1.0 and rise >= DIGITS_TWIN_RISE, twin_train_acc=twin.train_acc[-1], rise=rise),
        _claim(topic, f"dropout's final validation loss is <= {DIGITS_LOSS_RATIO:g} x the twin's, its accuracy higher",
               dropout.val_loss[-1] <= DIGITS_LOSS_RATIO * twin.val_loss[-1] and dropout.val_acc[-1] > twin.val_acc[-1],
               ratio=dropout.val_loss[-1] / twin.val_loss[-1], dropout_val_acc=dropout.val_acc[-1], twin_val_acc=twin.val_acc[-1]),
    ]  # fmt: skip


# --- the two sweeps ------------------------------------------------------------------------------

BEST_P = (0.6, 0.8)  # where the p-sweep's lowest validation loss lies
FLAT = 0.2  # over BEST_P every p's validation loss is within this fraction of the minimum
STEEP = 2.0  # p = 0's validation loss is at least this multiple of the minimum


def p_sweep_claims(pair: Pair) -> list[Claim]:
    result = _run("p-sweep", pair)
    p = np.asarray(result.p_values)
    val, train, acc = (result.summary(m)[0] for m in ("val_loss", "train_loss", "val_acc"))
    low = float(np.nanmin(val))
    best = result.best_p
    band = (p >= BEST_P[0] - 1e-9) & (p <= BEST_P[1] + 1e-9)
    worst_in_band = float(np.nanmax(val[band]) / low - 1)
    topic = "p-sweep"
    return [
        _claim(topic, f"the lowest validation loss lies at p = {BEST_P[0]:g} to {BEST_P[1]:g}", BEST_P[0] - 1e-9 <= best <= BEST_P[1] + 1e-9,
               best_p=best, lowest=low),
        _claim(topic, f"p = 0's validation loss is >= {STEEP:g} x the lowest", val[0] >= STEEP * low, at_p0=val[0], ratio=val[0] / low),
        _claim(topic, f"over p = {BEST_P[0]:g} to {BEST_P[1]:g} validation loss is within {FLAT:.0%} of the lowest",
               worst_in_band <= FLAT, worst_excess=worst_in_band),
        _claim(topic, "training loss rises with p (never falls by more than 0.01) to >= 1.5 x p = 0's",
               bool(np.all(np.diff(train) >= -0.01)) and train[-1] >= 1.5 * train[0], train_p0=train[0], train_last=train[-1]),
        _claim(topic, "validation accuracy at the largest p is >= 0.02 below its peak", acc[-1] <= np.nanmax(acc) - 0.02,
               acc_peak=np.nanmax(acc), acc_peak_p=p[int(np.nanargmax(acc))], acc_last=acc[-1]),
    ]  # fmt: skip


PEAK_SIZES = (50, 100)  # where the size experiment's gain peaks
PEAK_GAIN = 0.04  # the peak gain is at least this (validation error, 0 to 1)
FADED = 0.015  # from LARGE points on, |gain| at most this
LARGE = 500


def size_claims(pair: Pair) -> list[Claim]:
    result = _run("training-set size", pair)
    sizes = np.asarray(result.sizes)
    gain = result.summary("gain")[0]
    peak = int(np.nanargmax(gain))
    large = np.abs(gain[sizes >= LARGE])
    topic = "training-set size"
    return [
        _claim(topic, f"the gain peaks at {' or '.join(map(str, PEAK_SIZES))} points, at >= {PEAK_GAIN:g}",
               int(sizes[peak]) in PEAK_SIZES and gain[peak] >= PEAK_GAIN, peak_size=sizes[peak], peak_gain=gain[peak]),
        _claim(topic, "the gain at the smallest set is below the peak", gain[0] < gain[peak], smallest_gain=gain[0]),
        _claim(topic, f"from {LARGE} points on |gain| <= {FADED:g}", bool(np.all(large <= FADED)), largest_late=np.max(large)),
    ]  # fmt: skip


# --- the probes ----------------------------------------------------------------------------------

FAR = 0.5  # the largest MC spread lies at least this far (data units) from every training point


def _distance_to_data(points: np.ndarray, data: Dataset) -> np.ndarray:
    """(N, 2) points -> (N,) distance to the nearest training point."""
    return np.sqrt(((points[:, None, :] - np.asarray(data.x_train)[None]) ** 2).sum(-1)).min(axis=1)


def mc_claims(pair: Pair) -> list[Claim]:
    r = _run("Monte Carlo dropout", pair)
    distance = _distance_to_data(grid_points(np.asarray(r.grid_axis)), pair.data)
    top = float(distance[int(np.nanargmax(r.std))])
    soft_mc, soft_eval = float(np.mean(np.abs(r.mean - 0.5))), float(np.mean(np.abs(r.eval_proba - 0.5)))
    floor, noise = float(r.convergence[-1]), float(r.noise[-1])
    topic = "Monte Carlo dropout"
    return [
        _claim(topic, "the MC mean has a lower validation loss than evaluation mode, accuracy within 0.02",
               r.val_loss_mc < r.val_loss_eval and abs(r.val_acc_mc - r.val_acc_eval) <= 0.02,
               loss_mc=r.val_loss_mc, loss_eval=r.val_loss_eval, acc_mc=r.val_acc_mc, acc_eval=r.val_acc_eval),
        _claim(topic, "the MC mean is softer: mean |P - 0.5| over the map below evaluation mode's", soft_mc < soft_eval,
               mc=soft_mc, eval=soft_eval),
        _claim(topic, f"the largest spread lies >= {FAR:g} from every training point", top >= FAR,
               distance=top, largest_std=np.nanmax(r.std)),
        _claim(topic, "the running average levels off above 0, at >= 2 x its sampling noise", floor >= 2 * noise and floor > 0.01,
               floor=floor, noise=noise, first_pass=r.convergence[0]),
    ]  # fmt: skip


FORGOT_LOSS = 1.4  # forgetting the scaling multiplies the validation loss by at least this
FORGOT_ACC = 0.05  # and costs at most this much accuracy


def scaling_claims(pair: Pair) -> list[Claim]:
    r = _run("scaling lesson", pair)
    loss, acc = np.asarray(r.val_loss), np.asarray(r.val_acc)
    confidence = np.mean(np.abs(np.asarray(r.val_proba) - 0.5), axis=1)
    moved = float(np.mean((np.asarray(r.proba[0]) > 0.5) != (np.asarray(r.proba[2]) > 0.5)))
    topic = "scaling lesson"
    return [
        _claim(topic, "inverted dropout and the paper's scaling give the same maps and loss",
               np.abs(r.proba[0] - r.proba[1]).max() <= 1e-6 and abs(loss[0] - loss[1]) <= 1e-9, loss=loss[0]),
        _claim(topic, f"forgetting the scaling gives >= {FORGOT_LOSS:g} x the validation loss", loss[2] >= FORGOT_LOSS * loss[0],
               loss_forgot=loss[2], ratio=loss[2] / loss[0]),
        _claim(topic, "forgetting makes predictions more confident (mean |P - 0.5| on validation points)",
               confidence[2] > confidence[0], right=confidence[0], forgot=confidence[2]),
        _claim(topic, f"forgetting costs at most {FORGOT_ACC:g} accuracy; the boundary moves little (< 10% of the map)",
               acc[0] - acc[2] <= FORGOT_ACC and moved < 0.1, acc_right=acc[0], acc_forgot=acc[2], map_flipped=moved),
    ]  # fmt: skip


SIMILAR_R = 0.8  # the dropout run's mean |r| is at least this fraction of the twin's
QUARTER_COST = 0.03  # a quarter of the units off costs the dropout run at most this accuracy


def inside_claims(pair: Pair) -> list[Claim]:
    r = _run("inside the network", pair)
    near, dead, mean_r = r.sparsity[:, -1], r.dead_units[:, -1], r.mean_abs_correlation
    k = max(r.hidden) // 4
    i = int(np.argmin(np.abs(np.asarray(r.k_values) - k)))
    cost = r.eval_acc - r.robust_mean[:, i]  # (2,) accuracy lost with k units off per layer
    topic = "inside the network"
    return [
        _claim(topic, "the dropout run's last layer has fewer dead units and a lower near-zero share than the twin's",
               near[0] < near[1] and dead[0] < dead[1],
               near_zero_dropout=near[0], near_zero_twin=near[1], dead_dropout=dead[0], dead_twin=dead[1]),
        _claim(topic, f"dropout does not make units less correlated: its mean |r| >= {SIMILAR_R:g} x the twin's",
               mean_r[0] >= SIMILAR_R * mean_r[1], mean_r_dropout=mean_r[0], mean_r_twin=mean_r[1]),
        _claim(topic, f"a quarter of the units off costs the dropout run <= {QUARTER_COST:g} accuracy, less than the twin",
               cost[0] <= QUARTER_COST and cost[0] < cost[1], k=r.k_values[i], cost_dropout=cost[0], cost_twin=cost[1]),
    ]  # fmt: skip


SUBNET_ACC = 0.1  # every thinned network is within this accuracy of the full network


def subnet_claims(pair: Pair) -> list[Claim]:
    r = _run("sampled subnetworks", pair)
    full = np.asarray(r.full, dtype=np.float64)
    one = float(np.mean([np.abs(np.asarray(p, dtype=np.float64) - full).mean() for p in r.proba]))
    average = float(np.abs(np.asarray(r.average, dtype=np.float64) - full).mean())
    topic = "sampled subnetworks"
    return [
        _claim(topic, f"every thinned network's validation accuracy is within {SUBNET_ACC:g} of the full network's",
               np.min(r.val_acc) >= r.val_acc_full - SUBNET_ACC, worst=np.min(r.val_acc), best=np.max(r.val_acc), full=r.val_acc_full),
        _claim(topic, "their average is closer to the full network than a thinned network is (mean |P difference|)",
               average < one, average_to_full=average, one_to_full=one),
    ]  # fmt: skip


MAP_ON_SHARE = 0.85  # the dropout run's first-layer neurons are on over at most this share of the twin's plane (median)
MAP_STRENGTH = 0.75  # and their mean |activation| over the plane is at most this share of the twin's


def neuron_map_claims(pair: Pair) -> list[Claim]:
    """What the network graph's neuron maps show (presets.NEURON_MAPS_LESSON): first hidden layer, every unit, both runs."""
    mapped = with_maps(pair.snapshot, 24, max(pair.config.hidden))  # every unit, as the graph draws the first ones
    first = [np.asarray(mapped.neuron_maps[run][1], np.float64).reshape(len(mapped.neuron_maps[run][1]), -1) for run in RUN_NAMES]
    first = [m * mapped.neuron_scale for m in first]  # (U, G * G) activations
    on = [float(np.median((m > 1e-6).mean(axis=1))) for m in first]  # share of the plane where a neuron is on
    strength = [float(np.abs(m).mean()) for m in first]
    topic = "neuron maps"
    return [
        _claim(topic, f"in hidden layer 1 the dropout run's neurons are on over <= {MAP_ON_SHARE:g} x the twin's share of the plane",
               on[0] <= MAP_ON_SHARE * on[1], on_dropout=on[0], on_twin=on[1]),
        _claim(topic, f"and their mean |activation| is <= {MAP_STRENGTH:g} x the twin's: fainter maps on the shared scale",
               strength[0] <= MAP_STRENGTH * strength[1], strength_dropout=strength[0], strength_twin=strength[1]),
    ]  # fmt: skip


PROBES: tuple[Callable[[Pair], list[Claim]], ...] = (overfitting_claims, p_sweep_claims, size_claims, mc_claims, scaling_claims,
                                                     inside_claims, subnet_claims, neuron_map_claims)  # fmt: skip
OTHER_PRESETS: dict[str, Callable[[Pair], list[Claim]]] = {
    "too much dropout": too_much_dropout_claims,
    "TensorFlow Playground classic": playground_claims,
    "handwritten digits": digits_claims,
}


def all_claims(seed: int) -> list[Claim]:
    """Every claim on one seed: the default preset's lesson and every experiment on it, then the other presets' lessons."""
    pair = train(DEFAULT_PRESET, seed)
    claims = [c for check in PROBES for c in check(pair)]
    return claims + [c for name, check in OTHER_PRESETS.items() for c in check(train(name, seed))]
