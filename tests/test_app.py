"""The page script through Streamlit's AppTest: controls reach the config, transport, toggle, presets, URL."""

import base64
import copy
import json
import operator
import re
import time
from pathlib import Path

import numpy as np
import plotly.io
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from dropviz.core.config import RunConfig, read_points
from dropviz.core.data import DATASETS, make_dataset
from dropviz.core.own_data import OWN
from dropviz.core.presets import PRESETS
from dropviz.core.script import pytorch_script
from dropviz.experiments.registry import Shown
from dropviz.figures.boundary import BOUNDARY_GRID
from dropviz.figures.network import MAP_NODES
from dropviz.figures.theme import THEME
from dropviz.web import controls, live

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _widget(at: AppTest, label: str):
    for kind in ("slider", "select_slider", "selectbox", "toggle", "number_input", "text_input"):
        for widget in getattr(at, kind):
            if widget.label == label:
                return widget
    raise AssertionError(f"no widget labelled {label!r}")


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _view(at: AppTest) -> dict:
    """The live view as the browser receives it (dropviz/web/live_chart.py): {"status", "captions", "charts"}."""
    (element,) = at.get("bidi_component")
    return json.loads(element.proto.bytes)


def _charts(at: AppTest) -> dict[str, dict]:
    """The live charts as the browser receives them: name -> Plotly figure JSON."""
    return {name: chart["figure"] for name, chart in _view(at)["charts"].items()}


def _array(value) -> np.ndarray:
    """A Plotly JSON array: a plain list, or Plotly's typed form {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value.get("shape", len(flat))).split(",")])
    return np.asarray(value)


def _trainer(at: AppTest):
    """A copy of the session's Trainer, as it is now in its worker process."""
    return at.session_state.run.with_trainer(copy.copy)


def _steps(at: AppTest) -> int:
    return at.session_state.run.with_trainer(operator.attrgetter("step_count"))


def _status(at: AppTest) -> str:
    """The first line of the status over the charts, as text: "Epoch 3 of 300 · step 31", then what the run is doing."""
    first = re.match(r"<div>(.*?)</div>", _view(at)["status"]).group(1)
    return re.sub(r"<[^>]+>", "", first)


