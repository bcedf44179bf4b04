"""Prints how long each experiment of the Experiments view takes at the default preset, its longest silence between progress calls, and what a session keeps of it.

Target (issue): each under 20 s on a 2-core machine, showing progress while it runs (issue 15: at least once a
second). "kept" is the pickled size of what the page's session holds once the experiment is done (registry.Shown: its
figures and CSV, made in the job's process); "raw" that of the experiment's result, which the session held before.
--largest runs the probes instead at the largest setup validate() allows (6 x 180 units, 2,000 training and 5,000
validation points, 200 passes), on a pair trained a few steps. Writes its section of bench/RESULTS.md. Asserts nothing.
Usage: OPENBLAS_NUM_THREADS=1 python bench/experiments.py [--preset NAME | --largest]
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

from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer
from dropviz.core.presets import DEFAULT_PRESET, PRESETS
from dropviz.experiments.registry import EXPERIMENTS, Inputs, Shown
from dropviz.figures.boundary import BOUNDARY_GRID

HEADING = "## Experiments (bench/experiments.py)"
LARGEST = RunConfig(hidden=(180,) * 6, p=(0.5,) * 6, n_train=2000, n_val=5000, batch_size=2000, epochs=5000)


def _megabytes(value) -> float:
    return len(pickle.dumps(value)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS))
    parser.add_argument("--largest", action="store_true", help="the probes at the largest setup validate() allows")
    args = parser.parse_args()
    config = LARGEST if args.largest else PRESETS[args.preset].config
    trainer = Trainer(config)
    while trainer.epoch < min(100, config.epochs) and not (args.largest and trainer.step_count >= 3):  # a trained pair
        trainer.train(trainer.steps_per_epoch)
    passes = 200 if args.largest else 100
    inputs = Inputs(config, trainer.snapshot(BOUNDARY_GRID), trainer.data, passes=passes)
    setup = "the largest setup (6 x 180, 2000 + 5000 points)" if args.largest else f"preset {args.preset!r}"
    lines = [
        f"{setup}, pair trained {trainer.step_count} steps, {passes} Monte Carlo passes; load average {os.getloadavg()[0]:.2f}",
        "",
        f"{'experiment':<22} {'seconds':>8} {'longest gap between progress calls':>36} {'kept MB':>8} {'raw MB':>8}  target < 20 s",
    ]
    print(__doc__.splitlines()[0])
    print("\n".join(lines))
    for name, experiment in EXPERIMENTS.items():
        if args.largest and experiment.trains:
            continue  # the sweeps choose their own schedules; at this size they are not what the largest setup tests
        calls: list[float] = []
        start = time.perf_counter()
        result = experiment.run(inputs, lambda fraction, calls=calls: calls.append(time.perf_counter()) or True)
        took = time.perf_counter() - start
        gap = max(b - a for a, b in pairwise([start, *calls, time.perf_counter()]))
        kept, raw = _megabytes(Shown.of(experiment, result)), _megabytes(result)
        lines.append(f"{name:<22} {took:8.1f} {gap:36.2f} {kept:8.2f} {raw:8.2f}  {'met' if took < 20 else 'NOT met'}")
        print(lines[-1])
    command = "OPENBLAS_NUM_THREADS=1 python bench/experiments.py " + ("--largest" if args.largest else f"--preset {args.preset!r}")
    heading = f"{HEADING[:-1]} --largest)" if args.largest else HEADING
    write_section(heading, f"{heading}\n\n`{command}` (2 cores, shared machine):\n\n```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
