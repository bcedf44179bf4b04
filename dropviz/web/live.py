"""LiveRun: a page's handle on its run, which lives in exactly one worker process (worker.py); not its experiments (jobs.py).

The server starts one worker per core with its first page and places each run on the worker with the fewest playing
runs. Play passes the caps first (cost of one step, runs per computer, runs per server); the page says which applied.
A watcher thread looks every PAGE_CHECK seconds: it ends workers past their time limit and starts their runs again
elsewhere (from epoch 0, still playing if they were; a new token tells the page); it pauses the run of a page gone and
drops it RELEASE_AFTER seconds later; and when one worker has more playing runs than another, it moves one over (a
rotation every ROTATE_EVERY seconds when they differ by one), the destination confirming before the source lets go.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import operator
import os
import queue
import secrets
import threading
import time
import weakref
from typing import ClassVar

from ..core.config import RunConfig, io_sizes, weight_count
from .worker import Runs, UnknownRun, Worker, WorkerGone

IDLE_STOP = 2.0  # without a page_open check: seconds without a frame or snapshot after which a playing run pauses
PAGE_CHECK = 0.5  # seconds between two looks at every run's page and worker
RELEASE_AFTER = 30.0  # seconds a page may be gone before its run is dropped (memory); Streamlit forgets it after 120
WORKERS = max(1, os.cpu_count() or 1)  # training processes: one per core
ROTATE_EVERY = 1.0  # seconds between rotations: the runs of a class of 31 take turns on the crowded worker
CLIENT_RUNS = 2  # runs one computer may have playing: its tabs cannot take a class's cores
SERVER_RUNS = 32 * WORKERS  # runs playing at once: past it, each would get too few epochs a second to watch
STEP_COST = 2e9  # multiply-adds one step may cost (step_cost): tens of milliseconds of one core, the longest others wait
LOST = "The training process stopped (it stopped answering, ran short of memory or was restarted): this run started again from epoch 0."
RELEASED = f"This page was away for more than {RELEASE_AFTER:.0f} s, and its run was dropped to free memory: it started again from epoch 0."
LOST_SHOWN = 10.0  # seconds a restart's notice stays on the page at least, whatever reruns come meanwhile
log = logging.getLogger(__name__)


def step_cost(config: RunConfig) -> float:
    """Multiply-adds of one step of the pair: forward and backward on the batch, and the evaluation of every training
    and validation point each epoch ends with, spread over its steps."""
    steps = math.ceil(config.n_train / config.batch_size)
    return 2 * weight_count(config.hidden, *io_sizes(config)) * (3 * config.batch_size + (config.n_train + config.n_val) / steps)


class _Pool:
    """The server's workers and their watcher, started on first use; a lost worker is replaced. Modifies itself and its
    workers' adopted_at."""

    def __init__(self, size: int):
        self.size, self.workers, self._lock, self.stopped, self.watcher = size, [], threading.Lock(), False, None
        self.moved_at = 0.0  # time.monotonic() of the last move: rotations wait ROTATE_EVERY after it

    def start(self) -> list[Worker]:
        """Modifies: ends workers past their time limit and replaces those gone. The live ones."""
        with self._lock:
            if self.watcher is None:
                self.watcher = threading.Thread(target=_watch, args=(self,), name="dropviz-page-watcher", daemon=True)
                self.watcher.start()
            self.workers = [worker for worker in self.workers if worker.check() or worker.alive]  # check() may lose it
            self.workers += [Worker() for _ in range(self.size - len(self.workers))]
            return list(self.workers)

    def to_move(self) -> tuple[list[Worker], Worker] | None:
        """(busiest, idlest) when a playing run should move from one of the workers with the most playing runs to the
        one with the fewest (moved to longest ago): they differ by 2 or more, or by 1 with a run on each and no move
        for ROTATE_EVERY seconds. Counts are as of each worker's last answer."""
        playing = {worker: len(worker.playing) for worker in list(self.workers) if worker.alive}
        most, fewest = max(playing.values(), default=0), min(playing.values(), default=0)
        rotate = most - fewest == 1 and fewest >= 1 and time.monotonic() - self.moved_at >= ROTATE_EVERY
        if len(playing) < 2 or (most - fewest < 2 and not rotate):
            return None
        idlest = min((w for w, count in playing.items() if count == fewest), key=operator.attrgetter("adopted_at"))
        return [worker for worker, count in playing.items() if count == most], idlest

    def moved(self, to: Worker) -> None:
        """Modifies: notes that a run moved to worker `to` now."""
        self.moved_at = to.adopted_at = time.monotonic()

    def stop(self) -> None:
        """Modifies: ends every worker and the watcher, for good: its runs do not start again (tests; a server's workers
        end with it)."""
        with self._lock:
            self.stopped = True
            for worker in self.workers:
                worker.lose()
                worker.process.wait(5)
            self.workers = []


POOL = _Pool(WORKERS)
_ids, _play_lock = itertools.count(), threading.Lock()
# (worker, run id) of runs whose handle was collected (their session ended): the watcher's next look drops them there.
# A finalizer may run inside any call, even one holding a worker's lock, so it only notes (SimpleQueue.put is safe there).
_drops: queue.SimpleQueue[tuple[Worker, int]] = queue.SimpleQueue()


