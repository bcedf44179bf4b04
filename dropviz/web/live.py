"""LiveRun and ExperimentJob: a page's handles on its run and its experiment, which live in worker processes (POOL, worker.py).

The page asks for frames; training goes on between them in the worker, round-robin with the other runs
placed there. The server starts one worker per core with its first page, and places each new run on the
worker with the fewest playing runs. A watcher thread looks at every page each PAGE_CHECK seconds: a run
whose page is gone (tab closed, network lost: the page_open check the page hands in) is paused, and
dropped from its worker RELEASE_AFTER seconds later (or when Streamlit forgets the session); when one
worker has two playing runs more than another (students left), a playing run moves over; when it has one
more, a run moves over every ROTATE_EVERY seconds (a rotation), so that the runs take turns on the crowded
worker. Without a page_open check, a run pauses after IDLE_STOP seconds without a frame or snapshot. If a
worker dies, its runs start again from epoch 0 on a new one, and say so.
Experiments (ExperimentJob) run in the workers too, between their runs' turns.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
import weakref
from typing import ClassVar

from ..core.config import RunConfig
from ..core.records import Snapshot
from .frames import Frame
from .worker import Worker, WorkerError, WorkerGone

IDLE_STOP = 2.0  # without a page_open check: seconds without a frame or snapshot after which a playing run pauses
PAGE_CHECK = 0.5  # seconds between two looks at every run's page
# A page gone this long has its run dropped from its worker, to free the memory its trainer holds. Streamlit forgets a
# disconnected session only after server.disconnectedSessionTTL (2 minutes), and a page that comes back after this
# starts again from epoch 0 and says so.
RELEASE_AFTER = 30.0
WORKERS = max(1, os.cpu_count() or 1)  # training processes: one per core
# Seconds between two rotations, when one worker has exactly one playing run more than another (16 and 15 of a class of
# 31): the run there longest moves over, the counts flip, the next rotation goes back, so the runs take turns on the
# crowded worker and get the same share over time. A move pickles a trainer across:
# once a second costs next to nothing, and every run of a class of 31 has moved within about 31 s.
ROTATE_EVERY = 1.0
LOST = "The training process stopped (the server ran short of memory or was restarted): this run started again from epoch 0."
RELEASED = f"This page was away for more than {RELEASE_AFTER:.0f} s, and its run was dropped to free memory: it started again from epoch 0."


class _Pool:
    """The server's workers, started on first use; a dead one is replaced when a run needs a place. Modifies itself."""

    def __init__(self, size: int):
        self.size = size
        self.workers: list[Worker] = []
        self._lock = threading.RLock()  # place() counts under the lock least_busy() takes
        self.moved_at = 0.0  # time.monotonic() of the last move of a run between workers (see moved())
        self._adopted_at: weakref.WeakKeyDictionary[Worker, float] = weakref.WeakKeyDictionary()  # last move to each worker

    def start(self) -> None:
        """Modifies: starts the workers not yet running, so that they load while the first page is being made."""
        with self._lock:
            self.workers = [worker for worker in self.workers if worker.alive]
            while len(self.workers) < self.size:
                self.workers.append(Worker())

    def place(self) -> Worker:
        """The least busy worker (least_busy), for a new run: counts it there."""
        with self._lock:
            worker = self.least_busy()
            worker.runs += 1
            return worker

    def least_busy(self) -> Worker:
        """The worker with the fewest playing runs, then fewest runs (started if fewer than size are alive), for an
        experiment job; not counted as a run."""
        with self._lock:
            self.workers = [worker for worker in self.workers if worker.alive]
            if len(self.workers) < self.size:
                self.workers.append(Worker())
            return min(self.workers, key=lambda w: (w.playing, w.runs))

    def to_move(self) -> tuple[list[Worker], Worker] | None:
        """(busiest, idlest) when a playing run should move from one of the workers `busiest` (those with the most
        playing runs) to the worker `idlest` (one with the fewest, the one moved to longest ago): when the most and the
        fewest differ by 2 or more (students left), or by exactly 1 with at least one on idlest (a lone run has a core
        either way) and no move for ROTATE_EVERY seconds (a rotation). Else None.

        The counts are as of each worker's last answer. A move's own answers (hand_over, adopt) bring both workers'
        counts up to date, so a move never makes the next look see a difference that is not there; a count stale for
        another reason (a run that finished or stopped by itself since its worker last answered) can cause one move
        too many, which the next look undoes, never a burst: rotations wait ROTATE_EVERY after any move.
        """
        playing = {worker: worker.playing for worker in list(self.workers) if worker.alive}  # read once: answers go on
        if len(playing) < 2:
            return None
        most, fewest = max(playing.values()), min(playing.values())
        rotate = most - fewest == 1 and fewest >= 1 and time.monotonic() - self.moved_at >= ROTATE_EVERY
        if most - fewest < 2 and not rotate:
            return None
        busiest = [worker for worker, count in playing.items() if count == most]
        idlest = min((worker for worker, count in playing.items() if count == fewest), key=lambda w: self._adopted_at.get(w, 0.0))
        return busiest, idlest

    def moved(self, to: Worker) -> None:
        """Modifies: notes that a run moved to worker `to` now (rotations wait ROTATE_EVERY after it)."""
        self.moved_at = self._adopted_at[to] = time.monotonic()

    def playing(self) -> int:
        """Runs playing on all workers, as of their last answers."""
        return sum(worker.playing for worker in list(self.workers))

    def stop(self) -> None:
        """Modifies: ends every worker (tests; a server's workers end with it)."""
        with self._lock:
            for worker in self.workers:
                worker.stop()
            self.workers = []


