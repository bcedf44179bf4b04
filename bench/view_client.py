"""The live view's frame requests without the browser: what dropviz/web/live_chart.js does while its run plays.

A page's live view gets its first frame in the Streamlit run; while the frame has a "source", the view
asks that URL for the next frame once the last one has arrived and the period the server gives
(X-Dropviz-Period) is over. A new frame from Streamlit starts a new generation and ends the older loop;
a frame without a source ends it, and the view asks Streamlit for a rerun (its "stopped" trigger).
Over one keep-alive HTTP/1.1 connection per view, as a browser's fetch would reuse one. Renders nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

SOURCE = re.compile(rb'^\{"source": (?:null|"([^"]+)")')  # a view's JSON starts with its source (dropviz/web/frames.py)
FIRST_PERIOD = 0.25  # seconds before the first request, as the page waits until the server says


class ViewFollower:
    """One page's live view. Modifies itself; use from one asyncio loop."""

    def __init__(self, base_url: str, on_frame: Callable[[bytes, float], None], on_stopped: Callable[[], Awaitable[None]]):
        self.base_url = base_url.rstrip("/")
        self.on_frame = on_frame  # (view bytes, monotonic arrival) per fetched frame
        self.on_stopped = on_stopped  # the page's rerun when a fetched frame has no source
        self.requests: list[float] = []  # monotonic send times of every frame request
        self.bytes = 0  # frame bodies received
        self.errors: list[str] = []
        self._generation = 0
        self._task: asyncio.Task | None = None
        self._connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def show(self, view: bytes) -> None:
        """A frame from Streamlit: follows its source, if it has one, in a new generation."""
        self._generation += 1
        match = SOURCE.match(view)
        if match and match[1]:
            self._task = asyncio.create_task(self._follow(match[1].decode(), self._generation), name="view-follow")

    async def close(self) -> None:
        self._generation += 1
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._connection is not None:
            self._connection[1].close()
            self._connection = None

    async def _follow(self, source: str, generation: int) -> None:
        period = FIRST_PERIOD
        started = time.monotonic()
        while source and generation == self._generation:
            await asyncio.sleep(max(0.0, started + period - time.monotonic()))
            if generation != self._generation:
                return
            started = time.monotonic()
            self.requests.append(started)
            try:
                status, headers, body = await self._get(source)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.errors.append(f"frame request: {type(exc).__name__}: {exc}")
                self._connection = None
                period = 1.0
                continue
            if generation != self._generation:
                return
            if status != 200:
                self.errors.append(f"frame request: HTTP {status}")
                if status in (429, 503):  # counted as errors: the page's own pace should never see either
                    period = 1.0
                    continue
                break
            period = float(headers.get("x-dropviz-period", period))
            self.bytes += len(body)
            self.on_frame(body, time.monotonic())
            match = SOURCE.match(body)
            source = match[1].decode() if match and match[1] else None
        if generation == self._generation:
            await self.on_stopped()

    async def _get(self, source: str) -> tuple[int, dict[str, str], bytes]:
        """GET base_url/source over the view's connection (opened when needed): status, headers, body."""
        host = urlsplit(self.base_url).netloc
        if self._connection is None:
            name, _, port = host.partition(":")
            self._connection = await asyncio.open_connection(name, int(port or 80))
        reader, writer = self._connection
        writer.write(f"GET /{source} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip, deflate\r\n\r\n".encode())
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if headers.get("content-encoding", "identity") != "identity":
            raise ValueError(f"the frame came {headers['content-encoding']}-encoded: the server compressed it")
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            writer.close()
            self._connection = None
        return status, headers, body
