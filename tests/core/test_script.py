"""The PyTorch script: lint-clean, torch and the standard library only, the exact points, runs alone, agrees with dropviz."""

import ast
import dataclasses
import json
import runpy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dropviz.core import script
from dropviz.core.config import SHAPES, RunConfig
from dropviz.core.data import Dataset, make_dataset
from dropviz.core.engine import Trainer
from dropviz.core.presets import DEFAULT_PRESET, PRESETS

ALLOWED_IMPORTS = {"argparse", "copy", "json", "pathlib", "numpy", "torch"}
VARIANTS = {
    **{name: preset.config for name, preset in PRESETS.items()},
    "sgd, tanh, input p, uneven p": RunConfig(optimizer="sgd", activation="tanh", p_input=0.2, p=(0.3, 0.0), weight_decay=0.001),
    "dropout off": RunConfig(dropout=False),
    "p not on a slider step": RunConfig(p=(0.123456789, 0.5), p_input=0.0123456789),
}


def _data(config: RunConfig) -> Dataset:
    return make_dataset(config.dataset, config.n_train, config.n_val, config.noise, config.label_noise, config.seed)


def _write(folder: Path, config: RunConfig, data: Dataset | None = None, name: str = "train.py") -> Path:
    """The script (and, when it does not embed the points, its CSV) written into folder, as the CLI writes them."""
    data = data or _data(config)
    path = folder / name
    path.write_text(script.pytorch_script(config, data, filename=name))
    if not script.embeds(data):
        (folder / script.data_file_name(name)).write_text(script.data_csv(data))
    return path


