"""Training workers: processes that own many sessions' Trainers, train them in turns and make their frames.

Why processes: a Streamlit server is one Python process. When its sessions trained and made their frames
in threads, they shared one interpreter lock, and a class's server could not use its cores
(bench/load.py). A worker is one process with one thread. It trains its playing runs
round-robin, SLICE seconds per turn, and answers requests between turns: no run ever trains in two
threads, a run waits for the others' turns only, and a request waits at most one turn.

A worker also runs the experiments pages ask for (the Experiments tab), one at a time, inside the same loop:
between two of its progress calls (sweeps.REPORT_EVERY apart) the experiment lets every playing run take a turn and
every waiting request be answered. So no process ever computes in two threads, and a class's runs go on.

Parent side: Worker, a handle on one process (start, request, dead or alive), used by dropviz/web/live.py.
Child side: serve(), run as `python -m dropviz.web.worker FD`. The protocol, over one socket:
  parent -> child  (request_id, run_id, op, args)   op: a method of _Runs named in OPS
  child -> parent  (request_id, ok, value, playing)  value: the result, or the error's text when not ok;
                                                      playing: runs of this worker that play now
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path

from ..core.engine import Trainer
from ..figures.boundary import BOUNDARY_GRID
from .frames import make_frame
from .pacing import Pacer

# Seconds of training per turn: short, so that a frame, a Pause or another run never waits long, and a worker's round
# of a class's runs fits in a page's frame period, each frame showing new steps (bench/load.py).
SLICE = 0.01
BURST = 1.5  # seconds between two live changes that make them one burst: one event, one marker on the curves
IDLE_PAUSE = 0.02  # seconds a worker sleeps when its playing runs are all at their speed limit
# A new worker loads the compiled kernel (from Numba's cache) once it has been idle this long: longer, and a Play
# soon after the page's last request waits for the load; shorter, and the load competes with the first page's drawing.
WARM_UP_AFTER = 0.5
REQUEST_TIMEOUT = 60.0  # seconds; a worker answers within a turn plus its queue of requests
WORKER_ENV = {
    **{name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},  # one core per worker
    # glibc: keep freed arrays of up to 32 MB in the heap, so that each frame's and epoch's temporaries are not given
    # back to the system and faulted in again (transparent huge pages on), which slows the grid and evaluation.
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(64 << 20),
}


class WorkerGone(RuntimeError):
    """The worker process ended (killed, out of memory): its runs are lost."""


class WorkerError(RuntimeError):
    """A request failed inside the worker; the message is the error's type and text."""


# --- parent side -----------------------------------------------------------------------------------
class Worker:
    """One worker process and the socket to it. Thread-safe: every session's thread may call request().

    A reader thread hands each answer to the request that waits for it. Modifies: its process, its counts.
    """

    def __init__(self):
        parent, child = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds the dropviz package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])), **WORKER_ENV}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dropviz.web.worker", str(child.fileno())], pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL
        )
        child.close()
        self._connection = Connection(parent.detach())
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future] = {}
        self._ids = itertools.count()
        self.alive = True
        self.runs = 0  # runs placed here and not yet dropped (the pool places new runs by it)
        self.playing = 0  # runs of this worker playing, as of its last answer
        threading.Thread(target=self._read, name="dropviz-worker-reader", daemon=True).start()

    def request(self, run_id: int, op: str, *args):
        """op(run_id, *args) in the worker, waited for: its value (raises WorkerGone, WorkerError)."""
        return self.submit(run_id, op, *args).result(REQUEST_TIMEOUT)

    def submit(self, run_id: int, op: str, *args) -> Future:
        """Sends op(run_id, *args) to the worker without waiting: a Future of its value."""
        future: Future = Future()
        self._send(run_id, op, args, future)
        return future

    def send(self, run_id: int, op: str, *args) -> None:
        """Sends op(run_id, *args) and forgets it: the answer is dropped. Never waits (a finalizer may call it)."""
        self._send(run_id, op, args, None)

    def _send(self, run_id: int, op: str, args: tuple, future: Future | None) -> None:
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        with self._send_lock:
            if not self.alive:
                raise WorkerGone("the training process has ended")
            request_id = next(self._ids)
            if future is not None:
                self._pending[request_id] = future
            try:
                self._connection.send((request_id, run_id, op, args))
            except OSError as error:
                self._pending.pop(request_id, None)
                raise WorkerGone("the training process has ended") from error

    def stop(self) -> None:
        """Modifies: ends the process (its runs are lost)."""
        self.process.kill()
        self.process.wait(5)

    def _read(self) -> None:
        try:
            while True:
                request_id, ok, value, playing = self._connection.recv()
                self.playing = playing
                future = self._pending.pop(request_id, None)
                if future is not None:
                    future.set_result(value) if ok else future.set_exception(WorkerError(value))
        except (EOFError, OSError):
            pass
        except Exception:  # noqa: BLE001 - an answer this process cannot load: the stream is lost, and so is the worker
            self.process.kill()
        with self._send_lock:
            self.alive = False
            self.playing = 0
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(WorkerGone("the training process has ended"))
        self._connection.close()
        try:
            self.process.wait(5)  # reaped: no zombie left behind
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- child side ------------------------------------------------------------------------------------
class _Run:
    """One session's run inside a worker. Modified by _Runs only."""

    def __init__(self, config, idle_stop: float | None):
        self.trainer = Trainer(config)
        self.pacer = Pacer()
        self.playing = False
        self.speed: float | None = None  # epochs per second at most; None: as fast as its turns allow
        self.pace_from = (time.monotonic(), 0.0)  # (when, epoch_progress): where the speed limit counts from
        self.idle_stop = idle_stop  # seconds without a frame after which a playing run pauses; None: the page checks
        self.last_seen = time.monotonic()
        self.last_change = -BURST  # when the page last changed a live setting

    def allowed_steps(self) -> int | None:
        """Steps the speed limit allows now (None: no limit)."""
        if not self.speed:
            return None
        since, start = self.pace_from
        epochs = start + (time.monotonic() - since) * self.speed - self.trainer.epoch_progress
        return int(epochs * self.trainer.steps_per_epoch)


