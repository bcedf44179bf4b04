"""A browser tab without the browser: one Streamlit session spoken over its own websocket protocol (Streamlit 1.67).

Owns the conversation only: handshake, widget clicks, `run_every` fragment reruns, the message cache,
and counting what the server sent. It does not lay out, render or paint anything, and knows nothing of
dropviz: callers read elements through `on_element` and completed runs through `on_run_finished`.

The protocol, as the 1.67 frontend speaks it (static/js/index.*.js) and the server reads it
(web/server/starlette/starlette_websocket.py, runtime/app_session.py):
- connect to ws://HOST/_stcore/stream with the page's own Origin and subprotocol "streamlit";
- send BackMsg.rerun_script(ClientState: query string, page_script_hash "" at first, context_info);
- receive ForwardMsgs: new_session (a run starts; metadata.run.fragment_ids is empty for a full run),
  delta (new_element / add_block at metadata.delta_path), auto_rerun(interval, fragment_id),
  stop_auto_rerun, page_info_changed (the URL's new query string), script_finished;
- a click is a rerun_script whose widget_states hold the button's trigger_value=True;
- `st.fragment(run_every=...)`: the frontend starts setInterval(interval) per fragment id (an identical
  re-announcement is ignored, every full run clears them all) and each tick sends
  rerun_script(fragment_id, is_auto_rerun=True) whether or not the last run has finished: the server
  folds pending fragment reruns into one.
Differences from the browser, on purpose: widget states are not mirrored (the browser sends every
widget's value with each rerun; this client sends only a clicked trigger; the server keeps the other
values from the previous run), and nothing is rendered, so nothing here can say when a person sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

STREAM_PATH = "/_stcore/stream"


class StreamlitSession:
    """One simulated tab. Every method but the read-only properties modifies it; use from one asyncio loop."""

    def __init__(
        self,
        base_url: str,
        query: str = "",
        *,
        on_element: Callable[[StreamlitSession, tuple[int, ...], object, float], None] | None = None,
        on_run_finished: Callable[[StreamlitSession, int, bool, float], None] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")  # http://127.0.0.1:PORT, also the Origin the server checks
        self.query = query  # the URL's query string, updated by page_info_changed as the browser's address bar is
        self.on_element = on_element  # (session, delta_path, Element, t): every new element, cached ones included
        self.on_run_finished = on_run_finished  # (session, ScriptFinishedStatus, was_fragment_run, t)
        self.headers = headers or {}  # sent with the websocket's upgrade (X-Forwarded-For: the computer, as a proxy says)
        self.page_script_hash = ""
        self.buttons: dict[str, str] = {}  # label -> widget id, from the runs seen so far
        self.errors: list[str] = []  # exceptions, compile errors, error alerts, cache misses, lost connection
        self.runs_started = 0
        self.runs_finished = 0
        self.runs_interrupted = 0  # FINISHED_EARLY_FOR_RERUN: a newer request cut the run short
        self.full_runs = 0
        self.fragment_runs = 0
        self.messages = 0
        self.bytes = 0
        self.closed_by_server = False
        self.auto_reruns_sent: list[float] = []  # monotonic times of the run_every reruns asked for
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}  # fragment id -> (interval, ticking task)
        self._cache: dict[str, list] = {}  # hash -> [ForwardMsg, age]: the frontend's ForwardMsgCache
        self._max_age = 2  # runs a cached message may go unused; the server sends its value in new_session
        self._fragment_run = False
        self._send_lock = asyncio.Lock()
        self._closing = False

    # --- open and close ------------------------------------------------------------------------------
    async def open(self, timeout: float = 30.0) -> None:
        """Modifies: connects and asks for the first run, as a freshly loaded tab does."""
        host = urlsplit(self.base_url).netloc
        self._ws = await connect(
            f"ws://{host}{STREAM_PATH}",
            origin=self.base_url,
            additional_headers=self.headers,
            subprotocols=["streamlit"],
            compression=None,
            max_size=None,
            proxy=None,
            open_timeout=timeout,
            close_timeout=2,
            ping_interval=None,
        )
        self._reader = asyncio.create_task(self._read(), name="streamlit-client-read")
        await self.rerun()

    async def close(self) -> None:
        """Modifies: stops the fragment timers and closes the websocket (a closed tab)."""
        self._closing = True
        self._clear_timers()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 3.0)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    # --- what the user does --------------------------------------------------------------------------
    async def rerun(self, triggers: tuple[str, ...] = (), fragment_id: str = "", auto: bool = False) -> None:
        """Modifies: sends one rerun_script; triggers are widget ids whose trigger_value is True (clicks)."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = self.page_script_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        for widget_id in triggers:
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            widget.trigger_value = True
        state.cached_message_hashes.extend(self._cache)
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url = f"{self.base_url}/?{self.query}" if self.query else f"{self.base_url}/"
        info.is_embedded, info.color_scheme = False, "light"
        await self._send(msg.SerializeToString())

    async def click(self, label: str) -> float:
        """Modifies: clicks the button with this label; returns the monotonic time the click was sent."""
        widget_id = self.buttons[label]
        sent = time.monotonic()
        await self.rerun(triggers=(widget_id,))
        return sent

    # --- the conversation ------------------------------------------------------------------------------
    async def _send(self, data: bytes) -> None:
        if self._ws is None or self._closing:
            return
        async with self._send_lock:
            await self._ws.send(data)

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                now = time.monotonic()
                self.messages += 1
                self.bytes += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._dispatch(msg, now)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug here must show as an error, not as a quiet session
            self.errors.append(f"client: {type(exc).__name__}: {exc}")
        if not self._closing:
            self.closed_by_server = True
            self.errors.append("websocket closed by the server")
            self._clear_timers()

    def _dispatch(self, msg: ForwardMsg, now: float) -> None:
        kind = msg.WhichOneof("type")
        if msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = [msg, 0]
        if kind == "ref_hash":
            entry = self._cache.get(msg.ref_hash)
            if entry is None:
                self.errors.append(f"cache miss for {msg.ref_hash}")
                return
            entry[1] = 0
            cached = entry[0]
            if cached.WhichOneof("type") == "delta" and cached.delta.WhichOneof("type") == "new_element":
                self._element(tuple(msg.metadata.delta_path), cached.delta.new_element, now)
            return
        if kind == "new_session":
            self.runs_started += 1
            self._fragment_run = bool(msg.metadata.run.fragment_ids)
            self.page_script_hash = msg.new_session.page_script_hash
            if msg.new_session.config.max_cached_message_age:
                self._max_age = msg.new_session.config.max_cached_message_age
            if not self._fragment_run:
                self._clear_timers()  # the frontend's cleanupAutoReruns on every full run
        elif kind == "delta":
            if msg.delta.WhichOneof("type") == "new_element":
                self._element(tuple(msg.metadata.delta_path), msg.delta.new_element, now)
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self._stop_timer(fragment_id)
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "session_event":
            if msg.session_event.HasField("script_compilation_exception"):
                self.errors.append(f"compile error: {msg.session_event.script_compilation_exception.message}")
        elif kind == "script_finished":
            status = msg.script_finished
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self.errors.append("script finished with a compile error")
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.runs_interrupted += 1
            else:
                self.runs_finished += 1
                if self._fragment_run:
                    self.fragment_runs += 1
                else:
                    self.full_runs += 1
                for entry in self._cache.values():
                    entry[1] += 1
                for key in [k for k, (_, age) in self._cache.items() if age > self._max_age]:
                    del self._cache[key]
            if self.on_run_finished is not None:
                self.on_run_finished(self, status, self._fragment_run, now)

    def _element(self, path: tuple[int, ...], element, now: float) -> None:
        kind = element.WhichOneof("type")
        if kind == "button":
            self.buttons[element.button.label] = element.button.id
        elif kind == "exception":
            self.errors.append(f"exception: {element.exception.type}: {element.exception.message}")
        elif kind == "alert" and element.alert.format == Alert.ERROR:
            self.errors.append(f"error alert: {element.alert.body[:80]}")
        if self.on_element is not None:
            self.on_element(self, path, element, now)

    # --- run_every: the frontend's setInterval ------------------------------------------------------
    def _start_timer(self, fragment_id: str, interval: float) -> None:
        if not fragment_id or interval <= 0:
            return
        current = self._timers.get(fragment_id)
        if current is not None and current[0] == interval:
            return  # the frontend ignores an identical announcement
        self._stop_timer(fragment_id)
        task = asyncio.create_task(self._tick(fragment_id, interval), name="streamlit-client-tick")
        self._timers[fragment_id] = (interval, task)

    async def _tick(self, fragment_id: str, interval: float) -> None:
        due = time.monotonic() + interval
        while not self._closing:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            try:
                await self.rerun(fragment_id=fragment_id, auto=True)
                self.auto_reruns_sent.append(time.monotonic())
            except ConnectionClosed:
                return  # the reader reports the lost connection
            due = max(due + interval, time.monotonic())  # setInterval does not fire a backlog of missed ticks

    def _stop_timer(self, fragment_id: str) -> None:
        entry = self._timers.pop(fragment_id, None)
        if entry is not None:
            entry[1].cancel()

    def _clear_timers(self) -> None:
        for fragment_id in list(self._timers):
            self._stop_timer(fragment_id)
