"""Tests for the command line (dropviz/cli.py): in-process through main(argv), one real subprocess.

The trace is checked against a forward pass written here in plain NumPy, independent of fastnet.
"""

import dataclasses
import io
import json
import os
import re
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dropviz.cli import ProgressBar, main, summary_table
from dropviz.core.config import ACTIVATIONS, FILE_ONLY, RunConfig, to_dict
from dropviz.core.data import make_dataset
from dropviz.core.presets import DEFAULT_PRESET, PRESETS
from dropviz.core.script import pytorch_script

ROOT = Path(__file__).resolve().parents[1]
CURVES = ("train_loss", "val_loss", "train_acc", "val_acc", "optimized_loss")
SMALL = ["--hidden", "8,8", "--n-train", "40", "--n-val", "30", "--epochs", "3"]  # fast runs


def small(*argv) -> list[str]:
    """SMALL's options that argv does not give (the CLI refuses an option given twice), then argv."""
    given = {str(a) for a in argv if str(a).startswith("--")}
    pairs = zip(SMALL[::2], SMALL[1::2])
    return [part for option, value in pairs if option not in given for part in (option, value)] + [str(a) for a in argv]


def cli(capsys, *argv):
    """main(argv) in-process -> (exit status, stdout, stderr); a traceback is never acceptable."""
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return status, captured.out, captured.err


