"""Prints how long each experiment of the Experiments view takes at the default preset, and its longest silence between progress calls.

Target (issue): each under 20 s on a 2-core machine, showing progress while it runs. Asserts nothing.
Usage: OPENBLAS_NUM_THREADS=1 python bench/experiments.py [--preset NAME]
"""

import argparse
import os
import sys
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dropviz.core.engine import Trainer
from dropviz.core.presets import DEFAULT_PRESET, PRESETS
from dropviz.experiments.registry import EXPERIMENTS, Inputs
from dropviz.figures.boundary import BOUNDARY_GRID


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS))
    args = parser.parse_args()
    config = PRESETS[args.preset].config
    trainer = Trainer(config)
    while trainer.epoch < min(100, config.epochs):  # a trained pair for the probes, as after a short lesson
        trainer.train(trainer.steps_per_epoch)
    inputs = Inputs(config, trainer.snapshot(BOUNDARY_GRID), trainer.data, passes=100)
    print(__doc__.splitlines()[0])
    print(f"preset {args.preset!r}, pair trained {trainer.epoch} epochs; load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'experiment':<22} {'seconds':>8} {'longest gap between progress calls':>36}  target < 20 s")
    for name, experiment in EXPERIMENTS.items():
        calls: list[float] = []
        start = time.perf_counter()
        experiment.run(inputs, lambda fraction, calls=calls: calls.append(time.perf_counter()) or True)
        took = time.perf_counter() - start
        stamps = [start, *calls]
        gap = max(b - a for a, b in pairwise(stamps))
        print(f"{name:<22} {took:8.1f} {gap:36.2f}  {'met' if took < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
