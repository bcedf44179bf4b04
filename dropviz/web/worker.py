"""Worker processes: each owns many sessions' runs, trains them in turns by CPU time and makes their frames; the protocol.

Why processes: the page server is one interpreter, and training in its threads could not use the cores. A worker is
one process with one thread: between two turns it answers every waiting request. A turn goes to the playing run that
has had the least CPU time here (training and frames), so a run whose steps are expensive gets the same share of the
core as one whose steps are cheap. Experiments run in processes of their own (jobs.py).

The protocol, in one place: a request is (method, args), pickled, where method is one of Runs' methods (it travels by
reference: no table of names) and args start with the run's id; the worker answers each request in the order it came
with (error or None, value, ids of its playing runs, how many runs it holds), and says it is ready with one such
answer before any request. Worker is the server's handle on one process: a request not answered within LIMIT seconds
makes the worker lost (killed; every waiting request fails with WorkerGone), so no caller waits longer than that.
"""

import collections
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from ..core.chunks import StepChunks
from ..core.engine import Trainer
from ..figures.boundary import BOUNDARY_GRID
from .frames import make_frame

LIMIT = 3.0  # seconds a worker may take to answer: many times its longest turn (the step cap), a frame, a move
BOOT_LIMIT = 60.0  # seconds a new worker may take to load NumPy, the engine and the compiled kernel (compiling it if uncached)
SLICE = 0.01  # seconds of training per turn: a frame, a Pause or another run waits about this (or one step) at most
BURST = 1.5  # seconds between two live changes that make them one burst: one event, one marker on the curves
IDLE_PAUSE = 0.02  # seconds a worker sleeps when its playing runs are all at their speed limit
CATCH_UP = 0.25  # seconds of its speed limit a run held back (a busy machine) may make up at once, so it never races ahead
WORKER_ENV = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1")  # one core per process
# glibc: keep freed arrays of up to 32 MB in the heap, so each frame's temporaries are not faulted in again.
WORKER_ENV |= {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


class WorkerGone(RuntimeError):
    """The worker process ended, or missed LIMIT and was ended: its runs are lost."""


class WorkerError(RuntimeError):
    """A request failed inside the worker; the message is the error's type and text."""


class UnknownRun(WorkerError):
    """The worker has no run of this id: it was dropped, or moved away."""


def spawn(module: str = __name__) -> tuple[subprocess.Popen, Connection]:
    """Starts `python -m module FD` (one core's threads): the process and the connection to it."""
    parent, child = socket.socketpair()
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds the dropviz package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])), **WORKER_ENV}
    command = [sys.executable, "-m", module, str(child.fileno())]
    process = subprocess.Popen(command, pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL)
    child.close()
    return process, Connection(parent.detach())


# --- the server's side -----------------------------------------------------------------------------
class Worker:
    """One worker process. Thread-safe; submit() never waits: a one-thread executor sends, a reader thread hands each
    answer to the oldest waiting Future and enforces the limit (check(); call() waits no longer than it either).
    Modifies: its process, alive, playing, runs, adopted_at."""

    def __init__(self):
        self.process, self._connection = spawn()
        self._lock, self._sender, self.alive, self.ready = threading.Lock(), ThreadPoolExecutor(1, "dropviz-send"), True, 0.0
        self._waiting = collections.deque([(Future(), time.monotonic())])  # (Future, when sent) in order; first: the ready answer
        self.playing, self.runs = frozenset(), 0  # ids of its playing runs and how many it holds, as of its last answer
        self.adopted_at = 0.0  # when a run last moved here (the pool moves the next one to the idle worker waiting longest)
        threading.Thread(target=self._read, name="dropviz-worker-read", daemon=True).start()

    def submit(self, method, *args) -> Future:
        """method(runs, *args) in the worker (method: one of Runs'): a Future of its value. Arguments that do not pickle
        raise here."""
        future, data = Future(), pickle.dumps((method, args))
        with self._lock:
            if self.alive:
                self._waiting.append((future, time.monotonic()))
                try:
                    self._sender.submit(self._connection.send_bytes, data)  # an OSError there: the reader sees the end
                    return future
                except RuntimeError:  # the interpreter is exiting, and its executors take no new work
                    self._waiting.pop()
        future.set_exception(WorkerGone("the training process has ended"))
        return future

    def call(self, method, *args):
        """submit(), waited for: its value (raises WorkerGone, WorkerError)."""
        try:
            return self.submit(method, *args).result(LIMIT + (1 if self.ready else BOOT_LIMIT))
        except TimeoutError:  # the reader is stuck inside a half-sent answer: the limit holds all the same
            self.lose()
            raise WorkerGone("the training process stopped answering") from None

    def check(self) -> None:
        """Modifies: loses the worker when a request has waited more than LIMIT seconds (BOOT_LIMIT before it is ready)."""
        with self._lock:
            sent = self._waiting[0][1] if self._waiting else None
        if sent is not None and time.monotonic() - max(sent, self.ready) > (LIMIT if self.ready else BOOT_LIMIT):
            self.lose()

    def lose(self) -> None:
        """Modifies: ends the process (SIGKILL ends a stopped one too); every waiting request fails with WorkerGone. The
        playing ids stay as last known: the runs that were playing play on where they start again."""
        with self._lock:
            waiting, self.alive = (self._waiting if self.alive else ()), False
            self._waiting = collections.deque()
        self._sender.shutdown(wait=False, cancel_futures=True)
        self.process.kill()
        for future, _ in waiting:
            future.set_exception(WorkerGone("the training process has ended"))

    def _read(self) -> None:
        try:
            while self.alive:  # the watcher checks too, but may be waiting on a new worker's start
                if self._connection.poll(0.1):
                    error, value, self.playing, self.runs = self._connection.recv()
                    with self._lock:
                        future = self._waiting.popleft()[0] if self._waiting else Future()  # none: lost meanwhile
                    self.ready = self.ready or time.monotonic()
                    future.set_exception(error) if error is not None else future.set_result(value)
                self.check()
        except (EOFError, OSError):  # the process ended
            pass
        except Exception:  # an answer this process cannot load: the stream is lost, and so is the worker
            logging.getLogger(__name__).exception("dropviz worker answer")
        self.lose()
        self.process.wait(5)  # reaped: no zombie left behind