POOL = _Pool(WORKERS)
_run_ids = itertools.count()


def _forget(worker: Worker, run_id: int) -> None:
    """A LiveRun was garbage-collected (its session is gone): its worker drops the run. Never waits: any thread may call it."""
    worker.runs -= 1
    try:
        worker.send(run_id, "drop")
    except WorkerGone:
        pass


class LiveRun:
    """A handle on a run in a worker. Every method but the reads (properties, snapshot, frame, with_trainer) modifies the run."""

    _all: ClassVar[weakref.WeakSet[LiveRun]] = weakref.WeakSet()  # every run of this server process, for the page watcher
    _by_token: ClassVar[weakref.WeakValueDictionary[str, LiveRun]] = weakref.WeakValueDictionary()  # for the frame route
    _watcher: ClassVar[threading.Thread | None] = None

    @classmethod
    def find(cls, token: str) -> LiveRun | None:
        """The run whose page was given this token (dropviz/web/frame_route.py), or None."""
        return cls._by_token.get(token)

    @classmethod
    def playing_count(cls) -> int:
        """How many runs of this server process are playing now: the page shares its frames among them."""
        return POOL.playing()

    def __init__(self, config: RunConfig, page_open=None):
        """page_open() -> False once the page that owns this run is gone (Streamlit: its session disconnected).

        A busy server can take seconds between frames, so "no frame lately" is not "nobody watching".
        """
        self._page_open = page_open
        self._gone_since: float | None = None  # when the page_open check first said the page was gone (the run paused)
        self._released = False  # gone for RELEASE_AFTER: its worker dropped the run
        self._lock = threading.RLock()  # one call, restart, move or release at a time
        self.lost: str | None = None  # set when the run had to start again on a new worker: the page says so once
        self._config = config
        self._speed: float | None = None  # the speed limit the worker has
        # Unguessable: whoever holds it can read this run's frames (only its page is given it, over its websocket).
        self.token = secrets.token_urlsafe(16)
        self._start(config)
        LiveRun._all.add(self)
        LiveRun._by_token[self.token] = self
        if page_open is not None:
            LiveRun._watch()

    def _start(self, config: RunConfig) -> None:
        self._worker, self._id = POOL.place(), next(_run_ids)
        self._moved_at = time.monotonic()  # when the run came to its worker: the watcher moves the longest there first
        self._worker.request(self._id, "create", config, None if self._page_open else IDLE_STOP)
        if self._speed is not None:  # a restart on a new worker keeps the page's speed limit
            self._worker.request(self._id, "set_speed", self._speed)
        self._finalizer = weakref.finalize(self, _forget, self._worker, self._id)

    def _call(self, op: str, *args):
        """op on the run in its worker; if the worker died or dropped the run, once more with the run started again.

        Under the run's lock: the page watcher may move the run to another worker, never in the middle of a call.
        """
        with self._lock:
            if self._released:
                self._restart(RELEASED)
            try:
                return self._worker.request(self._id, op, *args)
            except WorkerGone:
                self._release()
                self._restart(LOST)
                return self._worker.request(self._id, op, *args)

    def _move(self, to: Worker) -> bool:
        """Modifies: the run goes on in worker `to`, exactly where it was (and _moved_at is now). False when it was not
        playing (not moved). When `to` fails to take it (died meanwhile), the run stays on its worker, nothing lost,
        and the error is raised."""
        with self._lock:
            if self._released or not self._worker.request(self._id, "state")[0]:
                return False
            moving = self._worker.request(self._id, "hand_over")
            try:
                to.request(self._id, "adopt", moving)
            except (WorkerGone, WorkerError):
                self._worker.request(self._id, "adopt", moving)  # `to` failed: the run goes back where it was, as it was
                raise
            self._finalizer.detach()
            self._worker.runs -= 1
            to.runs += 1
            self._worker = to
            self._moved_at = time.monotonic()
            self._finalizer = weakref.finalize(self, _forget, to, self._id)
            return True

    def _release(self) -> None:
        """Modifies: the run is no longer counted on its worker (call under the lock)."""
        if not self._released:
            self._finalizer.detach()
            self._worker.runs -= 1
            self._released = True

    def _restart(self, why: str) -> None:
        """Modifies: the run starts again from epoch 0 on a worker, and says why (call under the lock, once released)."""
        self._start(self._config)
        self._released = False
        self.lost = why

    # --- read ------------------------------------------------------------------------------
    def state(self) -> tuple[bool, bool]:
        """(playing, finished), in one question to the worker."""
        return self._call("state")

    @property
    def playing(self) -> bool:
        return self.state()[0]

    @property
    def finished(self) -> bool:
        return self.state()[1]

    @property
    def config(self) -> RunConfig:
        return self._config

    @property
    def data(self):
        """The run's Dataset (frozen arrays)."""
        return self.with_trainer(_data)

    def snapshot(self) -> Snapshot:
        """A frozen picture of the run now; also tells the run that its page is still there."""
        return self._call("snapshot")

    def frame(self, presenting: bool = False, source: str | None = None) -> Frame:
        """What the page shows of the run now (frames.Frame), made in the worker; tells the run its page is there.

        source: where the page asks for the next frame while the run plays (frame_route.frame_source)."""
        return self._call("frame", presenting, source)

    def with_trainer(self, read):
        """read(trainer) in the worker, for the page's exports and tests: read must be picklable (a module-level function)."""
        return self._call("read", read)

    # --- control -----------------------------------------------------------------------------
    def set_speed(self, epochs_per_second: float | None) -> None:
        """Modifies: the speed limit, counted from now (a class can watch 300 epochs instead of a blink)."""
        if epochs_per_second != self._speed:  # every page run sets it: ask the worker only when it changes
            self._call("set_speed", epochs_per_second)
            self._speed = epochs_per_second

    def play(self) -> None:
        """Modifies: the run trains in its turns until Pause, its last epoch, or its page is gone."""
        self._call("play")

    def pause(self) -> None:
        """Modifies: stops training after the current turn (at most worker.SLICE seconds)."""
        self._call("pause")

    def step(self) -> None:
        """Modifies: pauses, then one optimizer step."""
        self._call("step")

    def reset(self, config: RunConfig | None = None) -> None:
        """Modifies: pauses and starts again from epoch 0 (with config, or the current one)."""
        self._call("reset", config)
        self._config = config or self._config

    def update(self, config: RunConfig) -> bool:
        """Modifies: live settings in place (see Trainer.update); False when a reset is needed."""
        if config == self._config:  # every page run hands in its settings: ask the worker only when they change
            return True
        applied, self._config = self._call("update", config)
        return applied

    # --- the page watcher ---------------------------------------------------------------------
    @classmethod
    def _watch(cls) -> None:
        with _watcher_lock:
            if cls._watcher is None or not cls._watcher.is_alive():
                cls._watcher = threading.Thread(target=cls._watch_pages, name="dropviz-page-watcher", daemon=True)
                cls._watcher.start()

    @classmethod
    def _watch_pages(cls) -> None:
        """Every PAGE_CHECK seconds: pauses the runs whose page is gone, so that a closed tab stops costing CPU."""
        while True:
            time.sleep(PAGE_CHECK)
            cls._check_pages()  # in a call of its own: a loop variable left here would keep a forgotten run alive

    @classmethod
    def _check_pages(cls) -> None:
        """Pauses the runs of pages gone; then, if one worker has 2 playing runs more than another, or 1 more and it is
        time for a rotation (_Pool.to_move), moves one playing run over: of the busiest workers' runs, the one that came
        to its worker longest ago. Modifies those runs and POOL's move times."""
        for run in list(cls._all):
            run._check_page()
        move = POOL.to_move()
        if move is not None:
            busiest, idlest = move
            for run in sorted((run for run in list(cls._all) if run._worker in busiest), key=lambda run: run._moved_at):
                try:
                    if run._move(idlest):
                        POOL.moved(idlest)
                        break
                except (WorkerGone, WorkerError):
                    continue  # a worker died meanwhile: the runs restart on their next call

    def _check_page(self) -> None:
        """Pauses the run when its page is gone; after RELEASE_AFTER seconds gone, its worker drops it (memory)."""
        if self._page_open is None:
            return
        if self._page_open():
            self._gone_since = None
            return
        with self._lock:
            if self._released:
                return
            try:
                if self._gone_since is None:
                    self._gone_since = time.monotonic()
                    self._worker.send(self._id, "pause")
                elif time.monotonic() - self._gone_since > RELEASE_AFTER:
                    self._worker.send(self._id, "drop")
                    self._release()
            except WorkerGone:
                pass


