"""LiveRun: one session's Trainer, trained by a background thread while the page draws. The only place threads live.

The page's fragment tick only draws (snapshot -> figures); training goes on between ticks, so the
server trains while the browser paints. All Trainer calls go through one lock. Training is cut into
short slices, each taken under TRAINING_SLOTS, so a server never runs more busy training threads than
it has cores, and sessions take turns. A run whose page is gone (tab closed, network lost: the
page_open check the page hands in) stops within a slice and its thread ends; without that check, a
run stops after IDLE_STOP seconds without a snapshot.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import ClassVar

from .config import RunConfig
from .engine import Trainer
from .records import Snapshot

SLICE = 0.02  # seconds of training per turn: short, so a Pause or a frame never waits long
IDLE_STOP = 2.0  # without a page_open check: seconds without a snapshot after which a playing run stops
TRAINING_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))  # busy training threads, server-wide


class LiveRun:
    """Owns a Trainer and the thread that advances it. Every method but snapshot-reading ones modifies it."""

    _all: ClassVar[weakref.WeakSet[LiveRun]] = weakref.WeakSet()  # every run of this server process, for playing_count

    @classmethod
    def playing_count(cls) -> int:
        """How many runs of this server process are playing now: the page shares its frames among them."""
        return sum(1 for run in list(cls._all) if run.playing)

    def __init__(self, config: RunConfig, page_open=None):
        """page_open() -> False once the page that owns this run is gone (Streamlit: its session disconnected).

        A busy server can take seconds between frames, so "no frame lately" is not "nobody watching".
        """
        self._page_open = page_open
        self._lock = threading.Lock()
        self._trainer = Trainer(config)
        self._playing = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_seen = time.monotonic()
        self.waiting = False  # True while its thread waits for a training slot: the page says so
        self.speed: float | None = None  # epochs per second at most, None = as fast as it goes; set by the page
        self._pace_from = (time.monotonic(), 0.0)  # (when, epoch_progress): where the speed limit counts from
        LiveRun._all.add(self)

    # --- read ------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing.is_set()

    @property
    def config(self) -> RunConfig:
        return self._trainer.config

    @property
    def finished(self) -> bool:
        return self._trainer.finished

    @property
    def data(self):
        """The run's Dataset (frozen arrays)."""
        return self._trainer.data

    def snapshot(self) -> Snapshot:
        """A frozen picture of the run now; also tells the run that its page is still there."""
        self._last_seen = time.monotonic()
        with self._lock:
            return self._trainer.snapshot()

    def with_trainer(self, read):
        """read(trainer) under the lock, for the page's exports and tests; read must not keep the trainer."""
        with self._lock:
            return read(self._trainer)

    # --- control -----------------------------------------------------------------------------
    def set_speed(self, epochs_per_second: float | None) -> None:
        """Modifies: the speed limit, counted from now (a class can watch 300 epochs instead of a blink)."""
        if epochs_per_second != self.speed:
            self.speed = epochs_per_second
            self._pace_from = (time.monotonic(), self._trainer.epoch_progress)

    def play(self) -> None:
        """Modifies: starts the training thread (one per run at most)."""
        self._last_seen = time.monotonic()
        self._pace_from = (time.monotonic(), self._trainer.epoch_progress)
        self._playing.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._train, name="dropviz-train", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        """Modifies: stops training after the current slice (at most SLICE seconds)."""
        self._playing.clear()

    def step(self) -> None:
        """Modifies: pauses, then one optimizer step."""
        self.pause()
        with self._lock:
            self._trainer.step()

    def reset(self, config: RunConfig | None = None) -> None:
        """Modifies: pauses and starts again from epoch 0 (with config, or the current one)."""
        self.pause()
        fresh = Trainer(config or self._trainer.config)
        with self._lock:
            self._trainer = fresh

    def update(self, config: RunConfig) -> bool:
        """Modifies: live settings in place (see Trainer.update); False when a reset is needed."""
        with self._lock:
            return self._trainer.update(config)

    def stop(self, timeout: float = 1.0) -> None:
        """Modifies: pauses and waits for the thread to end."""
        self.pause()
        if self._thread is not None:
            self._thread.join(timeout)

    def _train(self) -> None:
        while self._playing.is_set():
            if self._page_open is not None and not self._page_open() or (
                self._page_open is None and time.monotonic() - self._last_seen > IDLE_STOP
            ):
                self._playing.clear()  # nobody is watching: stop costing CPU
                break
            if not TRAINING_SLOTS.acquire(blocking=False):
                self.waiting = True  # every core is busy with other sessions
                TRAINING_SLOTS.acquire()
                self.waiting = False
            allowed = None
            try:
                with self._lock:
                    allowed = self._allowed_steps()
                    if allowed is None or allowed > 0:
                        self._trainer.advance(SLICE, allowed)
                    if self._trainer.finished:
                        self._playing.clear()
            finally:
                TRAINING_SLOTS.release()
            time.sleep(0 if allowed is None or allowed > 0 else 0.02)  # 0 lets another thread take the GIL

    def _allowed_steps(self) -> int | None:
        """Steps the speed limit allows now (None: no limit). Call under the lock."""
        if not self.speed:
            return None
        since, start = self._pace_from
        epochs = start + (time.monotonic() - since) * self.speed - self._trainer.epoch_progress
        return int(epochs * self._trainer.steps_per_epoch)


class ExperimentJob:
    """One experiment running in a background thread, with progress and cancel. Modifies itself only.

    The work is a function work(progress) -> result, where progress(fraction) returns False once the
    job is cancelled. It holds a TRAINING_SLOT while it computes and gives it back at every progress
    call, so a long experiment takes turns with the class's live runs instead of taking a core.
    """

    def __init__(self, work):
        self.fraction = 0.0
        self.result = None
        self.error: str | None = None
        self.cancelled = False
        self.started = time.monotonic()
        self.seconds: float | None = None  # how long it took, once done
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name="dropviz-experiment", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def cancel(self) -> None:
        """Modifies: asks the work to stop at its next progress call."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _progress(self, fraction: float) -> bool:
        self.fraction = min(max(float(fraction), self.fraction), 1.0)
        TRAINING_SLOTS.release()  # a turn for the others
        TRAINING_SLOTS.acquire()
        return not self._cancel.is_set()

    def _run(self, work) -> None:
        TRAINING_SLOTS.acquire()
        try:
            self.result = work(self._progress)
            self.fraction = 1.0
        except Exception as error:  # noqa: BLE001 - shown to the user as a message, never as a traceback
            if self._cancel.is_set():  # the work stopped because it was asked to (sweeps.Cancelled)
                self.cancelled = True
            else:
                self.error = f"{type(error).__name__}: {error}"
        finally:
            TRAINING_SLOTS.release()
            self.seconds = time.monotonic() - self.started