# --- the worker's side -----------------------------------------------------------------------------
class _Run:
    """One session's run inside a worker. Modified by Runs only."""

    def __init__(self, config, idle_stop: float | None, speed: float | None):
        self.trainer, self.idle_stop, self.speed = Trainer(config), idle_stop, speed  # speed: epochs/s at most, or None
        self.playing = self.held = False  # held: handed over to another worker, not trained until taken back or dropped
        self.pace_from, self.seen = (time.monotonic(), 0.0), time.monotonic()  # (when, epoch_progress) the limit counts from
        self.last_change = -BURST  # when the page last changed a live setting
        self.cpu = 0.0  # CPU seconds here: the next turn goes to the playing run with the least
        self.chunks = StepChunks(SLICE)  # steps per call to the Trainer, from the last call's CPU time per step
        self.shown: tuple = ()  # (what the last frame showed, that frame): asked again with nothing new, it is sent again

    def allowed_steps(self) -> int | None:
        """Steps the speed limit allows now (None: no limit); 0 when not playing. Modifies pace_from when the run is more
        than CATCH_UP seconds behind its limit: the limit then counts from CATCH_UP seconds ago."""
        if not self.playing or self.held or not self.speed:
            return None if self.playing and not self.held else 0
        now, (since, start) = time.monotonic(), self.pace_from
        behind = start + (now - since) * self.speed - self.trainer.epoch_progress  # epochs the limit allows now
        if behind > CATCH_UP * self.speed:
            self.pace_from, behind = (now - CATCH_UP, self.trainer.epoch_progress), CATCH_UP * self.speed
        return int(behind * self.trainer.steps_per_epoch)

    def train(self, allowed: int | None) -> None:
        """A turn: about SLICE seconds of steps (at least one), within allowed, in calls of at most an epoch (the
        Trainer's evaluation falls between them); its CPU time counts."""
        began, left = time.thread_time(), allowed or 1 << 30
        while left > 0 and not self.trainer.finished and time.thread_time() - began < SLICE:
            call = self.chunks.clock()
            taken = self.trainer.train(min(self.chunks.next(), self.trainer.steps_per_epoch, left))
            self.chunks.took(call, taken)
            left -= taken
        self.cpu += time.thread_time() - began
        self.playing = self.playing and not self.trainer.finished


