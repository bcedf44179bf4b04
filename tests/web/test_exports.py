"""Downloads and uploads: curves CSV, setup JSON through the gate, the trained network as a plain torch.nn model."""

import csv
import dataclasses
import io
import json

import numpy as np
import pytest
import torch
from torch import nn

from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer
from dropviz.core.model import export_network
from dropviz.core.presets import PRESETS
from dropviz.figures.boundary import BOUNDARY_GRID
from dropviz.web.exports import MAX_SETUP_BYTES, curves_csv, read_setup, setup_json

CONFIG = RunConfig(n_train=40, hidden=(7, 5), p=(0.5, 0.2), p_input=0.1, activation="tanh", batch_size=8, epochs=4)


def test_curves_csv_has_every_curve_of_both_runs_per_epoch():
    history = Trainer(CONFIG).run()
    rows = list(csv.DictReader(io.StringIO(curves_csv(history))))
    assert len(rows) == 4 and rows[-1]["epoch"] == "4"
    assert float(rows[2]["twin_val_loss"]) == pytest.approx(history.runs["twin"].val_loss[2], rel=1e-5)
    assert float(rows[0]["dropout_optimized_loss"]) == pytest.approx(history.runs["dropout"].optimized_loss[0], rel=1e-5)
    assert rows[0]["dropout_status"] == "ok"
    assert {row["classes"] for row in rows} == {"2"}
    rows = list(csv.DictReader(io.StringIO(curves_csv(dataclasses.replace(history, classes=10)))))
    assert rows[-1]["classes"] == "10"


def test_a_diverged_run_leaves_empty_cells():
    trainer = Trainer(CONFIG)
    trainer.step()
    trainer.net.W[0][0, 0, 0] = np.nan
    rows = list(csv.DictReader(io.StringIO(curves_csv(trainer.run()))))
    assert rows[0]["dropout_val_loss"] == "" and rows[0]["twin_val_loss"] != ""
    assert rows[0]["dropout_status"] == "diverged at epoch 1"


def test_setup_round_trips_through_the_gate():
    text = setup_json(CONFIG, "overfitting demo")
    assert json.loads(text)["preset"] == "overfitting demo"
    assert read_setup(text.encode(), base=RunConfig()) == (CONFIG, [])


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"x" * (MAX_SETUP_BYTES + 1), "more than"),
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"config": 3}', "expected a JSON object"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b'{"config":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001, "nested too deeply"),
    ],
)
def test_unusable_setup_files_are_refused_with_a_reason(data, reason):
    config, warnings = read_setup(data, base=RunConfig())
    assert config is None and reason in warnings[0]


def test_hostile_values_in_a_setup_file_are_named():
    data = json.dumps({"config": {"lr": "NaN", "hidden": [1000], "p": 1, "evil": "<script>"}}).encode()
    config, warnings = read_setup(data, base=RunConfig())
    assert config.lr == RunConfig().lr and config.hidden == (256,) and config.p == (0.95,)
    assert {w.split(":")[0] for w in warnings} == {"lr", "hidden", "p", "evil"}


def test_a_setup_with_huge_lists_is_refused_setting_by_setting_with_one_warning_each():
    ones = ",".join(["1"] * 10_000)  # three lists as long as MAX_SETUP_BYTES allows
    data = f'{{"config": {{"hidden": [{ones}], "p": [{ones}], "lr": [{ones}], "seed": 3}}}}'.encode()
    assert len(data) < MAX_SETUP_BYTES
    config, warnings = read_setup(data, base=RunConfig())
    assert config == RunConfig(seed=3)
    assert sorted(w.split(":")[0] for w in warnings) == ["hidden", "lr", "p"]
    assert all(len(w) < 200 for w in warnings)


def test_exported_network_loads_into_plain_torch_and_reproduces_the_app():
    trainer = Trainer(CONFIG)
    for _ in range(10):
        trainer.step()
    layers = trainer.snapshot(BOUNDARY_GRID).params["dropout"]
    blob = export_network([lp.weight for lp in layers], [lp.bias for lp in layers], "tanh", CONFIG.p, CONFIG.p_input)
    saved = torch.load(io.BytesIO(blob), weights_only=True)
    # Built by hand from torch.nn, as a user would from the file's "architecture".
    plain = nn.Sequential(
        nn.Dropout(0.1), nn.Linear(2, 7), nn.Tanh(), nn.Dropout(0.5), nn.Linear(7, 5), nn.Tanh(), nn.Dropout(0.2), nn.Linear(5, 2)
    )
    plain.load_state_dict(saved["state_dict"])
    plain.eval()
    assert saved["architecture"] == str(plain) and saved["sizes"] == [2, 7, 5, 2]
    x = trainer.data.x_val
    with torch.no_grad():
        predicted = plain(torch.tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(predicted, trainer.net.logits(x)[0], atol=1e-5)
    assert (predicted.argmax(1) == trainer.net.logits(x)[0].argmax(1)).all()


def test_an_exported_digits_network_loads_into_its_sequential_with_ten_outputs():
    config = dataclasses.replace(PRESETS["handwritten digits"].config, hidden=(12,), p=(0.5,))
    trainer = Trainer(config)
    trainer.train(5)
    layers = trainer.snapshot(BOUNDARY_GRID).params["dropout"]
    blob = export_network([lp.weight for lp in layers], [lp.bias for lp in layers], "relu", config.p, config.p_input)
    saved = torch.load(io.BytesIO(blob), weights_only=True)
    plain = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 12), nn.ReLU(), nn.Dropout(0.5), nn.Linear(12, 10))
    plain.load_state_dict(saved["state_dict"])  # strict: every shape must match
    plain.eval()
    assert saved["sizes"] == [64, 12, 10]
    with torch.no_grad():
        predicted = plain(torch.tensor(trainer.data.x_val, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(predicted, trainer.net.logits(trainer.data.x_val)[0], atol=1e-5)
