"""Every preset is a valid config that trains, and the presets do what their lessons promise: the default one makes the
product's point over 5 seeds, "too much dropout" underfits. Their texts are not checked word for word."""

import dataclasses

import numpy as np
import pytest

from dropviz.core.config import RunConfig, to_dict, validate
from dropviz.core.engine import Trainer
from dropviz.core.presets import DEFAULT_PRESET, PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_passes_the_gate_unchanged_and_trains(name):
    config = PRESETS[name].config
    assert validate(to_dict(config), strict=True) == (config, [])
    assert PRESETS[name].lesson.strip()  # the page shows a lesson under the preset's name
    history = Trainer(dataclasses.replace(config, epochs=2)).run()
    assert all(run.epochs == 2 and run.status == "ok" and np.isfinite(run.val_loss).all() for run in history.runs.values())


def test_default_preset_is_the_default_config():
    assert PRESETS[DEFAULT_PRESET].config == RunConfig()
    assert next(iter(PRESETS)) == DEFAULT_PRESET


def test_overfitting_demo_twin_overfits_and_dropout_helps_over_five_seeds():
    # The default preset's point, measured as its curves show it at the last epoch, on each of 5 seeds.
    rows = []
    for seed in range(5):
        history = Trainer(dataclasses.replace(PRESETS[DEFAULT_PRESET].config, seed=seed)).run()
        twin, dropout = history.runs["twin"], history.runs["dropout"]
        assert twin.epochs == dropout.epochs == 300
        rows.append(
            {
                "seed": seed,
                "twin val loss / its best": twin.val_loss[-1] / twin.val_loss.min(),  # the twin's validation loss climbs back up
                "twin train - val accuracy": twin.train_acc[-1] - twin.val_acc[-1],  # it memorizes the flipped labels
                "gap ratio": (dropout.val_loss[-1] - dropout.train_loss[-1]) / (twin.val_loss[-1] - twin.train_loss[-1]),
                "dropout wins": bool(dropout.val_loss[-1] < twin.val_loss[-1]),
            }
        )
    for row in rows:
        assert row["twin val loss / its best"] >= 1.5 and row["twin train - val accuracy"] >= 0.08, row
        assert row["gap ratio"] <= 0.5, row  # dropout's generalization gap: at most half the twin's
    assert sum(row["dropout wins"] for row in rows) >= 4, rows  # a lower validation loss on (nearly) every seed


def test_too_much_dropout_underfits():
    history = Trainer(PRESETS["too much dropout"].config).run()
    assert history.runs["dropout"].train_acc[-1] < history.runs["twin"].train_acc[-1] - 0.2


def test_handwritten_digits_twin_memorizes_and_dropout_ends_better_on_five_seeds():
    config = PRESETS["handwritten digits"].config
    assert (config.dataset, config.epochs) == ("digits", 300)
    for seed in range(5):
        history = Trainer(dataclasses.replace(config, seed=seed)).run()
        twin, dropout = history.runs["twin"], history.runs["dropout"]
        assert history.classes == 10
        assert twin.train_acc[-1] == 1.0 and twin.val_loss[-1] >= 3 * twin.val_loss.min(), seed  # the lesson's "more than three times"
        assert dropout.val_loss[-1] <= 0.5 * twin.val_loss[-1] and dropout.val_acc[-1] > twin.val_acc[-1], seed