class Runs(dict):
    """The protocol: each public method is a request the server may send, the run's id first. Every run of one worker
    by id; single-threaded; each request modifies the run it names; an id not here raises UnknownRun."""

    def __missing__(self, run_id: int) -> _Run:
        raise UnknownRun(f"no run {run_id} in this training process")

    def playing_ids(self) -> frozenset[int]:
        return frozenset(run_id for run_id, run in self.items() if run.playing)

    def _join(self, run: _Run) -> _Run:
        """A run that starts playing or arrives starts level with the least CPU time here: it neither owes time from before
        nor brings another worker's count, which would keep it waiting until the runs here caught up."""
        run.cpu = min((r.cpu for r in self.values() if r.playing and r is not run), default=run.cpu)
        return run

    def create(self, run_id: int, config, idle_stop: float | None, speed: float | None, playing: bool = False) -> None:
        self[run_id] = _Run(config, idle_stop, speed)
        if playing:
            self.play(run_id)

    def drop(self, run_id: int) -> None:
        self.pop(run_id, None)

    def hand_over(self, run_id: int, held: bool = True) -> _Run:
        """The run, held here (untrained) until dropped, or taken back (held False) if the other worker fails to adopt it."""
        self[run_id].held = held
        return self[run_id]

    def adopt(self, run_id: int, run: _Run) -> None:
        run.held = False
        self[run_id] = self._join(run)

    def play(self, run_id: int) -> None:
        run, now = self[run_id], time.monotonic()
        run.playing, run.seen, run.pace_from = not run.trainer.finished, now, (now, run.trainer.epoch_progress)
        self._join(run)

    def pause(self, run_id: int) -> None:
        self[run_id].playing = False

    def step(self, run_id: int) -> None:
        """Pauses, then one optimizer step."""
        self.pause(run_id)
        self[run_id].trainer.step()

    def reset(self, run_id: int, config=None):
        """Pauses and starts again from epoch 0 (with config, or the current one): the config in force."""
        self.pause(run_id)
        self[run_id].trainer = Trainer(config or self[run_id].trainer.config)
        return self[run_id].trainer.config

    def update(self, run_id: int, config):
        """(True, config in force) when the change applied in place; (False, old config) when it needs a reset.
        Changes less than BURST apart are one burst (a slider moved with the arrow keys): they share one event."""
        run, now = self[run_id], time.monotonic()
        burst, run.last_change = now - run.last_change < BURST, now
        return run.trainer.update(config, burst), run.trainer.config

    def set_speed(self, run_id: int, epochs_per_second: float | None) -> None:
        run = self[run_id]
        run.speed, run.pace_from = epochs_per_second, (time.monotonic(), run.trainer.epoch_progress)

    def state(self, run_id: int) -> tuple[bool, bool, float]:
        """(playing, finished, CPU seconds here, counted from the least of its fellows' when it joined)."""
        return self[run_id].playing, self[run_id].trainer.finished, self[run_id].cpu

    def frame(self, run_id: int, presenting: bool = False, source: str | None = None):
        """The page's frame (frames.Frame), made here; its CPU time counts as the run's; tells the run its page is there.
        source: where the page asks next. When nothing it shows changed since the last one (no step since: on a
        crowded worker a page may ask again before its run's next turn), the last one is sent again, at no cost."""
        run, began, sharing = self[run_id], time.thread_time(), len(self.playing_ids()) - 1
        run.seen, trainer = time.monotonic(), run.trainer
        shows = (trainer, trainer.config, trainer.step_count, run.playing, sharing if run.playing else 0, presenting, source)
        if not run.shown or any(a is not b and a != b for a, b in zip(run.shown[0], shows)):
            made = make_frame(trainer.snapshot(BOUNDARY_GRID), trainer.data, trainer.config.epochs, *shows[3:])
            run.shown = (shows, made)
        run.cpu += time.thread_time() - began
        return run.shown[1]

    def snapshot(self, run_id: int):
        """A frozen picture of the run now (records.Snapshot); also tells the run that its page is still there."""
        self[run_id].seen = time.monotonic()
        return self[run_id].trainer.snapshot(BOUNDARY_GRID)

    def read(self, run_id: int, read):
        """read(trainer), for exports and tests: read must be picklable (a module-level function, operator.attrgetter)."""
        return read(self[run_id].trainer)

    def train_turn(self) -> bool:
        """Modifies: one turn for the playing run with the least CPU time that its speed limit lets train. False: none."""
        now, ready = time.monotonic(), []
        for run in self.values():
            if run.playing and run.idle_stop is not None and now - run.seen > run.idle_stop:
                run.playing = False  # nobody has asked for a frame lately and no page check was handed in
            if (allowed := run.allowed_steps()) is None or allowed > 0:
                ready.append((run.cpu, allowed, run))
        if ready:
            _, allowed, run = min(ready, key=lambda entry: entry[0])
            run.train(allowed)
        return bool(ready)


def serve(connection: Connection) -> None:
    """The worker's loop: a turn of training, then every waiting request answered; ends when the server does."""
    from ..core.kernel import warm_up

    warm_up()  # the compiled kernel, loaded (compiled, on a cold cache) before the time limit counts
    runs = Runs()
    connection.send((None, None, frozenset(), 0))  # ready
    while True:
        trained = runs.train_turn()
        if not connection.poll(0 if trained else IDLE_PAUSE if runs.playing_ids() else None):
            continue
        while connection.poll(0):
            method, args = connection.recv()
            try:
                data = pickle.dumps((None, method(runs, *args), runs.playing_ids(), len(runs)))
            except Exception as error:  # noqa: BLE001 - raised in the server as WorkerError; the worker goes on
                error = error if isinstance(error, UnknownRun) else WorkerError(f"{type(error).__name__}: {error}")
                data = pickle.dumps((error, None, runs.playing_ids(), len(runs)))
            connection.send_bytes(data)


if __name__ == "__main__":
    import dropviz.web.worker as module  # noqa: PLW0406 - the module's own classes: what it pickles, the server can load

    try:
        module.serve(Connection(int(sys.argv[1])))
    except (EOFError, OSError):  # the server ended
        pass