def _remote(method):
    """A LiveRun method that calls `method` (one of Runs') on the run in its worker, with its documentation."""
    return functools.wraps(method)(lambda self, *args: self._call(method, *args))


class LiveRun:
    """A handle on a run in a worker. Every method but the reads (playing, finished, data, state, snapshot, frame,
    with_trainer) modifies the run."""

    _all: ClassVar[weakref.WeakSet[LiveRun]] = weakref.WeakSet()  # every run of this server, for the watcher
    _by_token: ClassVar[weakref.WeakValueDictionary[str, LiveRun]] = weakref.WeakValueDictionary()  # for the frame route
    released: ClassVar[set[str]] = set()  # tokens of runs dropped, started again or forgotten: the route answers 410

    @classmethod
    def find(cls, token: str) -> LiveRun | None:
        """The run whose page was given this token (dropviz/web/frame_route.py), or None."""
        return None if token in cls.released else cls._by_token.get(token)

    @staticmethod
    def playing_count() -> int:
        """Runs playing on this server now: the page shares its frames among them."""
        return sum(len(worker.playing) for worker in list(POOL.workers) if worker.alive)

    def __init__(self, config: RunConfig, page_open=None, client: str | None = None):
        """page_open() -> False once the page is gone (its session disconnected); client: the computer the page is on
        (None: unknown, no cap per computer)."""
        self._page_open, self.client, self.config, self._speed, self.token = page_open, client, config, None, ""
        self._gone_since: float | None = None  # when page_open first said the page was gone
        self._lock, self._pool = threading.RLock(), POOL  # one call, restart or move at a time; where it lives
        self._start()
        LiveRun._all.add(self)

    def _start(self, why: str | None = None) -> None:
        """Modifies: the run starts from epoch 0 on the least busy worker, with the page's speed limit, playing if it was
        as of its worker's last answer, under a new token (a page asking with the old one gets 410 and reruns, to learn why)."""
        playing = bool(self.token) and (self._id in self._worker.playing or self._resume)
        if self.token:  # its run leaves its worker
            LiveRun.released.add(self.token)
            self._leave(self._worker)
        self.token = secrets.token_urlsafe(16)  # whoever holds it reads this run's frames: only its page is given it
        LiveRun._by_token[self.token] = self
        self._token_finalizer = weakref.finalize(self, LiveRun.released.add, self.token)
        self._id, self._moved_at, self._unknown = next(_ids), time.monotonic(), False  # unknown: its worker forgot it
        self._worker = min(self._pool.start(), key=lambda w: (len(w.playing), w.runs))  # fewest playing runs, then runs
        self._finalizer = weakref.finalize(self, _drops.put, (self._worker, self._id))  # called: released, dropped
        self.lost, self._lost_shown = why, None  # why the run started again from epoch 0, and when the page first said so
        self._resume = playing  # until its worker confirms: a start that fails leaves it for the next one
        self._worker.call(Runs.create, self._id, self.config, None if self._page_open else IDLE_STOP, self._speed, playing)
        self._resume = False

    def _call(self, method, *args):
        """method on the run in its worker; when the worker was lost or does not know the run, the run starts again
        (LOST, RELEASED) and the call goes to it there."""
        with self._lock:
            why = None if self._finalizer.alive else RELEASED
            for _ in range(3):  # the worker a restart lands on may be lost too (two stopped at once): then another
                try:
                    if why is not None:
                        self._start(why)
                    return self._worker.call(method, self._id, *args)
                except (WorkerGone, UnknownRun):
                    why = LOST
            raise WorkerGone("no training process answered")

    async def frame_async(self, presenting: bool, source: str):
        """frame(), awaited on the event loop (no thread held). WorkerGone when the worker is lost or does not know
        the run: the watcher starts it again, and the page, asking again, learns why."""
        worker = self._worker
        try:
            return await asyncio.wrap_future(worker.submit(Runs.frame, self._id, presenting, source))
        except UnknownRun:
            self._unknown = self._worker is worker  # else it moved meanwhile, and the page's next request finds it
            raise WorkerGone("the run is not in its training process") from None

    state, snapshot, frame, with_trainer = _remote(Runs.state), _remote(Runs.snapshot), _remote(Runs.frame), _remote(Runs.read)
    pause, step = _remote(Runs.pause), _remote(Runs.step)
    playing = property(lambda self: self.state()[0])
    finished = property(lambda self: self.state()[1])
    data = property(lambda self: self.with_trainer(operator.attrgetter("data")), doc="The run's Dataset (frozen arrays).")

    def said_lost(self) -> None:
        """Modifies: the page has shown `lost` in a whole page run; it is spent once it has been on the page LOST_SHOWN
        seconds (counted from its first showing, not from the restart, which waits for a new worker to start), so that
        the reruns a restart brings (a second restart when two workers stop at once) keep it steady."""
        self._lost_shown = self._lost_shown or time.monotonic()
        if time.monotonic() - self._lost_shown > LOST_SHOWN:
            self.lost = None

    def set_speed(self, epochs_per_second: float | None) -> None:
        """Modifies: the speed limit, counted from now."""
        if epochs_per_second != self._speed:  # every page run sets it: ask the worker only when it changes
            self._call(Runs.set_speed, epochs_per_second)
            self._speed = epochs_per_second

    def play(self) -> str | None:
        """Modifies: the run trains in its turns until Pause, its last epoch, or its page is gone; unless a cap
        applies: then it stays paused, and the reason is returned."""
        with _play_lock:  # one Play at a time: the next one counts this one's run among those playing
            if (capped := self._cap()) is None:
                self._call(Runs.play)
        return capped

    def _cap(self) -> str | None:
        """Which cap a Play of this run would meet, and why, or None."""
        cost = step_cost(self.config)
        others = [run for run in list(LiveRun._all) if run is not self and run._id in run._worker.playing]
        if cost > STEP_COST:
            return (
                f"Play is off for this setup: one step costs about {cost / 1e9:.1f} billion multiply-adds, more than the "
                f"{STEP_COST / 1e9:.1f} billion a run may take on a shared server (the others wait while it steps). "
                "Use fewer or narrower hidden layers, a smaller batch, or fewer points."
            )
        if len(others) >= SERVER_RUNS:
            return f"The server is training {len(others)} runs, its limit (so that each keeps a speed worth watching): try again soon."
        if self.client is not None and sum(run.client == self.client for run in others) >= CLIENT_RUNS:
            return f"This computer already has {CLIENT_RUNS} runs training, the most one computer may (so a class shares the server): pause one first."
        return None

    def reset(self, config: RunConfig | None = None) -> None:
        """Modifies: pauses and starts again from epoch 0 (with config, or the current one)."""
        self.config = self._call(Runs.reset, config)

    def update(self, config: RunConfig) -> bool:
        """Modifies: live settings in place (see Trainer.update); False when a reset is needed."""
        if config == self.config:  # every page run hands in its settings: ask the worker only when they change
            return True
        applied, self.config = self._call(Runs.update, config)
        return applied

    def _check(self) -> None:
        """Modifies: starts the run again when its worker is lost or forgot it; pauses it when its page is gone, and
        after RELEASE_AFTER seconds gone its worker drops it."""
        with self._lock:
            if not self._finalizer.alive:
                return
            if not self._worker.alive or self._unknown:
                self._start(LOST)
            if self._page_open is None or self._page_open():
                self._gone_since = None
            elif self._gone_since is None:
                self._gone_since = time.monotonic()
                self._worker.submit(Runs.pause, self._id)  # its answer's playing ids say it paused: it starts again paused
            elif time.monotonic() - self._gone_since > RELEASE_AFTER:
                self._leave(self._worker)
                self._token_finalizer()

    def _move(self, to: Worker) -> bool:
        """Modifies: a playing run goes on in worker `to`, exactly where it was; False when it was not playing. The
        source holds the run until `to` has it: if `to` fails, the run goes on where it was, and WorkerGone is raised."""
        with self._lock:
            source = self._worker
            if not self._finalizer.alive or self._id not in source.playing or not source.alive:
                return False
            moving = source.call(Runs.hand_over, self._id)
            try:
                to.call(Runs.adopt, self._id, moving)
            except WorkerGone:
                source.submit(Runs.hand_over, self._id, False)
                raise
            self._worker, self._moved_at = to, time.monotonic()  # frames go to `to` from here on
            self._leave(source)  # which drops the copy it held
            self._finalizer = weakref.finalize(self, _drops.put, (to, self._id))
            return True

    def _leave(self, worker: Worker) -> None:
        """Modifies: the worker drops the run now, not when this handle is collected; the run counts as released."""
        if self._finalizer.detach():
            worker.submit(Runs.drop, self._id)


