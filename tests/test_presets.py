"""Every preset is a valid config, and the default one makes the product's point over 5 seeds."""

import dataclasses

import numpy as np
import pytest

from dropviz.config import RunConfig, to_dict, validate
from dropviz.engine import Trainer
from dropviz.presets import DEFAULT_PRESET, PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_pass_the_gate_unchanged(name):
    config = PRESETS[name].config
    assert validate(to_dict(config), strict=True) == (config, [])


def test_default_preset_is_the_default_config():
    assert PRESETS[DEFAULT_PRESET].config == RunConfig()
    assert next(iter(PRESETS)) == DEFAULT_PRESET


def test_overfitting_demo_twin_overfits_and_dropout_helps_over_five_seeds():
    wins, rows = 0, []
    for seed in range(5):
        history = Trainer(dataclasses.replace(PRESETS[DEFAULT_PRESET].config, seed=seed)).run()
        twin, dropout = history.runs["twin"], history.runs["dropout"]
        assert twin.epochs == dropout.epochs == 300
        # The twin visibly overfits: validation loss ends far above its best, train accuracy above validation.
        assert twin.val_loss[-1] >= 1.5 * twin.val_loss.min()
        assert twin.train_acc[-1] - twin.val_acc[-1] >= 0.08
        # Dropout keeps the generalization gap at most half the twin's.
        twin_gap = twin.val_loss[-1] - twin.train_loss[-1]
        dropout_gap = dropout.val_loss[-1] - dropout.train_loss[-1]
        assert dropout_gap <= 0.5 * twin_gap
        wins += dropout.val_loss[-1] < twin.val_loss[-1]
        rows.append(dropout_gap / twin_gap)
    assert wins >= 4
    assert np.max(rows) <= 0.5


def test_too_much_dropout_underfits():
    history = Trainer(PRESETS["too much dropout"].config).run()
    assert history.runs["dropout"].train_acc[-1] < history.runs["twin"].train_acc[-1] - 0.2
