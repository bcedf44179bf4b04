"""StepChunks: how many training steps fit in one call of a given length, learned from the calls before it.

Both callers that train in slices use it: the live worker's turns (a frame or a Pause waits at most about one call) and
the sweeps' calls (progress is reported after each). Not here: the training itself, or what the time is spent on.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class StepChunks:
    """Steps per call that fit `seconds` of `clock`, from the last call's time per step (one step until a call is timed).
    Modifies itself in took()."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.thread_time):
        """clock: CPU time of this thread by default, so another process's load does not shrink the chunks."""
        self.seconds, self.clock, self.per_step = seconds, clock, 0.0

    def next(self) -> int:
        """Steps for the next call: at least one."""
        return max(1, int(self.seconds / self.per_step)) if self.per_step > 0 else 1

    def took(self, began: float, steps: int) -> None:
        """Modifies: a call that began at clock() = began took `steps` steps, ending now."""
        self.per_step = (self.clock() - began) / max(steps, 1)