_watcher_lock = threading.Lock()


def _data(trainer):
    return trainer.data


class ExperimentJob:
    """An experiment (experiments.EXPERIMENTS[name] on inputs) running in a worker process, with progress and
    cancel. Modifies itself only.

    The worker runs it between its runs' turns (dropviz/web/worker.py), so that an experiment takes turns with the
    class's live runs instead of taking a core of its own. running asks the worker how the job stands; the other
    properties are as of that question.
    """

    def __init__(self, name: str, inputs):
        self.fraction = 0.0
        self.result = None
        self.error: str | None = None
        self.cancelled = False
        self.seconds: float | None = None  # how long it took in its worker, once done
        self._ended = False
        self._worker, self._id = POOL.least_busy(), next(_run_ids)
        try:
            self._worker.request(self._id, "job_start", name, inputs)
        except WorkerGone:
            self._end(error=LOST_JOB)
        self._finalizer = weakref.finalize(self, _forget_job, self._worker, self._id)

    @property
    def running(self) -> bool:
        if not self._ended:
            try:
                state, fraction, value, seconds = self._worker.request(self._id, "job_state")
            except WorkerGone:
                self._end(error=LOST_JOB)
            else:
                self.fraction = fraction
                if state == "done":
                    self._end(result=value, seconds=seconds)
                elif state == "error":
                    self._end(error=value, seconds=seconds)
                elif state == "cancelled":
                    self.cancelled = True
                    self._end(seconds=seconds)
        return not self._ended

    def _end(self, result=None, error: str | None = None, seconds: float | None = None) -> None:
        self.result, self.error, self.seconds, self._ended = result, error, seconds, True
        if result is not None:
            self.fraction = 1.0

    def cancel(self) -> None:
        """Modifies: asks the work to stop at its next progress call."""
        if not self._ended:
            self._worker.send(self._id, "job_cancel")

    def wait(self, timeout: float | None = None) -> None:
        """Until the job has ended, or timeout seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.02)


LOST_JOB = "the training process stopped (the server ran short of memory or was restarted); run the experiment again"


def _forget_job(worker: Worker, job_id: int) -> None:
    """The page forgot the job: its worker drops it (and stops it at its next progress call, if it still runs)."""
    if worker.alive:
        try:
            worker.send(job_id, "job_drop")
        except WorkerGone:
            pass
