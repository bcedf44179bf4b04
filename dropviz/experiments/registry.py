"""EXPERIMENTS: the registry of the Experiments view. Each entry wires one experiment to its figures; a new one is one entry.

The computing lives in sweeps.py (models trained for the experiment) and probes.py (questions put to the
pair already trained on the page); the drawing in sweep_figures.py and probe_figures.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.config import RunConfig, io_sizes
from ..core.data import Dataset
from ..core.records import Snapshot
from . import probe_figures, probes, sweep_figures, sweeps

Progress = Callable[[float], bool]  # progress(fraction) -> False once cancelled


@dataclass(frozen=True)
class Inputs:
    """What an experiment starts from: the page's setup and, for probes, its trained pair."""

    config: RunConfig
    snapshot: Snapshot
    data: Dataset
    passes: int = 100  # Monte Carlo passes (the view's slider)


@dataclass(frozen=True)
class Experiment:
    title: str
    text: str  # a few sentences on what to look for, each true on the default preset (claims.py)
    trains: bool  # True: trains its own models (slow); False: probes the page's trained pair
    run: Callable[[Inputs, Progress], Any]  # -> a result with to_csv()
    figures: Callable[[Any], list]  # result -> Plotly figures
    refuses: Callable[[RunConfig], str | None] = lambda config: None  # why it does not apply to a setup's data, or None


def plane_of_two_classes(config: RunConfig) -> str | None:
    """Why an experiment that maps P(class 1) over the plane does not apply to the setup's data, or None when it does."""
    inputs, classes = io_sizes(config)
    if inputs != 2:
        return f"it maps P(class 1) over the plane, and the {config.dataset} are {inputs} pixels, not points in the plane."
    if classes > 2:
        return f"it maps P(class 1) over the plane, and your points have {classes} classes, not two."
    return None


def _rng(inputs: Inputs) -> np.random.Generator:
    return np.random.default_rng([inputs.config.seed, 7])  # its own stream: the page's run is not disturbed


def _probe(compute: Callable[[Progress], Any], progress: Progress) -> Any:
    """compute(progress): a probe calls progress after each pass, draw or network (probes.Progress); 0 first."""
    progress(0.0)
    return compute(progress)


@dataclass(frozen=True)
class Shown:
    """What a session keeps of a finished experiment: its figures as Plotly dicts and its CSV text, not the raw result
    (a probe's activations would be tens of megabytes)."""

    figures: tuple[dict, ...]
    csv: str

    @classmethod
    def of(cls, experiment: Experiment, result) -> Shown:
        """What the page shows of the experiment's result: its figures (st.plotly_chart takes the dicts) and CSV."""
        return cls(tuple(figure.to_dict() for figure in experiment.figures(result)), result.to_csv())


def shown(name: str, inputs: Inputs, progress: Progress) -> Shown:
    """Runs experiment `name` and keeps what the page shows of it (Shown.of); ValueError when it does not apply."""
    experiment = EXPERIMENTS[name]
    if (why := experiment.refuses(inputs.config)) is not None:
        raise ValueError(f"{experiment.title} does not apply here: {why}")
    return Shown.of(experiment, experiment.run(inputs, progress))


EXPERIMENTS: dict[str, Experiment] = {
    "p-sweep": Experiment(
        "p-sweep (the paper's Figure 9)",
        sweeps.P_SWEEP_TEXT,
        True,
        lambda i, progress: sweeps.p_sweep(i.config, progress),
        lambda r: [sweep_figures.p_sweep_figure(r)],
    ),
    "training-set size": Experiment(
        "Training-set size (the paper's Figure 10)",
        sweeps.SIZE_TEXT,
        True,
        lambda i, progress: sweeps.size_sweep(i.config, progress),
        lambda r: [sweep_figures.size_figure(r)],
    ),
    "Monte Carlo dropout": Experiment(
        "Monte Carlo dropout (Gal and Ghahramani 2016)",
        probes.MC_TEXT,
        False,
        lambda i, progress: _probe(
            lambda report: probes.mc_dropout(
                i.snapshot, i.data, i.config.activation, i.config.p, i.config.p_input, i.passes, _rng(i), progress=report
            ),
            progress,
        ),
        lambda r: [probe_figures.mc_figure(r), probe_figures.mc_convergence_figure(r)],
        plane_of_two_classes,
    ),
    "scaling lesson": Experiment(
        "The scaling lesson: inverted dropout, the paper's weight scaling, and forgetting to scale",
        probes.SCALING_TEXT,
        False,
        lambda i, progress: _probe(
            lambda report: probes.scaling_lesson(i.snapshot, i.data, i.config.activation, i.config.p, i.config.p_input, report),
            progress,
        ),
        lambda r: [probe_figures.scaling_figure(r)],
        plane_of_two_classes,
    ),
    "inside the network": Experiment(
        "Inside the network: dead units, correlations, robustness",
        probes.INSIDE_TEXT,
        False,
        lambda i, progress: _probe(
            lambda report: probes.inside(
                i.snapshot, i.data, i.config.activation, probes.default_k_values(i.snapshot.sizes), 20, _rng(i), report
            ),
            progress,
        ),
        lambda r: [probe_figures.inside_figure(r), probe_figures.correlation_figure(r), probe_figures.robustness_figure(r)],
    ),
    "sampled subnetworks": Experiment(
        "Sampled subnetworks: the thinned networks dropout trains",
        probes.SUBNET_TEXT,
        False,
        lambda i, progress: _probe(
            lambda report: probes.subnetworks(
                i.snapshot, i.data, i.config.activation, i.config.p, i.config.p_input, 6, _rng(i), progress=report
            ),
            progress,
        ),
        lambda r: [probe_figures.subnet_figure(r)],
        plane_of_two_classes,
    ),
}
