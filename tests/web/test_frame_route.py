"""frame_route: the live view's frames over HTTP, as the page fetches them while its run plays."""

import asyncio
import gc
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.requests import Request

from dropviz.core.config import RunConfig
from dropviz.web import frame_route
from dropviz.web.live import LiveRun

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
        font = [frame["charts"]["curves"]["figure"]["layout"].get("font", {}).get("size", 0) for frame in (big, view)]
        assert font[0] > font[1]  # presentation mode: larger type for the back of the room
        run.pause()
        assert json.loads(_get(f"/{frame_route.frame_source(run.token, False)}").body)["source"] is None  # the page stops
    finally:
        run.pause()


def test_a_run_gets_one_frame_at_a_time_and_not_too_often(one_worker, monkeypatch):
    run = LiveRun(CONFIG)
    try:
        run.play()
        path = f"/{frame_route.frame_source(run.token, False)}"
        time.sleep(frame_route.MIN_GAP)
        first_asked = time.monotonic()  # the first request begins after this
        assert _get(path, wait=False).status_code == 200
        with monkeypatch.context() as patch:
            patch.setattr(frame_route, "MIN_GAP", 1.0)  # the next request is sooner than this after the last began
            too_soon = _get(path, wait=False)  # a page's request that arrived early, or a script asking too fast
            answered = time.monotonic()
        assert too_soon.status_code == 200  # answered, not refused: an early request waits out the gap
        assert answered - first_asked >= 1.0  # not more than one frame per MIN_GAP, however long the first one took

        async def two_at_once():
            return await asyncio.gather(*(frame_route.frame(_request(path)) for _ in range(2)))

        with ThreadPoolExecutor(1) as thread:
            time.sleep(frame_route.MIN_GAP)
            statuses = sorted(r.status_code for r in thread.submit(asyncio.run, two_at_once()).result())
        assert statuses == [200, 429]  # the second waits for no worker and no server thread
    finally:
        run.pause()


def test_a_page_alone_gets_its_pace_and_a_class_shares_the_servers_frames_without_exceeding_them(monkeypatch):
    playing = {"count": 0}
    monkeypatch.setattr(LiveRun, "playing_count", classmethod(lambda cls: playing["count"]))
    periods = []
    for count in range(1, 400):
        playing["count"] = count
        periods.append(frame_route.frame_period())
        assert count / periods[-1] <= frame_route.SERVER_FRAMES * (1 + 1e-9)  # the class together: within the server's share
        assert periods[-1] >= frame_route.TICK  # and no page faster than its own pace
    assert periods[0] == frame_route.TICK  # a page alone, or a few: ten frames a second
    assert periods == sorted(periods) and periods[-1] > 3 * frame_route.TICK  # more pages, each a little slower
    assert 399 / periods[-1] == pytest.approx(frame_route.SERVER_FRAMES)  # a big class gets the whole share, not less


def test_tokens_are_unguessable_and_forgotten_with_their_run(one_worker):
    first, second = LiveRun(CONFIG), LiveRun(CONFIG)
    assert first.token != second.token and len(first.token) >= 20
    assert LiveRun.find(first.token) is first
    token = second.token
    del second
    gc.collect()
    assert LiveRun.find(token) is None
    first.pause()