def _wait(condition, timeout: float = 60.0) -> None:
    """Until condition() holds; the limit is generous, for a loaded machine: a passing test never waits it out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _finished(at: AppTest) -> bool:
    run = at.session_state.run
    run.snapshot()  # as the page's frames do: a run nobody looks at pauses itself (live.IDLE_STOP)
    return run.finished


def _enabled(at: AppTest) -> dict[str, bool]:
    """The transport buttons as a person sees them: label -> clickable."""
    return {b.label: not b.disabled for b in at.button if b.label in ("Play", "Pause", "Step", "Reset")}


@pytest.mark.parametrize(
    "label,value,field,expected",
    [
        ("Data set", "spiral", "dataset", "spiral"),
        ("Training points", 250, "n_train", 250),
        ("Noise", 0.3, "noise", 0.3),
        ("Label noise", 0.05, "label_noise", 0.05),
        ("Seed", 7, "seed", 7),
        ("Hidden layers", 3, "hidden", (128, 128, 128)),
        ("Neurons per layer", 16, "hidden", (16, 16)),
        ("Uneven layers (optional)", "9,5,3", "hidden", (9, 5, 3)),
        ("Activation", "tanh", "activation", "tanh"),
        ("Dropout", False, "dropout", False),
        ("Dropout p", 0.25, "p", (0.25, 0.25)),
        ("Input dropout p", 0.1, "p_input", 0.1),
        ("Optimizer", "sgd", "optimizer", "sgd"),
        ("Learning rate", 0.1, "lr", 0.1),
        ("Batch size", 32, "batch_size", 32),
        ("Weight decay", 0.001, "weight_decay", 0.001),
        ("Epochs", 500, "epochs", 500),
    ],
)
def test_every_control_reaches_the_config(label, value, field, expected):
    at = _app()
    _widget(at, label).set_value(value).run()
    assert not at.exception
    assert getattr(_trainer(at).config, field) == expected


def test_momentum_reaches_the_config_with_sgd():
    at = _app()
    _widget(at, "Optimizer").set_value("sgd").run()
    _widget(at, "Momentum").set_value(0.5).run()
    assert _trainer(at).config.momentum == 0.5


def test_step_takes_one_step_and_reset_returns_to_epoch_zero():
    at = _app()
    assert _trainer(at).step_count == 0
    _button(at, "Step").click().run()
    assert _trainer(at).step_count == 1
    snapshot = _trainer(at).snapshot(BOUNDARY_GRID)
    assert len(snapshot.masks) == 3
    for _ in range(10):
        _button(at, "Step").click().run()
    assert _trainer(at).step_count == 11 and _trainer(at).epoch == 1
    _button(at, "Reset").click().run()
    assert _trainer(at).step_count == 0 and _trainer(at).epoch == 0


def test_play_starts_training_and_pause_stops_it(one_worker):
    at = _app()
    _button(at, "Play").click().run()
    assert at.session_state.run.playing
    assert next(b.label for b in at.button) == "Pause"
    _wait(lambda: _steps(at) > 0)  # the worker trains between frames
    _button(at, "Pause").click().run()
    assert not at.session_state.run.playing
    steps = _steps(at)  # Pause is answered between two turns: none after it
    clock = live.LiveRun(RunConfig(n_train=40, hidden=(4,), p=(0.5,), batch_size=8, epochs=5000), page_open=lambda: True)
    clock.play()  # another run on the same worker: once it has trained a few turns, so could the paused one have
    _wait(lambda: clock.with_trainer(operator.attrgetter("step_count")) > 500)
    clock.pause()
    at.run()
    assert _steps(at) == steps
    assert next(b.label for b in at.button) == "Play"


def test_a_run_whose_training_process_died_starts_again_and_the_page_says_so(monkeypatch):
    from dropviz.web import live

    pool = live._Pool(1)
    monkeypatch.setattr(live, "POOL", pool)  # app.py takes POOL from dropviz.web.live on each run
    monkeypatch.setattr(live, "LOST_SHOWN", 1.0)
    try:
        at = _app()
        for _ in range(3):
            _button(at, "Step").click().run()
        assert _trainer(at).step_count == 3
        pool.workers[0].process.kill()
        pool.workers[0].process.wait(5)
        at.run()
        assert not at.exception, at.exception
        assert any("started again from epoch 0" in warning.value for warning in at.warning)
        assert _trainer(at).step_count == 0 and _view(at)["status"].startswith("<div><strong>Epoch 0</strong>")  # a fresh run, drawn
        at.run()
        assert any("started again" in warning.value for warning in at.warning)  # steady: a rerun at once still shows it
        time.sleep(live.LOST_SHOWN)
        at.run()  # the page run that spends it
        at.run()
        assert not any("started again" in warning.value for warning in at.warning)  # said, then gone
    finally:
        pool.stop()


def test_toggle_and_p_keep_the_weights_and_restart_on_architecture_change():
    at = _app()
    for _ in range(3):
        _button(at, "Step").click().run()
    weights = _trainer(at).net.parameters()[0]
    _widget(at, "Dropout").set_value(False).run()
    _widget(at, "Dropout p").set_value(0.3).run()
    trainer = _trainer(at)
    assert trainer.step_count == 3  # the same run goes on
    assert all(np.array_equal(a, b) for a, b in zip(weights, trainer.net.parameters()[0]))
    assert ", ".join(e.text for e in trainer.events) == "dropout off, p 0.5 -> 0.3"  # one burst or two: timing
    _widget(at, "Neurons per layer").set_value(8).run()
    assert _trainer(at).step_count == 0 and _trainer(at).config.hidden == (8, 8)
    assert any("restarted" in info.value for info in at.info)


def test_network_figure_draws_exactly_the_snapshots_dropped_neurons():
    at = _app()
    _widget(at, "Neurons per layer").set_value(12).run()
    _widget(at, "Input dropout p").set_value(0.5).run()
    _button(at, "Step").click().run()
    snapshot = _trainer(at).snapshot(BOUNDARY_GRID)
    figure = _charts(at)["network"]  # what the browser receives
    names = [image["name"].split("dropped this step")[1] for image in figure["layout"]["images"] if "dropped this step" in image["name"]]
    drawn = {tuple(int(v) for v in word.split(":")) for name in names for word in name.split()}  # the maps name the dropped
    expected = {(column, unit) for column, mask in enumerate(snapshot.masks) for unit in np.flatnonzero(~mask) if unit < MAP_NODES}
    assert drawn == expected and expected  # of 12 per layer, the first MAP_NODES are drawn, each as its map


@pytest.mark.parametrize("control,name", [("Preset", name) for name in PRESETS] + [("Data set", name) for name in DATASETS])
def test_every_preset_and_data_set_is_drawn_as_chosen(control, name):
    at = _app()
    _widget(at, control).set_value(name).run()
    config = _trainer(at).config
    if control == "Preset":
        assert config == PRESETS[name].config and at.query_params["preset"] == name
        assert PRESETS[name].lesson in [c.value for c in at.caption]  # the lesson is shown under the preset
    else:
        assert config.dataset == name
    _button(at, "Step").click().run()
    assert not at.exception
    assert _status(at) == f"Epoch 0 of {config.epochs} · step 1"
    data = make_dataset(config.dataset, config.n_train, config.n_val, config.noise, config.label_noise, config.seed)
    charts = _charts(at)
    if data.x_train.shape[1] != 2:  # digits: the tracked example's picture, validation digits and confusion matrices
        assert charts["network"]["layout"]["images"][0]["name"] == "input image"
        names = [i["name"] for i in charts["boundary"]["layout"]["images"]]
        assert names[:2] == ["confusion, with dropout", "confusion, no-dropout twin"] and "digit 11" in names
        return
    # The boundary plot draws this data set's training points, each in its class.
    traces = charts["boundary"]["data"]
    for label in (0, 1):
        trace = next(t for t in traces if t.get("name") == f"train · class {label}")
        drawn = np.stack([_array(trace["x"]), _array(trace["y"])], axis=1)
        np.testing.assert_allclose(drawn, data.x_train[data.y_train == label], rtol=1e-6, atol=1e-7)


def test_url_settings_start_the_page_and_the_url_follows_the_controls():
    at = _app(dataset="xor", hidden="6,4", lr="0.1", preset="TensorFlow Playground classic")
    config = _trainer(at).config
    assert (config.dataset, config.hidden, config.lr, config.activation) == ("xor", (6, 4), 0.1, "tanh")
    _widget(at, "Seed").set_value(5).run()
    assert at.query_params["seed"] == "5" and at.query_params["dataset"] == "xor"


def test_hostile_url_values_warn_and_keep_defaults():
    at = _app(lr="nan", hidden="<script>", preset="nope", bogus="1")
    assert _trainer(at).config == RunConfig()
    texts = " ".join(w.value for w in at.warning)
    for name in ("lr", "hidden", "preset", "bogus"):
        assert f"{name}:" in texts


def _warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_a_setting_repeated_in_the_url_is_refused_with_one_warning():
    at = _app(lr=["0.1", "0.2"], hidden=["4"] * 500, preset=["too much dropout", "overfitting demo"], seed="3")
    assert _trainer(at).config == RunConfig(seed=3)
    warnings = _warnings(at)
    for name, times in {"lr": 2, "hidden": 500, "preset": 2}.items():
        assert [w for w in warnings if w.startswith(f"{name}:")] == [
            f"{name}: given {times} times in the URL; ignored (give each setting once)"
        ]


def _upload(data: bytes) -> AppTest:
    at = _app()
    at.session_state["share"] = True  # what opening the expander does
    at.run()
    at.file_uploader(key="upload").set_value(("setup.json", data, "application/json")).run()
    assert not at.exception, at.exception
    return at


def test_an_uploaded_setup_with_huge_lists_warns_once_per_setting_and_keeps_the_run():
    ones = ",".join(["1"] * 10_000)
    at = _upload(f'{{"config": {{"hidden": [{ones}], "p": [{ones}], "noise": [{ones}], "seed": 4}}}}'.encode())
    assert _trainer(at).config == RunConfig(seed=4)
    warnings = _warnings(at)
    assert sorted(w.split(":")[0] for w in warnings) == ["hidden", "noise", "p"], warnings
    assert all("10000" in w and len(w) < 200 for w in warnings)


def test_an_uploaded_setup_nested_too_deeply_is_refused_with_a_message():
    at = _upload(b"[" * 30_000 + b"]" * 30_000)
    assert _trainer(at).config == RunConfig()
    assert _warnings(at) == ["setup file: nested too deeply to be a setup (a setup is an object of settings, each a value or a list)"]


def test_presentation_mode_hides_the_controls_and_enlarges_the_figures():
    at = _app()
    normal = _charts(at)["curves"]["layout"]["height"]
    at.toggle(key="presenting").set_value(True).run()
    assert any("stSidebar" in m.value and "display: none" in m.value for m in at.markdown)
    assert _charts(at)["curves"]["layout"]["height"] == int(normal * 1.5)


def test_save_and_share_offers_the_link_and_four_downloads():
    at = _app()
    assert not at.code and not at.get("download_button")  # filled only when open
    at.session_state["share"] = True  # what opening the expander does
    _widget(at, "Seed").set_value(9).run()
    link = at.code[0].value
    assert "preset=overfitting+demo" in link and "seed=9" in link
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Curves (CSV)", "Setup (JSON)", "Trained dropout network (PyTorch)", "PyTorch script"]


def test_the_pytorch_script_download_is_the_script_of_the_current_setup(monkeypatch):
    made = {}  # file name -> the deferred callable the page registered for it
    add = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **options):
        made[file_name] = data_callable
        return add(self, data_callable, mimetype, coordinates, file_name=file_name, **options)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    at = _app(hidden="32,16", p="0.3,0.1", p_input="0.2")
    at.session_state["share"] = True
    _widget(at, "Seed").set_value(9).run()
    config = _trainer(at).config
    assert (config.seed, config.hidden, config.p, config.p_input) == (9, (32, 16), (0.3, 0.1), 0.2)
    data = make_dataset(config.dataset, config.n_train, config.n_val, config.noise, config.label_noise, config.seed)
    expected = pytorch_script(config, data, "dropviz_train.py", origin="the page's current setup", embed=True)
    assert made["dropviz_train.py"]() == expected
    assert "nn.Dropout(0.2)" in expected and "nn.Linear(32, 16)" in expected and "SEED = 9" in expected


def test_what_am_i_seeing_explains_the_formulas_when_opened():
    at = _app()
    assert not any("Bernoulli" in m.value for m in at.markdown)
    at.session_state["seeing"] = True
    at.run()
    text = " ".join(m.value for m in at.markdown)
    assert r"\mathrm{Bernoulli}(1-p)" in text and "probability of keeping" in text and "At test time" in text


def test_url_values_between_slider_steps_are_kept_not_moved():
    at = _app(lr="0.005", batch_size="20", weight_decay="0.002", n_val="123", p="0.5,0.2", n_train="40")
    config = _trainer(at).config
    assert (config.lr, config.batch_size, config.weight_decay, config.n_val, config.p) == (0.005, 20, 0.002, 123, (0.5, 0.2))
    assert not at.warning


def test_uneven_p_reaches_the_config():
    at = _app()
    _widget(at, "Uneven p (optional)").set_value("0.3,0.1").run()
    assert _trainer(at).config.p == (0.3, 0.1)


@pytest.mark.parametrize("name", ["scaling lesson", "Monte Carlo dropout", "inside the network", "sampled subnetworks"])
def test_probe_experiments_run_in_the_background_and_show_results(name):
    at = _app(hidden="8,8")
    for _ in range(3):
        _button(at, "Step").click().run()
    at.selectbox(key="experiment").set_value(name).run()
    _button(at, "Run experiment").click().run()
    at.session_state.job.wait(30)
    at.run()
    assert not at.exception and at.session_state.job.error is None, at.session_state.job.error
    assert at.session_state.job.result is not None
    kept = at.session_state.job.result  # made in the job's process: the session holds figures and CSV, no raw result
    assert isinstance(kept, Shown) and len(kept.csv.splitlines()) > 1
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert len(charts) == len(kept.figures) >= 1  # all of them shown
    assert charts == [json.loads(plotly.io.to_json(figure)) for figure in kept.figures]
    assert "Results (CSV)" in [b.label for b in at.get("download_button")]
    assert _steps(at) == 3 and _status(at) == "Epoch 0 of 300 · step 3"  # the live run is not disturbed


def test_presentation_mode_enlarges_an_experiment_s_figures_too():
    at = _app(hidden="8,8")
    _button(at, "Step").click().run()
    at.selectbox(key="experiment").set_value("inside the network").run()
    _button(at, "Run experiment").click().run()
    at.session_state.job.wait(30)
    at.run()
    page = [json.loads(chart.proto.spec)["layout"] for chart in at.get("plotly_chart")]
    at.toggle(key="presenting").set_value(True).run()
    shown = [json.loads(chart.proto.spec)["layout"] for chart in at.get("plotly_chart")]
    assert len(shown) == len(page) == len(at.session_state.job.result.figures) == 3
    for big, small in zip(shown, page):
        assert big["height"] == int(1.5 * small["height"]) and big["font"]["size"] == 1.5 * small["font"]["size"]
        assert big["xaxis"]["tickfont"]["size"] >= 1.5 * THEME.small_font_size  # set: Streamlit's template sizes it otherwise
    assert json.loads(plotly.io.to_json(at.session_state.job.result.figures[0]))["layout"] == page[0]  # the kept one unchanged


def test_presentation_mode_enlarges_a_neuron_up_close():
    at = _app(hidden="8,8")
    _button(at, "Step").click().run()
    at.session_state["closeup"] = True  # what opening the expander does
    at.run()
    page = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    at.toggle(key="presenting").set_value(True).run()
    shown = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert shown["height"] == int(1.5 * page["height"]) and shown["font"]["size"] == 1.5 * page["font"]["size"]


def test_an_experiment_can_be_cancelled_from_the_page():
    at = _app()  # the default preset's p-sweep takes seconds: time to press Cancel
    at.selectbox(key="experiment").set_value("p-sweep").run()
    _button(at, "Run experiment").click().run()
    _button(at, "Cancel").click().run()
    at.session_state.job.wait(30)
    at.run()
    assert at.session_state.job.cancelled
    assert any("Cancelled" in w.value for w in at.warning)


def _finish(at: AppTest, epochs: int) -> None:
    """Sets Epochs, presses Play and waits until the run has finished, as the page shows it."""
    _widget(at, "Epochs").set_value(epochs).run()
    _button(at, "Play").click().run()
    _wait(lambda: _finished(at))
    at.run()  # the page the live view asks for when its run stops


def test_reset_after_the_run_finished_gives_epoch_zero_and_play_again():
    at = _app()
    _finish(at, 2)
    assert _enabled(at) == {"Play": False, "Step": False, "Reset": True} and "· finished:" in _status(at)
    _button(at, "Reset").click().run()
    assert _enabled(at) == {"Play": True, "Step": True, "Reset": True}
    assert _steps(at) == 0 and _status(at) == "Epoch 0 of 2 · step 0"
    _button(at, "Step").click().run()  # and it trains again
    assert _steps(at) == 1


def test_raising_epochs_after_the_run_finished_goes_on_from_where_it_stopped():
    at = _app()
    _finish(at, 2)
    steps = _steps(at)
    assert _enabled(at)["Play"] is False and _trainer(at).epoch == 2
    _widget(at, "Epochs").set_value(4).run()
    assert _enabled(at) == {"Play": True, "Step": True, "Reset": True} and "finished:" not in _status(at)
    assert _steps(at) == steps and not at.info  # the same run, not restarted
    _button(at, "Play").click().run()
    _wait(lambda: _finished(at))
    trainer = _trainer(at)
    assert trainer.epoch == 4 and trainer.step_count == 2 * steps
    assert trainer.history().runs["dropout"].epochs == 4  # the curves go on: 4 epochs, not 2 again


def test_a_preset_chosen_mid_run_restarts_it_and_says_so():
    at = _app()
    for _ in range(3):
        _button(at, "Step").click().run()
    _button(at, "Play").click().run()
    assert not at.info
    _widget(at, "Preset").set_value("too much dropout").run()
    assert _trainer(at).config == PRESETS["too much dropout"].config
    assert any("restarted from epoch 0" in info.value for info in at.info)
    assert _steps(at) == 0 and _enabled(at)["Play"] and not at.session_state.run.playing  # waits for Play, at epoch 0
    _button(at, "Play").click().run()
    assert not at.info  # said once: Play clears the notice


def test_dropout_toggled_back_and_forth_keeps_the_weights_and_masks_follow_the_toggle():
    at = _app()
    for _ in range(3):
        _button(at, "Step").click().run()
    weights = _trainer(at).net.parameters()[0]
    for value in (False, True, False):
        _widget(at, "Dropout").set_value(value).run()
    trainer = _trainer(at)
    assert trainer.step_count == 3 and not trainer.config.dropout and not at.info  # the same run, never restarted
    assert all(np.array_equal(a, b) for a, b in zip(weights, trainer.net.parameters()[0]))
    _button(at, "Step").click().run()
    assert all(mask.all() for mask in _trainer(at).snapshot(BOUNDARY_GRID).masks)  # off: no neuron dropped
    weights = _trainer(at).net.parameters()[0]
    _widget(at, "Dropout").set_value(True).run()
    assert all(np.array_equal(a, b) for a, b in zip(weights, _trainer(at).net.parameters()[0]))
    _button(at, "Step").click().run()
    trainer = _trainer(at)
    assert trainer.step_count == 5 and not all(mask.all() for mask in trainer.snapshot(BOUNDARY_GRID).masks)  # on again: neurons dropped


# --- your own points ---------------------------------------------------------------------------------
def _points_csv(rows: int = 48, classes: int = 2) -> bytes:
    """A good file of points: rows points scattered over a band, `classes` classes taking turns."""
    return ("x1,x2,label\n" + "".join(f"{10 + i * 0.5:.2f},{(i * 37) % 23 - 11},{i % classes}\n" for i in range(rows))).encode()


def _upload_points(at: AppTest, content: bytes, name: str = "points.csv") -> AppTest:
    at.file_uploader(key=controls.UPLOAD_KEY).set_value((name, content, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def _sidebar_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.sidebar.warning]


def test_an_uploaded_file_of_points_becomes_the_run_s_data():
    at = _upload_points(_app(), _points_csv(classes=3), "mine.csv")
    config, data = _trainer(at).config, _trainer(at).data
    assert config.dataset == OWN and config.points == read_points(_points_csv(classes=3)) and data.classes == 3
    assert (config.n_train, config.n_val) == (36, 12) and _sidebar_warnings(at) == []  # a quarter validates
    expected = make_dataset(OWN, 36, 12, config.noise, config.label_noise, config.seed, points=config.points)
    np.testing.assert_array_equal(data.x_train, expected.x_train)
    assert _widget(at, "Data set").value == OWN
    assert _widget(at, "Training points").disabled and _widget(at, "Noise").disabled  # the file decides; noise does not apply
    assert "own: mine.csv, 48 points, 3 classes: 36 to train, 12 to validate." in [c.value for c in at.sidebar.caption]
    _button(at, "Step").click().run()
    assert not at.exception and _steps(at) == 1
    trace = next(t for t in _charts(at)["boundary"]["data"] if t.get("name") == "train · class 2")  # the page draws the file
    drawn = np.stack([_array(trace["x"]), _array(trace["y"])], axis=1)
    np.testing.assert_allclose(drawn, data.x_train[data.y_train == 2], rtol=1e-6, atol=1e-7)
    assert at.query_params["dataset"] == OWN  # the link says own points ...
    at.session_state["share"] = True  # what opening the expander does
    at.run()
    assert any(c.value.startswith("A link cannot carry your file of points (mine.csv)") for c in at.caption)
    again = _app(**{key: at.query_params[key] for key in at.query_params})
    assert _trainer(again).config.dataset == PRESETS[at.query_params["preset"]].config.dataset  # ... and cannot carry them
    assert any("cannot carry" in w for w in _sidebar_warnings(again)), _sidebar_warnings(again)


def test_a_refused_file_of_points_says_why_in_the_sidebar_and_the_page_keeps_its_data():
    at = _app()
    _button(at, "Step").click().run()
    before = _trainer(at).config
    bad = _points_csv().replace(b"\n13.00,", b"\n13.00x,")
    _upload_points(at, bad)
    assert _trainer(at).config == before and _steps(at) == 1  # same data, the run not even restarted
    assert _sidebar_warnings(at) == ["data file: row 8: x1 is '13.00x', not a number; the data is unchanged"]
    _upload_points(at, b"\x00\x01\x02binary")
    assert _sidebar_warnings(at) == ["data file: row 1: a NUL byte; this is a binary file, not a CSV text file; the data is unchanged"]
    assert _trainer(at).config == before


def test_a_good_file_after_a_refused_one_is_used_and_a_refused_one_after_a_good_one_keeps_it():
    at = _upload_points(_upload_points(_app(), b""), _points_csv(rows=60))
    assert _sidebar_warnings(at) == [] and _trainer(at).config.points.rows == 60
    # A browser replacing the file takes the old one away first (an upload of None), then sends the new one.
    at.file_uploader(key=controls.UPLOAD_KEY).set_value(None).run()
    _upload_points(at, b"x1,x2,label\n1,2,0\n3,abc,1\n")
    assert _trainer(at).config.points.rows == 60 and _sidebar_warnings(at) == [
        "data file: row 3: x2 is 'abc', not a number; the data is unchanged"
    ]
    _widget(at, "Data set").set_value("xor").run()  # another data set leaves the points, which stay a pick away
    assert _trainer(at).config.dataset == "xor" and _trainer(at).config.points is None and OWN in _widget(at, "Data set").options


@pytest.mark.parametrize("name", ["Monte Carlo dropout", "scaling lesson", "sampled subnetworks"])
def test_an_experiment_that_maps_the_plane_says_why_it_does_not_apply_to_digits(name):
    at = _app(preset="handwritten digits")
    _button(at, "Step").click().run()
    at.selectbox(key="experiment").set_value(name).run()
    assert not at.exception
    assert any(i.value.startswith("Not for this data: it maps P(class 1) over the plane, and the digits are 64 pixels") for i in at.info)
    assert "Run experiment" not in [b.label for b in at.button]  # nothing to press that would fail
    at.selectbox(key="experiment").set_value("inside the network").run()
    assert "Run experiment" in [b.label for b in at.button]
