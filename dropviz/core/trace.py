"""trace_steps: a Trainer's next steps recorded for replay (the CLI's --trace, checked against torch); not training itself."""

from __future__ import annotations

import numpy as np

from .engine import Trainer
from .records import StepTrace, frozen


def trace_steps(trainer: Trainer, steps: int) -> StepTrace:
    """Modifies trainer: takes `steps` steps, recording the dropout run's batches, masks, parameters before each update and losses."""
    batch = trainer.config.batch_size
    if trainer.config.n_train % batch:
        raise ValueError(f"trace needs every batch full: {trainer.config.n_train} training points are not a multiple of batch size {batch}")
    layers = len(trainer.sizes) - 1
    batches, losses = [], []
    masks, weights, biases = ([[] for _ in range(layers)] for _ in range(3))
    for _ in range(steps):
        if trainer.finished:
            break
        before_w, before_b = trainer.net.parameters()  # run 0 is row 0
        trainer.step()
        batches.append(trainer.last_batch)
        for l, keep in enumerate(trainer.last_keep()):
            masks[l].append(keep[0])
            weights[l].append(before_w[l][0].T)  # (out, in) as nn.Linear stores it
            biases[l].append(before_b[l][0])
        losses.append(trainer.last_losses[0])
    index = np.stack(batches)  # (S, batch)
    return StepTrace(
        x=frozen(trainer.data.x_train[index]),
        y=frozen(trainer.data.y_train[index]),
        batch_index=frozen(index),
        masks=tuple(frozen(np.stack(m)) for m in masks),
        weights=tuple(frozen(np.stack(w)) for w in weights),
        biases=tuple(frozen(np.stack(b)) for b in biases),
        loss=frozen(losses),
        activation=trainer.config.activation,
        p=tuple(float(v) for v in trainer.p[0, 1:]),
        p_input=float(trainer.p[0, 0]),
        classes=trainer.sizes[-1],
    )