def strict_json(path: Path) -> dict:
    def refuse(name):
        raise ValueError(f"{name} is not strict JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def run_json(capsys, tmp_path, *argv):
    out = tmp_path / "run.json"
    status, stdout, stderr = cli(capsys, "run", *argv, "--out", out)
    assert status == 0, stderr
    return strict_json(out), stdout, stderr


# --- run --------------------------------------------------------------------------------------------
def test_every_option_reaches_the_config(capsys, tmp_path):
    expected = {
        "dataset": "moons",
        "n_train": 60,
        "n_val": 40,
        "noise": 0.05,
        "label_noise": 0.1,
        "hidden": [6, 5],
        "activation": "sigmoid",
        "p": [0.3, 0.1],
        "p_input": 0.2,
        "dropout": False,
        "optimizer": "sgd",
        "lr": 0.05,
        "momentum": 0.5,
        "batch_size": 20,
        "weight_decay": 0.001,
        "epochs": 3,
        "seed": 7,
    }
    assert {*expected, *FILE_ONLY} == {f.name for f in dataclasses.fields(RunConfig)}  # a new field needs a row here
    base = to_dict(PRESETS[DEFAULT_PRESET].config)
    assert all(expected[name] != base[name] for name in expected)  # each option visibly changes something
    text = {"hidden": "6,5", "p": "0.3,0.1", "dropout": "off"}
    argv = []
    for name, value in expected.items():
        argv += ["--" + name.replace("_", "-"), text.get(name, value)]
    document, _, stderr = run_json(capsys, tmp_path, *argv)
    assert stderr == ""
    assert document["config"] == expected


def test_preset_then_options(capsys, tmp_path):
    document, _, _ = run_json(capsys, tmp_path, "--preset", "too much dropout", "--epochs", "2")
    assert document["config"] == to_dict(dataclasses.replace(PRESETS["too much dropout"].config, epochs=2))
    document, _, _ = run_json(capsys, tmp_path, "--preset", "tensorflow-playground-classic", "--epochs", "1")
    assert document["config"]["activation"] == "tanh"


def test_json_layout_and_summary(capsys, tmp_path):
    document, stdout, _ = run_json(capsys, tmp_path, *SMALL)
    assert list(document) == ["config", "runs"]
    assert list(document["runs"]) == ["dropout", "twin"]
    for run in document["runs"].values():
        assert list(run) == [*CURVES, "status"]
        assert run["status"] == "ok"
        assert all(len(run[name]) == 3 for name in CURVES)
        assert all(isinstance(v, float) for name in CURVES for v in run[name])
    assert "with dropout" in stdout and "no-dropout twin" in stdout
    rows = {line.split("  ")[0] for line in stdout.splitlines()}
    for label in (
        "final train loss",
        "final val loss",
        "final train accuracy",
        "final val accuracy",
        "gap (val - train loss)",
        "best val epoch",
        "best val loss",
        "status",
    ):
        assert label in rows
    twin = document["runs"]["twin"]
    gap = twin["val_loss"][-1] - twin["train_loss"][-1]
    assert f"{gap:+.4f}" in stdout


def test_p_one_value_or_one_per_layer(capsys, tmp_path):
    document, _, stderr = run_json(capsys, tmp_path, *small("--hidden", "4,4,4", "--p", "0.25"))
    assert document["config"]["p"] == [0.25] * 3 and stderr == ""
    document, _, stderr = run_json(capsys, tmp_path, *small("--hidden", "4,4,4", "--p", "0.1,0.2,0.3"))
    assert document["config"]["p"] == [0.1, 0.2, 0.3] and stderr == ""


def test_diverging_run_is_reported_and_stays_strict_json(capsys, tmp_path):
    # Found by search: 3 x 128 ReLU with SGD at lr 10 and momentum 0.99 overflows in its 2nd epoch (seeds 0-4).
    epochs = 5
    document, stdout, _ = run_json(
        capsys,
        tmp_path,
        "--hidden",
        "128,128,128",
        "--optimizer",
        "sgd",
        "--lr",
        "10",
        "--momentum",
        "0.99",
        "--epochs",
        epochs,
        "--seed",
        "0",
    )
    run = document["runs"]["dropout"]
    found = re.fullmatch(r"diverged at epoch (\d+)", run["status"])
    assert found, run["status"]
    kept = int(found.group(1)) - 1
    assert kept < epochs
    assert all(len(run[name]) == kept for name in CURVES)
    assert run["status"] in stdout
    twin = document["runs"]["twin"]
    assert all(len(twin[name]) == (epochs if twin["status"] == "ok" else int(twin["status"].split()[-1]) - 1) for name in CURVES)


def test_summary_of_a_run_without_epochs():
    from dropviz.core.records import History, RunHistory

    empty = RunHistory(*(np.zeros(0) for _ in CURVES), status="diverged at epoch 1")
    table = summary_table(History(runs={"dropout": empty, "twin": empty}, events=()))
    assert "diverged at epoch 1" in table and "nan" not in table.lower()


# --- bad values ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, setting",
    [
        (["--lr", "nan"], "lr"),
        (["--lr", "inf"], "lr"),
        (["--hidden", "0,abc"], "hidden"),
        (["--hidden", ""], "hidden"),
        (["--dataset", "nope"], "dataset"),
        (["--dropout", "maybe"], "dropout"),
        (["--epochs", "2.5"], "epochs"),
        (["--preset", "nope"], "preset"),
        (["--noise", "x" * 500], "noise"),
        (["--hidden", "2,2,2,2,2,2,2"], "hidden"),  # more layers than MAX_LAYERS: refused before any is parsed
        (["--p", ",".join(["0.5"] * 7)], "p"),
    ],
)
def test_unusable_value_exits_2_with_one_line(capsys, argv, setting):
    status, stdout, stderr = cli(capsys, "run", *small(*argv))
    assert status == 2
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and setting in stderr


@pytest.mark.parametrize(
    "argv, name, value",
    [
        (["--p", "1"], "p", [0.95, 0.95]),
        (["--hidden", "0,4"], "hidden", [1, 4]),
        (["--lr", "-1"], "lr", 1e-6),
        (["--epochs", "0"], "epochs", 1),
        (["--batch-size", "500"], "batch_size", 40),
        (["--p", "0.1,0.2,0.3"], "p", [0.1, 0.1]),
        (["--p", "5,5"], "p", [0.95, 0.95]),  # two values clamped: one warning
    ],
)
def test_out_of_range_value_is_clamped_with_a_warning(capsys, tmp_path, argv, name, value):
    document, _, stderr = run_json(capsys, tmp_path, *small(*(["--epochs", "1"] if "--epochs" not in argv else []), *argv))
    assert document["config"][name] == value
    assert stderr.startswith("dropviz: warning: ") and name in stderr
    assert len(stderr.strip().splitlines()) == 1  # one warning per setting, however many of its values moved