def _run(path: Path, *args: str) -> tuple[list[str], dict]:
    """Runs the script in a fresh, isolated interpreter (no dropviz on its path) from another directory."""
    done = subprocess.run([sys.executable, "-I", str(path), *args], check=False, capture_output=True, text=True, cwd="/", timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    return lines[:-1], json.loads(lines[-1])


def _digits_like(n_train: int, n_val: int, features: int = 64, classes: int = 10) -> Dataset:
    """A stand-in for a data set with many inputs and classes: the script must not assume 2 of each."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 17, (n_train + n_val, features)).astype(np.float64)
    y = rng.integers(0, classes, n_train + n_val)
    flipped = np.zeros(n_train + n_val, bool)
    return Dataset("digits", x[:n_train], y[:n_train], x[n_train:], y[n_train:], flipped[:n_train], flipped[n_train:], classes=classes)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_script_passes_ruff_as_it_is_and_imports_only_torch_numpy_and_the_standard_library(tmp_path, name):
    path = _write(tmp_path, VARIANTS[name])
    for command in (["check", "--isolated"], ["format", "--isolated", "--check"]):  # ruff's defaults, wherever it is saved
        done = subprocess.run([sys.executable, "-m", "ruff", *command, str(path)], check=False, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    tree = ast.parse(path.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "torch" in imported and imported <= ALLOWED_IMPORTS


@pytest.mark.parametrize("name", VARIANTS)
def test_the_model_and_optimizer_are_the_setups(tmp_path, name):
    config = VARIANTS[name]
    namespace = runpy.run_path(str(_write(tmp_path, config)))  # not run as __main__: defines, does not train
    model = namespace["make_model"]()
    activation = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[config.activation]
    expected: list[tuple] = [("Dropout", config.p_input_effective)] if config.p_input_effective else []
    inputs, classes = SHAPES.get(config.dataset, (2, 2))  # the digits: 64 pixels, ten classes
    for fan_in, fan_out, p in zip((inputs, *config.hidden), config.hidden, config.p_effective):
        expected += [("Linear", fan_in, fan_out), (activation,)] + ([("Dropout", p)] if p else [])
    expected.append(("Linear", config.hidden[-1], classes))
    seen = [
        ("Dropout", layer.p)
        if isinstance(layer, nn.Dropout)
        else ("Linear", layer.in_features, layer.out_features)
        if isinstance(layer, nn.Linear)
        else (type(layer).__name__,)
        for layer in model
    ]
    assert seen == expected
    optimizer = namespace["make_optimizer"](model)
    group = optimizer.param_groups[0]
    assert type(optimizer).__name__ == {"adam": "Adam", "sgd": "SGD"}[config.optimizer]
    assert (group["lr"], group["weight_decay"]) == (config.lr, config.weight_decay)
    assert config.optimizer != "sgd" or group["momentum"] == config.momentum
    settings = (namespace["EPOCHS"], namespace["BATCH_SIZE"], namespace["SEED"])
    assert settings == (config.epochs, config.batch_size, config.seed)


@pytest.mark.parametrize("embedded", [True, False])
def test_the_points_are_the_setups_exactly_as_float32(tmp_path, monkeypatch, embedded):
    config = RunConfig(dataset="spiral", n_train=37, n_val=81, label_noise=0.3, seed=5)
    if not embedded:
        monkeypatch.setattr(script, "MAX_EMBEDDED_VALUES", 10)
    path = _write(tmp_path, config)
    assert (tmp_path / "train_data.csv").exists() != embedded
    x_train, y_train, x_val, y_val = runpy.run_path(str(path))["load_data"]()
    data = _data(config)
    for got, want in ((x_train, data.x_train), (x_val, data.x_val)):
        assert got.dtype == torch.float32 and np.array_equal(got.numpy(), want.astype(np.float32))
    for got, want in ((y_train, data.y_train), (y_val, data.y_val)):
        assert got.dtype == torch.int64 and np.array_equal(got.numpy(), want)


def test_the_script_runs_alone_one_line_per_epoch_and_the_twin_changes_nothing_in_the_dropout_run(tmp_path):
    config = RunConfig(hidden=(16, 16), epochs=4, p_input=0.1)
    path = _write(tmp_path, config)
    lines, final = _run(path)
    assert [line.split()[:2] for line in lines] == [["epoch", str(e)] for e in range(1, 5)]
    assert "dropout: train loss" in lines[-1] and "twin" not in lines[-1]
    assert set(final) == {"val_loss", "val_acc", "train_loss", "train_acc"} and 0 <= final["val_acc"] <= 1
    twin_lines, twin_final = _run(path, "--twin")
    assert all("| twin: train loss" in line and "val loss" in line.split("twin:")[1] for line in twin_lines)
    assert twin_final == final  # the twin draws no random numbers, and the JSON line is the dropout network's
    assert twin_lines[-1].split("| twin")[0] == lines[-1] + "  "
    assert _run(path, "--seed", "1")[1] != final


def test_many_inputs_and_classes_go_to_a_csv_beside_the_script_and_run(tmp_path):
    """The digits-sized case: 64 inputs, 10 classes, too many values to embed."""
    data = _digits_like(300, 100)
    assert not script.embeds(data)
    config = RunConfig(hidden=(32,), p=(0.5,), epochs=2, n_train=300, n_val=100)
    path = _write(tmp_path, config, data, name="digits.py")
    assert "X_TRAIN" not in path.read_text() and (tmp_path / "digits_data.csv").exists()
    namespace = runpy.run_path(str(path))
    model = namespace["make_model"]()
    assert (model[0].in_features, model[-1].out_features) == (64, 10)
    lines, final = _run(path, "--twin")
    assert len(lines) == 2 and 0 <= final["val_acc"] <= 1


def test_embed_true_puts_even_many_points_inside_the_one_file(tmp_path):
    data = _digits_like(300, 100)
    path = tmp_path / "one.py"
    path.write_text(script.pytorch_script(RunConfig(hidden=(8,), p=(0.5,), epochs=1, n_train=300, n_val=100), data, "one.py", embed=True))
    x_train, y_train, _, y_val = runpy.run_path(str(path))["load_data"]()
    assert np.array_equal(x_train.numpy(), data.x_train.astype(np.float32)) and len(y_train) + len(y_val) == 400
    assert list(tmp_path.iterdir()) == [path]


def test_a_small_data_set_with_three_classes_stays_inside_the_script(tmp_path):
    data = _digits_like(40, 20, features=3, classes=3)
    assert script.embeds(data)
    path = _write(tmp_path, RunConfig(hidden=(8,), p=(0.2,), epochs=1, n_train=40, n_val=20, batch_size=8), data)
    model = runpy.run_path(str(path))["make_model"]()
    assert (model[0].in_features, model[-1].out_features) == (3, 3)
    assert len(_run(path)[0]) == 1


# Measured by bench/pytorch_script.py (bench/RESULTS.md, "PyTorch script"): over seeds 0 to 9 of the default preset, the
# script's final validation accuracy minus dropviz's has a standard deviation of 0.025 from seed to seed, and the log
# of the ratio of their final validation losses one of 0.13 (the loss's tail is long: the ratio is the steadier figure).
SEEDS = range(5)
MEAN_ACCURACY_GAP = 0.04  # about 3.6 standard errors of a 5-seed mean of that 0.025
SEED_ACCURACY_GAP = 0.1  # about 4 of its standard deviations, for any one seed
MEAN_LOG_LOSS_RATIO = 0.2  # about 3.5 standard errors of a 5-seed mean of that 0.13


def test_the_default_presets_script_agrees_with_dropviz_over_seeds(tmp_path):
    """The same setups, the same points; only the random numbers differ (torch's in the script)."""
    base = PRESETS[DEFAULT_PRESET].config
    configs = [dataclasses.replace(base, seed=seed) for seed in SEEDS]
    paths = [_write(tmp_path, config, name=f"train_{config.seed}.py") for config in configs]
    own = [Trainer(config).run().runs["dropout"] for config in configs]
    with ThreadPoolExecutor(2) as pool:  # then two scripts at a time, one per core, each in its own process
        scripts = list(pool.map(lambda path: _run(path)[1], paths))
    accuracy_gaps = [s["val_acc"] - float(o.val_acc[-1]) for s, o in zip(scripts, own)]
    log_ratios = [np.log(s["val_loss"] / float(o.val_loss[-1])) for s, o in zip(scripts, own)]
    assert abs(np.mean(accuracy_gaps)) <= MEAN_ACCURACY_GAP, accuracy_gaps
    assert max(map(abs, accuracy_gaps)) <= SEED_ACCURACY_GAP, accuracy_gaps
    assert abs(np.mean(log_ratios)) <= MEAN_LOG_LOSS_RATIO, log_ratios