class _Job:
    """An experiment a page asked for (experiments.EXPERIMENTS[name] on inputs). Modified by _Runs only."""

    def __init__(self, name: str, inputs):
        self.name, self.inputs = name, inputs
        self.state = "queued"  # then "running", and "done", "error" or "cancelled"
        self.fraction = 0.0
        self.value = None  # the result when done, the error's text on error
        self.seconds: float | None = None
        self.cancel = False


class _ParentGone(Exception):
    """The server ended while an experiment ran: so does the worker."""


class _Runs:
    """Every run and experiment job of this worker, by id. Single-threaded; its ops modify the run or job they name."""

    def __init__(self):
        self.runs: dict[int, _Run] = {}
        self._order: list[int] = []  # run ids still to take their turn in this round
        self.jobs: dict[int, _Job] = {}  # by job id, until the page has read its end

    @property
    def playing(self) -> int:
        return sum(run.playing for run in self.runs.values())

    # --- ops: each takes the run id first ---
    def create(self, run_id: int, config, idle_stop: float | None) -> None:
        self.runs[run_id] = _Run(config, idle_stop)

    def drop(self, run_id: int) -> None:
        self.runs.pop(run_id, None)

    def hand_over(self, run_id: int) -> _Run:
        """The run, trainer and all, taken out of this worker to go on in another (adopt)."""
        return self.runs.pop(run_id)

    def adopt(self, run_id: int, run: _Run) -> None:
        self.runs[run_id] = run

    def play(self, run_id: int) -> None:
        run = self.runs[run_id]
        run.playing = not run.trainer.finished
        run.last_seen = time.monotonic()
        run.pace_from = (time.monotonic(), run.trainer.epoch_progress)

    def pause(self, run_id: int) -> None:
        self.runs[run_id].playing = False

    def step(self, run_id: int) -> None:
        self.pause(run_id)
        self.runs[run_id].trainer.step()

    def reset(self, run_id: int, config) -> None:
        run = self.runs[run_id]
        run.playing = False
        run.trainer, run.pacer = Trainer(config or run.trainer.config), Pacer()

    def update(self, run_id: int, config):
        """(True, config in force) when the change applied in place; (False, old config) when it needs a reset.

        Changes less than BURST apart are one burst (a slider moved with the arrow keys): they share one event."""
        run = self.runs[run_id]
        now = time.monotonic()
        burst, run.last_change = now - run.last_change < BURST, now
        return run.trainer.update(config, burst), run.trainer.config

    def set_speed(self, run_id: int, epochs_per_second: float | None) -> None:
        run = self.runs[run_id]
        if epochs_per_second != run.speed:
            run.speed = epochs_per_second
            run.pace_from = (time.monotonic(), run.trainer.epoch_progress)

    def state(self, run_id: int) -> tuple[bool, bool]:
        """(playing, finished)."""
        run = self.runs[run_id]
        return run.playing, run.trainer.finished

    def frame(self, run_id: int, presenting: bool, source: str | None):
        run = self.runs[run_id]
        run.last_seen = time.monotonic()
        sharing = self.playing - 1 if run.playing else 0
        return make_frame(
            run.trainer.snapshot(BOUNDARY_GRID), run.trainer.data, run.trainer.config.epochs, run.playing, sharing, presenting, source
        )

    def snapshot(self, run_id: int):
        run = self.runs[run_id]
        run.last_seen = time.monotonic()
        return run.trainer.snapshot(BOUNDARY_GRID)

    def read(self, run_id: int, read):
        """read(trainer): read must be picklable (a module-level function, operator.attrgetter)."""
        return read(self.runs[run_id].trainer)

    # --- experiment jobs: the id is the job's ---
    def job_start(self, job_id: int, name: str, inputs) -> None:
        self.jobs[job_id] = _Job(name, inputs)

    def job_state(self, job_id: int) -> tuple[str, float, object, float | None]:
        """(state, fraction, value, seconds); a job that ended is forgotten once it has said so."""
        job = self.jobs[job_id]
        if job.state in ("done", "error", "cancelled"):
            del self.jobs[job_id]
        return job.state, job.fraction, job.value, job.seconds

    def job_cancel(self, job_id: int) -> None:
        if job_id in self.jobs:
            self.jobs[job_id].cancel = True

    def job_drop(self, job_id: int) -> None:
        """The page forgot the job: if it has not started, it never will; if it runs, it stops at its next progress."""
        job = self.jobs.pop(job_id, None)
        if job is not None:
            job.cancel = True

    def next_job(self) -> _Job | None:
        return next((job for job in self.jobs.values() if job.state == "queued"), None)

    def run_job(self, job: _Job, answer_requests) -> None:
        """Modifies: runs the job to its end. At each progress call, answer_requests() (False: the server is gone)
        and one round of turns for the playing runs."""
        from ..experiments.registry import EXPERIMENTS  # the experiments' modules load with the first experiment only

        def progress(fraction: float) -> bool:
            job.fraction = min(max(float(fraction), job.fraction), 1.0)
            if not answer_requests():
                raise _ParentGone
            for _ in range(self.playing):  # a round: each playing run one turn, as if the job were one more run
                self.train_turn()
            return not job.cancel

        job.state, began = "running", time.monotonic()
        try:
            job.value, job.state, job.fraction = EXPERIMENTS[job.name].run(job.inputs, progress), "done", 1.0
        except _ParentGone:
            raise
        except Exception as error:  # noqa: BLE001 - the page shows it as a message, never as a traceback
            job.state = "cancelled" if job.cancel else "error"  # a cancel stops the work with sweeps.Cancelled
            job.value = None if job.cancel else f"{type(error).__name__}: {error}"
        job.seconds = time.monotonic() - began
        job.inputs = None  # the snapshot it started from is no longer needed

    # --- training ---
    def train_turn(self) -> bool:
        """Modifies: one turn of training for the next playing run that may train. False when none could."""
        now = time.monotonic()
        for run in self.runs.values():  # nobody has asked for a frame lately and no page check was handed in
            if run.playing and run.idle_stop is not None and now - run.last_seen > run.idle_stop:
                run.playing = False
        for _ in range(2):  # the rest of this round, then (when none of it could train) a whole new round
            if not self._order:
                self._order = [run_id for run_id, run in self.runs.items() if run.playing]
            while self._order:
                run = self.runs.get(self._order.pop(0))
                if run is None or not run.playing:
                    continue
                allowed = run.allowed_steps()
                if allowed is not None and allowed <= 0:  # at its speed limit: its turn passes
                    continue
                run.pacer.advance(run.trainer, SLICE, allowed)
                if run.trainer.finished:
                    run.playing = False
                return True
        return False