@pytest.mark.parametrize(
    "argv, option",
    [
        (["run", "--lr", "0.1", "--lr", "0.2"], "--lr"),
        (["run", "--hidden", "4", "--epochs", "2", "--hidden", "4"], "--hidden"),  # even the same value twice
        (["run", "--preset", "too much dropout", "--preset", "overfitting demo"], "--preset"),
        (["run", "--out", "a.json", "--out", "b.json"], "--out"),
        (["trace", "--steps", "1", "--steps", "2", "--out", "t.npz"], "--steps"),
    ],
)
def test_an_option_given_twice_is_refused_before_anything_runs(capsys, tmp_path, monkeypatch, argv, option):
    monkeypatch.chdir(tmp_path)
    status, stdout, stderr = cli(capsys, *argv)
    assert status == 2 and stdout == ""
    assert re.search(rf"argument {option}: given twice \(.+, then .+\); give each option once", stderr), stderr
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


@pytest.mark.parametrize("command", [["run"], ["trace", "--batch-size", "20", "--steps", "1"]])
def test_an_out_that_cannot_be_written_stops_the_command_before_training(capsys, command):
    # sysfs refuses to create a file even for root, where a read-only mode on a temporary directory would not.
    assert os.path.isdir("/sys"), "this test needs /sys, where nobody can create a file"
    status, stdout, stderr = cli(capsys, *command, *SMALL, "--out", "/sys/dropviz-out.json")
    assert status == 2
    assert stdout == ""  # no summary, no "wrote": training never started
    assert stderr.startswith("dropviz: error: --out '/sys/dropviz-out.json': cannot write in '/sys' (") and len(stderr.splitlines()) == 1
    assert not os.path.exists("/sys/dropviz-out.json")


def test_an_existing_out_file_is_checked_without_being_changed_then_replaced(capsys, tmp_path):
    out = tmp_path / "run.json"
    out.write_text("earlier run")
    status, _, stderr = cli(capsys, "run", *SMALL, "--out", out, "--dataset", "nope")  # refused after the check
    assert status == 2 and "dataset" in stderr and out.read_text() == "earlier run"
    document, _, _ = run_json(capsys, tmp_path, *SMALL)
    assert document["config"]["n_train"] == 40


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--no-such-option", "1"],
        ["run", "--lr"],
        ["nope"],
        [],
        ["trace", "--steps", "3"],  # --out missing
        ["script", "--hidden", "8"],  # --out missing
        ["trace", "--steps", "0", "--out", "x.npz"],
        ["trace", "--steps", "abc", "--out", "x.npz"],
        ["run", "--out", "/no/such/dir/x.json"],
    ],
)
def test_bad_command_line_exits_2(capsys, argv):
    status, _, _ = cli(capsys, *argv)
    assert status == 2


def test_presets_are_listed_with_their_lessons(capsys):
    status, stdout, _ = cli(capsys, "presets")
    assert status == 0
    for name, preset in PRESETS.items():
        assert name in stdout and preset.lesson in stdout


# --- trace ----------------------------------------------------------------------------------------------
def forward_loss(x, y, masks, weights, biases, p_all, activation):
    """Plain NumPy: inverted dropout on each layer's input, Linear with weight (out, in), softmax cross-entropy mean."""
    f = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}[activation]
    a = x  # (B, 2)
    for l, (w, b) in enumerate(zip(weights, biases)):
        a = np.where(masks[l], a / (1.0 - p_all[l]), 0.0)
        a = a @ w.T + b
        if l < len(weights) - 1:
            a = f(a)
    z = a - a.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(y)), y].mean()


