"""Measures how far the PyTorch script's final figures lie from dropviz's own run of the same setup, next to the seed-to-seed spread.

For each seed: dropviz's Trainer on the default preset with that seed, and the script dropviz.core.script writes for the
same setup (the same points; torch's own initial weights, batches and masks), run as `python train.py`. Prints the dropout
network's final validation loss and accuracy of both per seed, their means, standard deviations and the paired
differences, the figures tests/core/test_script.py's tolerances are chosen from, and replaces the "## PyTorch script"
section of bench/RESULTS.md with them. Also runs one data set with several torch seeds (--seed), the spread of the
script alone.
Usage: OPENBLAS_NUM_THREADS=1 python bench/pytorch_script.py [--seeds 10]
"""

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from results import write_section  # bench/results.py, beside this script

from dropviz.core.data import make_dataset
from dropviz.core.engine import Trainer
from dropviz.core.presets import DEFAULT_PRESET, PRESETS
from dropviz.core.script import pytorch_script

HEADING = "## PyTorch script (issue 19)"
FIGURES = ("val_loss", "val_acc")


def run_script(config, folder: Path, torch_seed: int | None = None) -> dict[str, float]:
    """Writes the script for config into folder and runs it in a fresh interpreter; its final JSON line."""
    data = make_dataset(config.dataset, config.n_train, config.n_val, config.noise, config.label_noise, config.seed)
    path = folder / f"train_{config.seed}_{torch_seed}.py"
    path.write_text(pytorch_script(config, data, filename=path.name))
    extra = [] if torch_seed is None else ["--seed", str(torch_seed)]
    done = subprocess.run([sys.executable, "-I", str(path), *extra], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_dropviz(config) -> dict[str, float]:
    run = Trainer(config).run().runs["dropout"]
    return {"val_loss": float(run.val_loss[-1]), "val_acc": float(run.val_acc[-1])}


def _stats(values: list[float]) -> str:
    return f"mean {np.mean(values):.4f}, sd {np.std(values, ddof=1):.4f}"


def measure(seeds: int, folder: Path) -> list[str]:
    """The section's lines: per seed, then the summary of both setups' spreads and of the paired differences."""
    base = PRESETS[DEFAULT_PRESET].config
    configs = [dataclasses.replace(base, seed=seed) for seed in range(seeds)]
    with ThreadPoolExecutor(2) as pool:  # the scripts in two other processes while this one trains dropviz's runs
        scripts = pool.map(lambda c: run_script(c, folder), configs)
        own = [run_dropviz(c) for c in configs]
        scripts = list(scripts)
        alone = list(pool.map(lambda s: run_script(base, folder, torch_seed=s), range(seeds)))
    lines = [
        f"- seed {c.seed}: " + ", ".join(f"{f} dropviz {o[f]:.4f} script {s[f]:.4f}" for f in FIGURES)
        for c, o, s in zip(configs, own, scripts)
    ]
    for f in FIGURES:
        diff = [s[f] - o[f] for o, s in zip(own, scripts)]
        lines.append(
            f"- **{f}**: dropviz {_stats([o[f] for o in own])}; script {_stats([s[f] for s in scripts])}; "
            f"script - dropviz {_stats(diff)}; script alone on seed 0's data, torch seeds 0 to {seeds - 1}: "
            f"{_stats([a[f] for a in alone])}"
        )
    # The validation loss's tail is long (one seed's data make both climb far): its ratio is the steadier figure.
    ratio = [float(np.log(s["val_loss"] / o["val_loss"])) for o, s in zip(own, scripts)]
    lines.append(f"- **ln(script val_loss / dropviz val_loss)**: {_stats(ratio)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        lines = measure(args.seeds, Path(folder))
    took = time.perf_counter() - start
    intro = (
        f"The default preset ({DEFAULT_PRESET!r}) with seed = 0 to {args.seeds - 1}: the dropout network's final figures, "
        f"dropviz's Trainer against `python train.py` from `python -m dropviz script`; {took:.0f} s in all. "
        "sd is the standard deviation over seeds; the tolerances of tests/core/test_script.py come from it."
    )
    section = "\n".join([HEADING, "", intro, "", *lines]) + "\n"
    print(section)
    write_section(HEADING, section)


if __name__ == "__main__":
    main()