OPS = frozenset(
    {
        "create",
        "drop",
        "hand_over",
        "adopt",
        "play",
        "pause",
        "step",
        "reset",
        "update",
        "set_speed",
        "state",
        "frame",
        "snapshot",
        "read",
        "job_start",
        "job_state",
        "job_cancel",
        "job_drop",
    }
)


def serve(connection: Connection) -> None:
    """The worker's loop: answer every waiting request, then one turn of training or an experiment; ends when the parent does."""
    runs, warm = _Runs(), False
    while True:
        job = runs.next_job()
        if job is not None:
            try:
                runs.run_job(job, lambda: _answer(connection, runs, wait=0))
            except _ParentGone:
                return
            continue
        trained = runs.train_turn() if runs.playing else False
        timeout = 0 if trained else (IDLE_PAUSE if runs.playing else None if warm else WARM_UP_AFTER)
        if not connection.poll(timeout):
            if not warm and not runs.playing:  # idle before its first Play: load the compiled kernel now
                from ..core.kernel import warm_up

                warm_up()
                warm = True
            continue
        if not _answer(connection, runs, wait=0):
            return


def _answer(connection: Connection, runs: _Runs, wait: float) -> bool:
    """Answers every request waiting (after up to wait seconds for the first); False when the server is gone."""
    if not connection.poll(wait):
        return True
    while True:
        try:
            request_id, run_id, op, args = connection.recv()
        except (EOFError, OSError):  # the server ended: so does its worker
            return False
        try:
            connection.send((request_id, True, getattr(runs, op)(run_id, *args), runs.playing))
        except Exception as error:  # noqa: BLE001 - the parent raises it as WorkerError; the worker goes on
            connection.send((request_id, False, f"{type(error).__name__}: {error}", runs.playing))
        if not connection.poll(0):
            return True


if __name__ == "__main__":
    from dropviz.web.worker import serve as module_serve  # the module's own classes: what it pickles, the server can load

    try:
        module_serve(Connection(int(sys.argv[1])))
    except (BrokenPipeError, ConnectionResetError):  # the server ended while an answer was on its way
        pass