def take_trace(capsys, tmp_path, *argv):
    out = tmp_path / "trace.npz"
    status, _, stderr = cli(capsys, "trace", *argv, "--out", out)
    assert status == 0, stderr
    with np.load(out) as npz:  # no allow_pickle: every array is plain
        return dict(npz)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_trace_loss_recomputed_in_plain_numpy(capsys, tmp_path, activation):
    n_train, batch, steps, hidden = 40, 10, 10, (5, 4)  # 4 steps per epoch: the trace crosses two epoch starts
    t = take_trace(
        capsys,
        tmp_path,
        "--dataset",
        "spiral",
        "--n-train",
        n_train,
        "--n-val",
        20,
        "--batch-size",
        batch,
        "--hidden",
        "5,4",
        "--p",
        "0.3,0.6",
        "--p-input",
        "0.2",
        "--activation",
        activation,
        "--optimizer",
        "sgd",
        "--lr",
        "0.5",
        "--momentum",
        "0.9",
        "--seed",
        3,
        "--steps",
        steps,
    )
    layers = len(hidden)
    sizes = (2, *hidden, 2)
    expected = {"x", "y", "batch_index", "mask_input", "loss", "classes", "activation", "p", "p_input", "p_layers"}
    expected |= {f"mask_{l}" for l in range(1, layers + 1)}
    expected |= {f"{kind}_{l}" for kind in ("weight", "bias") for l in range(1, layers + 2)}
    assert set(t) == expected and t["classes"] == 2
    assert t["x"].shape == (steps, batch, 2) and t["y"].shape == (steps, batch) and t["batch_index"].shape == (steps, batch)
    assert t["mask_input"].shape == (steps, batch, 2) and t["mask_input"].dtype == bool
    for l in range(1, layers + 1):
        assert t[f"mask_{l}"].shape == (steps, batch, sizes[l]) and t[f"mask_{l}"].dtype == bool
    for l in range(1, layers + 2):
        assert t[f"weight_{l}"].shape == (steps, sizes[l], sizes[l - 1])
        assert t[f"bias_{l}"].shape == (steps, sizes[l])
    assert t["loss"].shape == (steps,)
    assert t["activation"].shape == () and str(t["activation"]) == activation
    assert t["p"].shape == (layers,) and list(t["p"]) == [0.3, 0.6] and list(t["p_layers"]) == [0.3, 0.6]
    assert t["p_input"].shape == () and float(t["p_input"]) == 0.2
    # The batches are the training set's rows, each epoch a permutation of it.
    data = make_dataset("spiral", n_train, 20, RunConfig().noise, RunConfig().label_noise, 3)
    np.testing.assert_array_equal(t["x"], data.x_train[t["batch_index"]])
    np.testing.assert_array_equal(t["y"], data.y_train[t["batch_index"]])
    per_epoch = n_train // batch
    assert sorted(t["batch_index"][:per_epoch].ravel()) == list(range(n_train))
    # Masks really drop: both kinds of value occur on every masked layer.
    for name in ["mask_input", *(f"mask_{l}" for l in range(1, layers + 1))]:
        assert t[name].any() and not t[name].all()
    # Parameters change between steps (recorded before each update).
    assert not np.array_equal(t["weight_1"][0], t["weight_1"][1])
    p_all = [float(t["p_input"]), *t["p_layers"]]
    for s in range(steps):
        masks = [t["mask_input"][s]] + [t[f"mask_{l}"][s] for l in range(1, layers + 1)]
        weights = [t[f"weight_{l}"][s] for l in range(1, layers + 2)]
        biases = [t[f"bias_{l}"][s] for l in range(1, layers + 2)]
        loss = forward_loss(t["x"][s], t["y"][s], masks, weights, biases, p_all, activation)
        assert abs(loss - t["loss"][s]) < 1e-10, (s, loss, t["loss"][s])


def test_trace_p_is_a_scalar_when_every_layer_shares_it(capsys, tmp_path):
    t = take_trace(capsys, tmp_path, "--n-train", 20, "--batch-size", 10, "--hidden", "3,3,3", "--p", "0.4", "--steps", 2)
    assert t["p"].shape == () and float(t["p"]) == 0.4
    assert list(t["p_layers"]) == [0.4] * 3


def test_trace_with_dropout_off_keeps_every_unit(capsys, tmp_path):
    t = take_trace(
        capsys, tmp_path, "--n-train", 20, "--batch-size", 10, "--hidden", "4", "--p-input", "0.5", "--dropout", "off", "--steps", 3
    )
    assert t["mask_input"].all() and t["mask_1"].all()
    assert float(t["p"]) == 0.0 and float(t["p_input"]) == 0.0


def test_trace_stops_with_the_run(capsys, tmp_path):
    out = tmp_path / "short.npz"
    status, _, stderr = cli(
        capsys, "trace", "--n-train", 20, "--batch-size", 10, "--hidden", "3", "--epochs", 2, "--steps", 9, "--out", out
    )
    assert status == 0 and "ended after 4 steps" in stderr
    with np.load(out) as t:
        assert t["loss"].shape == (4,)


def test_trace_refuses_partial_batches(capsys, tmp_path):
    out = tmp_path / "refused.npz"
    status, _, stderr = cli(capsys, "trace", "--n-train", 50, "--batch-size", 16, "--steps", 3, "--out", out)
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and "multiple of batch size 16" in stderr
    assert not out.exists()