# --- the watcher -------------------------------------------------------------------------------------
def _watch(pool: _Pool) -> None:
    """A pool's watcher thread: a look every PAGE_CHECK seconds until the pool stops."""
    while not pool.stopped:
        time.sleep(PAGE_CHECK)
        try:
            _check_pages(pool)  # in a call of its own: a loop variable left here would keep a forgotten run alive
        except Exception:  # whatever one look meets, the next look comes
            log.exception("dropviz page watcher")


def _check_pages(pool: _Pool) -> None:
    """Ends workers past their limit, starts again the runs they held, pauses or drops the runs of pages gone, and
    moves a playing run when the workers' counts call for it (_Pool.to_move). Modifies the pool's runs and the pool."""
    pool.start()
    while not _drops.empty():
        worker, run_id = _drops.get()
        worker.submit(Runs.drop, run_id)
    runs = [run for run in list(LiveRun._all) if run._pool is pool]
    for run in runs:
        try:
            run._check()
        except WorkerGone:
            pass  # a worker lost meanwhile: the next look starts its runs again
    busiest, idlest = pool.to_move() or ([], None)
    for run in sorted((run for run in runs if run._worker in busiest), key=lambda run: run._moved_at):
        try:
            if run._move(idlest):
                pool.moved(idlest)
                break
        except WorkerGone:
            break  # idlest was lost: the next look sees new counts
