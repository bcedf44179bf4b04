"""How a frame gets from a run to its page: the HTTP route the live view fetches while its run plays, one GET per frame.

1. The page (dropviz/web/live_chart.js) asks PATH/{token} once it has painted the last frame and its period is over.
2. frame() finds the run by its token (live.LiveRun.find) and sends Runs.frame to the run's worker (worker.py) without
   holding a thread: the event loop awaits the answer, which the worker's time limit bounds (worker.LIMIT).
3. The worker makes the frame beside the run's trainer (frames.make_frame: status and the three figures' JSON bytes).
4. The bytes go to the page untouched, with the period until the next request (the server's frame share divided among
   the playing runs). Frames never queue and none is dropped; a slow frame simply comes later.
Why not a Streamlit rerun per frame: a script run costs the page server's one interpreter several times what a GET does.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .live import LiveRun
from .worker import LIMIT, WorkerGone

PATH = "dropviz/frame"  # relative to the page, so that a proxy's path prefix carries over
TICK = 0.05  # seconds between frames, at least: a page alone gets 20 a second
# Frames per second the whole server sends, shared by the playing runs: more gives each page more frames and its run
# fewer epochs, as frames take the workers' CPU from training (bench/load.py; figures in bench/RESULTS.md).
SERVER_FRAMES = min(35.0 * (os.cpu_count() or 1), 140.0)
# A request sooner than MIN_GAP after the last one began waits out the gap (a class's Play clicks arrive at once); a
# second one while one is answered gets 429 at once: a run's frames are one at a time and at most 1 / MIN_GAP a second.
MIN_GAP = TICK / 2
NO_STORE = {"Cache-Control": "no-store"}
_began: weakref.WeakKeyDictionary[LiveRun, float] = weakref.WeakKeyDictionary()  # when each run's last request began
_busy: weakref.WeakSet[LiveRun] = weakref.WeakSet()  # runs with a request being answered (only the event loop touches these)


def frame_source(token: str, presenting: bool) -> str:
    """The URL (relative to the page) of a run's next frame."""
    return f"{PATH}/{token}" + ("?presenting=1" if presenting else "")


def frame_period() -> float:
    """Seconds between two frames of one page now: the server's frame share divided among the playing runs."""
    return max(TICK, LiveRun.playing_count() / SERVER_FRAMES)


async def frame(request: Request) -> Response:
    """GET PATH/{token}[?presenting=1]: the run's frame now (frames.Frame.view). 404: a token never given; 410 Gone: the
    run was released or started again under a new token (the page reruns); 429: a request of this run is out; 503: the
    worker was lost or missed its limit (the watcher restarts the run; the page asks again)."""
    token = request.path_params["token"]
    run = LiveRun.find(token)
    if run is None:
        return Response(status_code=410 if token in LiveRun.released else 404, headers=NO_STORE)
    if run in _busy:
        return Response(status_code=429, headers={**NO_STORE, "Retry-After": "1"})
    _busy.add(run)
    presenting = request.query_params.get("presenting") == "1"
    try:
        await asyncio.sleep(max(0.0, _began.get(run, -MIN_GAP) + MIN_GAP - time.monotonic()))
        _began[run] = time.monotonic()
        made = await asyncio.wait_for(run.frame_async(presenting, frame_source(token, presenting)), LIMIT + 1)
    except (WorkerGone, TimeoutError):
        return Response(status_code=503, headers={**NO_STORE, "Retry-After": "1"})
    finally:
        _busy.discard(run)
    # Content-Encoding set: Streamlit's gzip (level 9, costly on a frame's bytes) leaves the response alone.
    headers = {**NO_STORE, "Content-Encoding": "identity", "X-Dropviz-Period": f"{frame_period():.3f}"}
    return Response(made.view, media_type="application/json", headers=headers)


def routes() -> list[Route]:
    """The route, under server.baseUrlPath as the page is (read when the server starts)."""
    from streamlit import config

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return [Route(f"{'/' + base if base else ''}/{PATH}/{{token}}", frame, methods=["GET"])]