def test_docstring_recipe_recomputes_the_trace(capsys, tmp_path, monkeypatch):
    """The NumPy recipe in the module docstring runs as written against a real trace."""
    import dropviz.cli as cli_module

    lines = cli_module.__doc__.split("import numpy as np", 1)[1].split("\n\n", 1)[0]
    recipe = "import numpy as np" + lines
    take_trace(
        capsys,
        tmp_path,
        "--n-train",
        20,
        "--batch-size",
        5,
        "--hidden",
        "6,3",
        "--p",
        "0.5,0.2",
        "--p-input",
        "0.1",
        "--activation",
        "sigmoid",
        "--steps",
        6,
    )
    (tmp_path / "recipe.py").write_text(textwrap.dedent("        " + recipe))
    monkeypatch.chdir(tmp_path)
    runpy.run_path("recipe.py")


# --- progress bar -----------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_bar_waits_a_second_limits_its_rate_and_clears():
    clock, stream = FakeClock(), io.StringIO()
    bar = ProgressBar(100, stream, enabled=True, clock=clock)
    for epoch in range(1, 10):  # the first second: nothing
        clock.now = epoch * 0.1
        bar(epoch)
    assert stream.getvalue() == ""
    for epoch in range(10, 101):  # then 0.01 s per epoch for 0.91 s: at most ~10 redraws
        clock.now = 1.0 + (epoch - 10) * 0.01
        bar(epoch)
    draws = stream.getvalue().count("\r")
    assert 1 <= draws <= 11
    assert "epoch 10/100" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r") and stream.getvalue().rsplit("\r", 2)[-2].strip() == ""


def test_progress_bar_is_silent_off_a_terminal():
    stream = io.StringIO()  # isatty() is False
    clock = FakeClock()
    bar = ProgressBar(10, stream, clock=clock)
    clock.now = 5.0
    bar(5)
    bar.close()
    assert stream.getvalue() == ""


# --- script -----------------------------------------------------------------------------------------------
def test_script_writes_the_setup_that_the_preset_and_options_make(capsys, tmp_path):
    out = tmp_path / "train.py"
    status, stdout, stderr = cli(capsys, "script", "--preset", "too much dropout", "--epochs", "7", "--p-input", "0.1", "--out", out)
    assert status == 0, stderr
    config = dataclasses.replace(PRESETS["too much dropout"].config, epochs=7, p_input=0.1)
    data = make_dataset(config.dataset, config.n_train, config.n_val, config.noise, config.label_noise, config.seed)
    origin = 'the preset "too much dropout" and the options given'
    assert out.read_text() == pytorch_script(config, data, filename="train.py", origin=origin)
    assert f"wrote {out}: a PyTorch training script, its 700 points inside it" in stdout
    assert list(tmp_path.iterdir()) == [out]


def test_script_puts_too_many_points_in_a_csv_beside_it_and_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("dropviz.core.script.MAX_EMBEDDED_VALUES", 100)
    out = tmp_path / "big.py"
    status, stdout, stderr = cli(capsys, "script", *SMALL, "--out", out)
    data = tmp_path / "big_data.csv"
    assert status == 0, stderr
    assert f"in {data} beside it (too many to embed)" in stdout
    assert len(data.read_text().splitlines()) == 1 + 40 + 30 and 'DATA_FILE = "big_data.csv"' in out.read_text()


