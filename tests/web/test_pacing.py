"""Pacer: time slices change how many steps a turn takes, never what the steps compute."""

from dropviz.core.config import RunConfig
from dropviz.core.engine import Trainer
from dropviz.web.pacing import Pacer

SMALL = RunConfig(n_train=40, n_val=60, hidden=(12, 6), p=(0.5, 0.3), batch_size=8, epochs=6)


def test_time_slices_give_the_same_run_as_single_steps():
    stepped, paced, pacer = Trainer(SMALL), Trainer(SMALL), Pacer()
    while not stepped.finished:
        stepped.step()
    while not paced.finished:
        assert pacer.advance(paced, 0.0005) >= 1  # at least one step per slice
    assert paced.step_count == stepped.step_count == SMALL.epochs * 5
    assert stepped.history().runs["dropout"].val_loss.tolist() == paced.history().runs["dropout"].val_loss.tolist()


def test_max_steps_caps_a_slice_and_the_chunk_grows_on_cheap_steps():
    trainer, pacer = Trainer(SMALL), Pacer()
    assert pacer.advance(trainer, 10.0, max_steps=4) == 4
    assert pacer.chunk > 1  # steps this small take far under a tenth of 10 s
    assert pacer.chunk <= trainer.steps_per_epoch
