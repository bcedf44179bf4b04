"""Prints how long each experiment of the Experiments view takes at the default preset, its longest silence between progress calls, and what a session keeps of it.

Target (issue): each under 20 s on a 2-core machine, showing progress while it runs (issue 15: at least once a
second). "kept" is the pickled size of what the page's session holds once the experiment is done (registry.Shown: its
figures and CSV, made in the job's process); "raw" that of the experiment's result, which the session held before.
Writes its section of bench/RESULTS.md. Asserts nothing.
Usage: OPENBLAS_NUM_THREADS=1 python bench/experiments.py [--preset NAME]
"""

import argparse
import os
import pickle
import sys
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section  # bench/results.py, beside this script

from dropviz.core.engine import Trainer
from dropviz.core.presets import DEFAULT_PRESET, PRESETS
from dropviz.experiments.registry import EXPERIMENTS, Inputs, Shown
from dropviz.figures.boundary import BOUNDARY_GRID

HEADING = "## Experiments (bench/experiments.py)"


def _megabytes(value) -> float:
    return len(pickle.dumps(value)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS))
    args = parser.parse_args()
    config = PRESETS[args.preset].config
    trainer = Trainer(config)
    while trainer.epoch < min(100, config.epochs):  # a trained pair for the probes, as after a short lesson
        trainer.train(trainer.steps_per_epoch)
    inputs = Inputs(config, trainer.snapshot(BOUNDARY_GRID), trainer.data, passes=100)
    lines = [
        f"preset {args.preset!r}, pair trained {trainer.epoch} epochs, 100 Monte Carlo passes; load average {os.getloadavg()[0]:.2f}",
        "",
        f"{'experiment':<22} {'seconds':>8} {'longest gap between progress calls':>36} {'kept MB':>8} {'raw MB':>8}  target < 20 s",
    ]
    print(__doc__.splitlines()[0])
    print("\n".join(lines))
    for name, experiment in EXPERIMENTS.items():
        calls: list[float] = []
        start = time.perf_counter()
        result = experiment.run(inputs, lambda fraction, calls=calls: calls.append(time.perf_counter()) or True)
        took = time.perf_counter() - start
        gap = max(b - a for a, b in pairwise([start, *calls, time.perf_counter()]))
        kept, raw = _megabytes(Shown.of(experiment, result)), _megabytes(result)
        lines.append(f"{name:<22} {took:8.1f} {gap:36.2f} {kept:8.2f} {raw:8.2f}  {'met' if took < 20 else 'NOT met'}")
        print(lines[-1])
    command = f"OPENBLAS_NUM_THREADS=1 python bench/experiments.py --preset {args.preset!r}"
    write_section(HEADING, f"{HEADING}\n\n`{command}` (2 cores, shared machine):\n\n```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