# --- the real entry point -----------------------------------------------------------------------------------
def test_python_m_dropviz_runs(tmp_path):
    out = tmp_path / "sub.json"
    done = subprocess.run(
        [sys.executable, "-m", "dropviz", "run", "--epochs", "2", *SMALL[:-2], "--out", str(out)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no-dropout twin" in done.stdout
    document = strict_json(out)
    assert document["config"]["epochs"] == 2
    assert all(len(run["val_loss"]) == 2 for run in document["runs"].values())


# --- --data: your own points ---------------------------------------------------------------------------
def _points_csv(rows: int = 40, classes: int = 3) -> str:
    return "x1,x2,label\n" + "".join(f"{i * 0.25 - 5},{(i * 7) % 13 - 6},{i % classes}\n" for i in range(rows))


@pytest.mark.parametrize("command", [["run"], ["trace", "--steps", "1", "--out", "t.npz"]])
@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "the file is empty"),
        (b"x1,x2,label\n", "row 1 is a header"),
        (_points_csv().replace("-4.0,", "oops,", 1).encode(), "row 6: x1 is 'oops', not a number"),
        (_points_csv().replace(",2\n", ",2.5\n", 1).encode(), "row 4: label 2.5 is not a whole number"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "row 3: a NUL byte"),
    ],
)
def test_a_bad_data_file_exits_2_with_one_line_naming_the_problem_and_its_row(capsys, tmp_path, monkeypatch, command, content, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "points.csv").write_bytes(content)
    status, stdout, stderr = cli(capsys, *command, *SMALL, "--data", "points.csv")
    assert status == 2 and stdout == ""
    assert stderr.startswith(f"dropviz: error: data file: {problem}") and len(stderr.splitlines()) == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.csv"]  # nothing trained, nothing written


def test_a_data_file_that_cannot_be_read_or_a_data_set_given_with_it_exits_2(capsys, tmp_path):
    status, _, stderr = cli(capsys, "run", *SMALL, "--data", tmp_path / "missing.csv")
    assert status == 2 and "cannot read it" in stderr and len(stderr.splitlines()) == 1
    (tmp_path / "points.csv").write_text(_points_csv())
    status, _, stderr = cli(capsys, "run", *SMALL, "--data", tmp_path / "points.csv", "--dataset", "xor")
    assert status == 2 and "give one" in stderr and len(stderr.splitlines()) == 1
    status, _, stderr = cli(capsys, "run", *SMALL, "--dataset", "own")
    assert status == 2 and "--data FILE.csv" in stderr and len(stderr.splitlines()) == 1


def test_a_data_file_larger_than_a_megabyte_is_refused_unread_past_it(capsys, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"1,2,0\n" * 1_000_000)  # 6 MB
    status, _, stderr = cli(capsys, "run", *SMALL, "--data", big)
    assert status == 2 and "at most 1 MB" in stderr and len(stderr.splitlines()) == 1


def test_digits_train_and_trace_with_64_inputs_and_10_classes(capsys, tmp_path):
    document, stdout, _ = run_json(
        capsys, tmp_path, "--dataset", "digits", "--n-train", 300, "--n-val", 300, "--label-noise", 0, "--hidden", 32, "--epochs", 20
    )
    assert document["config"]["dataset"] == "digits" and stdout.startswith("digits, 300 train / 300 val points")
    assert document["runs"]["twin"]["val_acc"][-1] > 0.8  # ten classes: chance is 0.1
    t = take_trace(capsys, tmp_path, "--dataset", "digits", "--n-train", 100, "--batch-size", 20, "--hidden", 8, "--steps", 3)
    assert t["x"].shape == (3, 20, 64) and t["mask_input"].shape == (3, 20, 64) and t["classes"] == 10
    assert t["weight_1"].shape == (3, 8, 64) and t["weight_2"].shape == (3, 10, 8) and t["y"].max() <= 9
    assert 0.0 <= t["x"].min() and t["x"].max() <= 1.0


def test_a_three_class_data_file_trains_and_traces(capsys, tmp_path):
    bands = "".join(f"{i * 0.25 - 5},{(i * 7) % 13 - 6},{i * 3 // 80}\n" for i in range(80))  # three bands along x1
    (tmp_path / "three.csv").write_text("x1,x2,label\n" + bands)
    data = ["--data", tmp_path / "three.csv", "--hidden", 16, "--label-noise", 0, "--batch-size", 20]
    document, stdout, stderr = run_json(capsys, tmp_path, *data, "--epochs", 30)
    assert stderr == "" and stdout.startswith("own points (three.csv, 3 classes), 60 train / 20 val points")
    assert document["config"]["dataset"] == "own" and "points" not in document["config"]  # JSON cannot carry the file
    assert document["runs"]["twin"]["val_acc"][-1] > 0.8  # chance is 1 / 3
    t = take_trace(capsys, tmp_path, *data, "--steps", 3)
    assert t["classes"] == 3 and t["x"].shape == (3, 20, 2) and set(np.unique(t["y"])) <= {0, 1, 2}
    assert np.abs(t["x"]).max() <= 1.1 + 1e-12  # scaled into the plot
