"""Pacer: fits a Trainer's steps into a time slice of a worker's turn; the Trainer itself knows no clocks."""

from __future__ import annotations

import time

from ..core.engine import Trainer


class Pacer:
    """Modifies its chunk (steps per call to the Trainer) as it learns what a step of its run costs."""

    def __init__(self) -> None:
        self.chunk = 1

    def advance(self, trainer: Trainer, seconds: float, max_steps: int | None = None) -> int:
        """Modifies trainer: trains for about `seconds` (at least one step), at most max_steps. Returns the steps taken.

        Chunks double while one takes under a tenth of the slice and halve over a third, so a compiled net runs many
        steps per call and a large net still stops close to the deadline.
        """
        deadline = time.perf_counter() + seconds
        taken = 0
        while not trainer.finished and (max_steps is None or taken < max_steps):
            began = time.perf_counter()
            taken += trainer.train(self.chunk if max_steps is None else min(self.chunk, max_steps - taken))
            took = time.perf_counter() - began
            if took < seconds / 10:
                self.chunk = min(2 * self.chunk, trainer.steps_per_epoch)
            elif took > seconds / 3 and self.chunk > 1:
                self.chunk //= 2
            if time.perf_counter() >= deadline:
                break
        return taken
