"""The experiments' registry: each experiment runs on the data it applies to and says plainly why it does not apply to the rest."""

import dataclasses

import numpy as np
import pytest

from dropviz.core.config import RunConfig, read_points
from dropviz.core.engine import Trainer
from dropviz.core.presets import PRESETS
from dropviz.experiments.registry import EXPERIMENTS, Inputs, shown
from dropviz.figures.boundary import BOUNDARY_GRID


def test_experiments_that_map_the_plane_refuse_digits_and_more_than_two_classes_and_the_others_run_on_both():
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{rng.normal(c - 1, 0.4):.3f},{rng.normal(c % 2, 0.4):.3f},{c}" for c in range(3) for _ in range(30))
    three = RunConfig(
        dataset="own", points=read_points(f"x1,x2,label\n{rows}".encode()), n_train=50, n_val=40, hidden=(8,), p=(0.5,), epochs=3
    )
    digits = dataclasses.replace(PRESETS["handwritten digits"].config, hidden=(8,), p=(0.5,), epochs=3)
    for config in (three, digits):
        trainer = Trainer(config)
        trainer.run()
        inputs = Inputs(config, trainer.snapshot(BOUNDARY_GRID), trainer.data, passes=3)
        for name, experiment in EXPERIMENTS.items():
            why = experiment.refuses(config)
            if name in ("Monte Carlo dropout", "scaling lesson", "sampled subnetworks"):
                assert why is not None and "P(class 1) over the plane" in why
                with pytest.raises(ValueError, match="does not apply here"):
                    shown(name, inputs, lambda fraction: True)
            else:
                assert why is None and shown(name, inputs, lambda fraction: True).figures
    assert all(experiment.refuses(RunConfig()) is None for experiment in EXPERIMENTS.values())
