"""Prints what one live frame costs the worker that makes it, with the network's neuron maps and without, and its size.

A frame is a snapshot of the run (Trainer.snapshot), the neuron maps (neurons.with_maps) and the three figures encoded
as the page's JSON (frames.make_frame). Default preset after 100 epochs (--epochs: past 300 the curves are cut into
buckets); medians of alternating repetitions. Asserts nothing.
Usage: OPENBLAS_NUM_THREADS=1 python bench/frames.py [--repeats 200] [--epochs 100]
"""

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dropviz.core.engine import Trainer
from dropviz.core.presets import DEFAULT_PRESET, PRESETS
from dropviz.figures.boundary import BOUNDARY_GRID
from dropviz.web import frames


def _frame(trainer: Trainer) -> bytes:
    return frames.make_frame(trainer.snapshot(BOUNDARY_GRID), trainer.data, trainer.config.epochs, True, 0, False, "/f").view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=100, help="epochs trained before the frames")
    args = parser.parse_args()
    trainer = Trainer(dataclasses.replace(PRESETS[DEFAULT_PRESET].config, epochs=max(args.epochs + 1, 300)))
    while trainer.epoch < args.epochs:
        trainer.train(trainer.steps_per_epoch)
    times: dict[str, list[float]] = {"with maps": [], "without maps": []}
    sizes = {}
    for _ in range(args.repeats):
        for name, spent in times.items():
            trainer.step()  # a new step: nothing cached from the last frame
            with mock.patch.object(frames, "with_maps", (lambda s, g, u: s) if name == "without maps" else frames.with_maps):
                began = time.perf_counter()
                view = _frame(trainer)
                spent.append(time.perf_counter() - began)
            sizes[name] = len(view)
    print(__doc__.splitlines()[0])
    for name, values in times.items():
        print(
            f"  {name:<13} {1000 * statistics.median(values):6.2f} ms a frame (min {1000 * min(values):.2f}), {sizes[name] / 1024:5.1f} KiB"
        )


if __name__ == "__main__":
    main()
