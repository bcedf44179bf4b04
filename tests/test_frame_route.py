"""frame_route: the live view's frames over HTTP, as the page fetches them while its run plays."""

import asyncio
import gc
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.requests import Request

from dropviz import frame_route
from dropviz.config import RunConfig
from dropviz.live import LiveRun

CONFIG = RunConfig(n_train=40, hidden=(8, 8), p=(0.5, 0.5), batch_size=8, epochs=5000)


def _get(path: str, wait: bool = True):
    """The route's answer to GET path, through the route table as the server has it; wait: as a page does, no
    sooner than MIN_GAP after the last request."""
    if wait:
        time.sleep(frame_route.MIN_GAP)
    with ThreadPoolExecutor(1) as thread:  # a loop of its own: the browser tests leave one running in this thread
        return thread.submit(asyncio.run, frame_route.frame(_request(path))).result()


def _request(path: str) -> Request:
    """A GET of path as the server hands it to the route (path parameters from the route table)."""
    token, _, query = path.removeprefix(f"/{frame_route.PATH}/").partition("?")
    (route,) = frame_route.routes()
    matched, scope = route.matches({"type": "http", "path": f"/{frame_route.PATH}/{token}", "method": "GET"})
    assert matched.name == "FULL"
    return Request({"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": [], **scope})


def test_a_token_no_run_has_gets_404():
    response = _get(f"/{frame_route.PATH}/not-a-token")
    assert response.status_code == 404 and response.headers["cache-control"] == "no-store"


def test_a_playing_run_serves_its_frames_and_where_the_next_one_is(one_worker):
    run = LiveRun(CONFIG)
    try:
        run.play()
        response = _get(f"/{frame_route.frame_source(run.token, False)}")
        assert response.status_code == 200 and response.media_type == "application/json"
        assert response.headers["content-encoding"] == "identity"  # not gzipped again by Streamlit's middleware
        assert float(response.headers["x-dropviz-period"]) >= frame_route.TICK
        view = json.loads(response.body)
        assert view["source"] == frame_route.frame_source(run.token, False)  # the page keeps asking
        assert set(view["charts"]) == {"network", "boundary", "curves"}
        big = json.loads(_get(f"/{frame_route.frame_source(run.token, True)}").body)
        assert big["source"].endswith("?presenting=1")
        assert big["charts"]["curves"]["figure"]["layout"]["font"]["size"] > view["charts"]["curves"]["figure"]["layout"].get(
            "font", {}).get("size", 0)
        run.pause()
        assert json.loads(_get(f"/{frame_route.frame_source(run.token, False)}").body)["source"] is None  # the page stops
    finally:
        run.stop()


def test_a_run_gets_one_frame_at_a_time_and_not_too_often(one_worker, monkeypatch):
    run = LiveRun(CONFIG)
    try:
        run.play()
        path = f"/{frame_route.frame_source(run.token, False)}"
        assert _get(path).status_code == 200
        with monkeypatch.context() as patch:
            patch.setattr(frame_route, "MIN_GAP", 1.0)  # the next request is sooner than this after the last began
            asked = time.monotonic()
            too_soon = _get(path, wait=False)  # a page's request that arrived early, or a script asking too fast
            answered = time.monotonic()
        assert too_soon.status_code == 200  # answered, not refused: an early request waits out the gap
        assert answered - asked >= 0.5  # the gap's rest, not more than one frame per MIN_GAP

        async def two_at_once():
            return await asyncio.gather(*(frame_route.frame(_request(path)) for _ in range(2)))

        with ThreadPoolExecutor(1) as thread:
            time.sleep(frame_route.MIN_GAP)
            statuses = sorted(r.status_code for r in thread.submit(asyncio.run, two_at_once()).result())
        assert statuses == [200, 429]  # the second waits for no worker and no server thread
    finally:
        run.stop()


def test_the_frame_share_is_divided_among_the_playing_runs(monkeypatch):
    monkeypatch.setattr(LiveRun, "playing_count", classmethod(lambda cls: 0))
    assert frame_route.frame_period() == frame_route.TICK  # a page alone: its own pace
    monkeypatch.setattr(LiveRun, "playing_count", classmethod(lambda cls: 90))
    assert frame_route.frame_period() == pytest.approx(90 / frame_route.SERVER_FRAMES)


def test_tokens_are_unguessable_and_forgotten_with_their_run(one_worker):
    first, second = LiveRun(CONFIG), LiveRun(CONFIG)
    assert first.token != second.token and len(first.token) >= 20
    assert LiveRun.find(first.token) is first
    token = second.token
    del second
    gc.collect()
    assert LiveRun.find(token) is None
    first.stop()
