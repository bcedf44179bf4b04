"""The HTTP route the live view fetches frames from while its run plays: one request per frame, beside Streamlit's websocket.

Why not a Streamlit rerun per frame: a fragment's script run costs the page server's one interpreter several
times what a GET does, and a class's frames all pass through that process. Here a frame is a GET whose body
is the bytes the worker made (frames.Frame.view), passed on untouched.
The page asks for the next frame when the last one is painted and its period is over; the period is the
server's frame share (SERVER_FRAMES) divided among the playing runs, and a slow frame simply comes later.
Frames never queue and none is dropped.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .live import LiveRun
from .worker import WorkerError, WorkerGone

PATH = "dropviz/frame"  # relative to the page, so that a proxy's path prefix carries over
TICK = 0.1  # seconds between frames, at least: a page alone gets 10 a second
# Frames per second the whole server sends, shared by the playing runs: more gives each page more frames and its run
# fewer epochs, as frames take the workers' CPU from training (bench/load.py; figures in bench/RESULTS.md).
SERVER_FRAMES = min(35.0 * (os.cpu_count() or 1), 140.0)


# A page asks for its next frame a period (at least TICK) after its last request began, one request at a time. A request
# sooner than MIN_GAP after the last one began waits out the rest of the gap, then is answered: a page's request can
# arrive early when the one before it waited in this process (a class's Play clicks at once, as bench/load.py makes
# them). A second request while one is answered (a student's script, say) gets
# 429 at once: it would take a worker's time and a server thread from the class. So a run's frames are at most one
# at a time and 1 / MIN_GAP a second.
MIN_GAP = TICK / 2


class _Pace:
    """One run's frame requests: whether one is being answered, and when the last one began. Only the event loop
    (one thread) reads and writes it, between awaits."""

    __slots__ = ("began", "busy")

    def __init__(self):
        self.busy = False
        self.began = -MIN_GAP


_paces: weakref.WeakKeyDictionary[LiveRun, _Pace] = weakref.WeakKeyDictionary()


def frame_source(token: str, presenting: bool) -> str:
    """The URL (relative to the page) of a run's next frame."""
    return f"{PATH}/{token}" + ("?presenting=1" if presenting else "")


def frame_period() -> float:
    """Seconds between two frames of one page now: the server's frame share divided among the playing runs."""
    return max(TICK, LiveRun.playing_count() / SERVER_FRAMES)


async def frame(request: Request) -> Response:
    """GET PATH/{token}[?presenting=1]: the run's frame now, as frames.Frame.view.

    404 for a token no run has; 429 for a request while the run's last one is answered; one sooner than MIN_GAP
    after the last one began is answered that much later; 503 when its worker failed (the page tries again).
    """
    run = LiveRun.find(request.path_params["token"])
    if run is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    pace = _paces.setdefault(run, _Pace())
    if pace.busy:
        return Response(status_code=429, headers={"Cache-Control": "no-store", "Retry-After": "1"})
    pace.busy = True
    presenting = request.query_params.get("presenting") == "1"
    try:
        early = pace.began + MIN_GAP - time.monotonic()
        if early > 0:
            await asyncio.sleep(early)
        pace.began = time.monotonic()
        made = await run_in_threadpool(run.frame, presenting, frame_source(run.token, presenting))  # waits for the worker
    except (WorkerGone, WorkerError, TimeoutError):
        return Response(status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "1"})
    finally:
        pace.busy = False
    # Content-Encoding set: Streamlit's gzip (level 9, costly on a frame's bytes) leaves the response alone.
    headers = {"Cache-Control": "no-store", "Content-Encoding": "identity", "X-Dropviz-Period": f"{frame_period():.3f}"}
    return Response(made.view, media_type="application/json", headers=headers)


def routes() -> list[Route]:
    """The route, under server.baseUrlPath as the page is (read when the server starts): the page asks for PATH
    relative to its own URL, and Streamlit mounts nothing of ours under that prefix by itself."""
    from streamlit import config

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return [Route(f"{'/' + base if base else ''}/{PATH}/{{token}}", frame, methods=["GET"])]
