"""ExperimentJob: an experiment a page asked for, in a process of its own, with progress and cancel; not the live runs (live.py).

Why a process of its own: at the largest setups a probe computes for tens of seconds; in a worker it would hold the
class's runs and miss the worker's time limit. Its own process runs niced (the class's runs keep the cores), and Cancel
ends it at once. The process makes the experiment's figures and CSV and sends only those (registry.Shown): the page
keeps them, never the raw result (a probe's activations would be tens of megabytes a session).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from multiprocessing.connection import Connection

from .worker import LIMIT, spawn

NICE = 10  # an experiment's process yields the cores to the class's runs, and has them when they are idle
REPORT_EVERY = 0.1  # seconds between two progress messages at most: the page ticks every 0.5 s, a probe calls per pass
LOST_JOB = "the experiment's process ended (the server ran short of memory or was restarted); run the experiment again"


class ExperimentJob:
    """An experiment (experiments.EXPERIMENTS[name] on inputs) in its own process; a thread reads the process's
    messages. result: its registry.Shown once done. Modifies itself only."""

    def __init__(self, name: str, inputs):
        self.fraction, self.began, self.result, self.error, self.cancelled = 0.0, time.monotonic(), None, None, False
        self.seconds: float | None = None  # how long it took, once done
        (self._process, connection), self._ended = spawn("dropviz.web.jobs"), threading.Event()
        threading.Thread(target=self._follow, args=(connection, name, inputs), name="dropviz-experiment", daemon=True).start()

    def _follow(self, connection, name: str, inputs) -> None:
        try:
            connection.send((name, inputs))
            while (message := connection.recv())[0] == "progress":
                self.fraction = min(max(message[1], self.fraction), 1.0)
            kind, value, self.seconds = message
            self.result, self.error, self.fraction = (value, None, 1.0) if kind == "done" else (None, value, self.fraction)
        except (EOFError, OSError):
            self.error = None if self.cancelled else LOST_JOB
        finally:
            self._ended.set()
            self._process.kill()
            self._process.wait(5)
            connection.close()

    @property
    def running(self) -> bool:
        return not self._ended.is_set()

    @property
    def elapsed(self) -> float:
        """Seconds it ran (runs): the page shows it beside the fraction."""
        return self.seconds if self.seconds is not None else time.monotonic() - self.began

    def cancel(self) -> None:
        """Modifies: ends the experiment's process now."""
        if self.running:
            self.cancelled = True
            self._process.kill()
            self._ended.wait(LIMIT)

    def wait(self, timeout: float | None = None) -> None:
        """Until the job has ended, or timeout seconds."""
        self._ended.wait(timeout)


def run(connection: Connection) -> None:
    """The job's process: gets (name, inputs); sends ("progress", fraction) at progress calls REPORT_EVERY apart or
    more, then ("done", registry.Shown, seconds) or ("error", text, seconds)."""
    from ..experiments.registry import shown

    os.nice(NICE)
    name, inputs = connection.recv()
    began = sent = time.monotonic()

    def progress(fraction: float) -> bool:
        nonlocal sent
        if time.monotonic() - sent >= REPORT_EVERY:
            sent = time.monotonic()
            connection.send(("progress", float(fraction)))
        return True

    try:
        connection.send(("done", shown(name, inputs, progress), time.monotonic() - began))
    except Exception as error:  # noqa: BLE001 - the page shows it as a message, never as a traceback
        connection.send(("error", f"{type(error).__name__}: {error}", time.monotonic() - began))


if __name__ == "__main__":
    try:
        run(Connection(int(sys.argv[1])))
    except (EOFError, OSError):  # the server ended, or cancelled the job
        pass
