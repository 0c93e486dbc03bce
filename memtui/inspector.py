"""A Chrome DevTools Protocol client for Node's inspector, over one websocket."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import websockets

from memtui import netns
from memtui.errors import MemtuiError, TargetGone
from memtui.netns import NetworkNamespace

EventHandler = Callable[[dict], None]
QUIET_EVENTS = frozenset({"HeapProfiler.addHeapSnapshotChunk",
                          "HeapProfiler.reportHeapSnapshotProgress"})
STREAMING_METHODS = frozenset({"HeapProfiler.takeHeapSnapshot",
                               "HeapProfiler.stopTrackingHeapObjects"})
"""Requests the target answers with a stream of messages (a snapshot's chunks) before its
reply, which it goes on sending when the call is given up."""
STREAM_SILENCE_S = 5.0
"""A stream the target sent nothing of for this long, while it did no work (see
CdpChannel.target_cpu_s), is taken for stopped (the process stopped or blocked): then
nothing is being written to the connection. V8 sends nothing for seconds while it collects
garbage and builds a big heap's snapshot (5.8 s for 1.5 M objects on an idle machine)."""
WORKING_SHARE = 0.02
"""A target that used this share of a CPU over a silence is working: a thread building a
snapshot uses most of one, an idle Node under 0.1%."""
READER_GRACE_S = 1.0

log = logging.getLogger(__name__)


class ProtocolError(MemtuiError):
    """The inspector answered a request with an error."""

    def __init__(self, method: str, error: dict):
        super().__init__(f"inspector error in {method}: {error.get('message', error)}")
        self.method = method
        self.code = error.get("code")


class InspectorClosed(TargetGone):
    """The websocket closed: the target exited, or its inspector was closed."""


class DispatchError(MemtuiError):
    """An incoming message could not be handled: an event handler raised, or the frame was
    not JSON. Raised by the next call, so it is neither lost nor taken for a closed
    connection; the reader goes on."""


class _Connection(websockets.ClientConnection):
    """A websocket connection that never sends a close frame: when Node closes the
    connection, it drops the TCP connection instead of answering with one (see Inspector)."""

    def send_data(self) -> None:
        if self.protocol.close_rcvd is not None:
            self.protocol.data_to_send()
            self.transport.abort()
            return
        super().send_data()


class CdpChannel(ABC):
    """One CDP session: requests with replies, and events by method. The main session is
    the websocket (Inspector); a worker thread's is tunnelled through it (NodeWorker).

    A reply's future is registered before its request is sent. An event handler's failure,
    or a message that is not JSON, is raised by the next call, so that it is neither lost
    nor taken for a closed connection; the routing goes on. When the session ends, every
    pending call fails with the subclass's error."""

    def __init__(self, label: str):
        self._label = label
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future]] = {}
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self._dispatch_error: DispatchError | None = None
        self._streaming: set[int] = set()
        """Streaming calls not yet answered, given up or not: the target may be sending."""
        self._streams_ended = asyncio.Event()
        self._streams_ended.set()
        self._last_heard = time.monotonic()
        self.closed = asyncio.Event()
        self.target_cpu_s: Callable[[], float | None] | None = None
        """The target process's CPU time in seconds; None when it cannot be read (an
        inspector on another host)."""
        self._silence_given_up: float | None = None

    def on(self, method: str, handler: EventHandler) -> Callable[[], None]:
        """Call `handler(params)` for each `method` event; returns a function that unsubscribes."""
        self._handlers[method].append(handler)
        return lambda: self._handlers[method].remove(handler)

    async def send(self, method: str, params: dict | None = None,
                   timeout: float | None = 10.0) -> dict[str, Any]:
        """Send a request and wait for its result; None means no timeout. Raises the
        DispatchError of an earlier incoming message first, once."""
        if self._dispatch_error is not None:
            error, self._dispatch_error = self._dispatch_error, None
            raise error
        self._check_open()
        call_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (method, future)
        if method in STREAMING_METHODS:
            self._streaming.add(call_id)
            self._streams_ended.clear()
        message = json.dumps({"id": call_id, "method": method, "params": params or {}})
        log.debug("SEND %s%d %s (%d bytes)", self._label, call_id, method, len(message))
        try:
            async with asyncio.timeout(timeout):
                await self._transmit(method, message)
                return await future
        except TimeoutError:
            log.debug("TIMEOUT %s%d %s after %ss", self._label, call_id, method, timeout)
            raise self._no_answer(method, timeout) from None
        finally:
            self._pending.pop(call_id, None)
            if future.done() and not future.cancelled():
                future.exception()

    async def streams_ended(self, silence_s: float = STREAM_SILENCE_S,
                            on_wait: Callable[[], None] | None = None) -> bool:
        """Wait until the target has answered every streaming call (see STREAMING_METHODS),
        those still awaited and those given up, or sent nothing for `silence_s` while it did
        no work (see target_cpu_s; a target that works is still building the snapshot), or
        the session ended. Node crashes when a client drops its connection while the target
        writes to it (see Inspector), so a connection is dropped only after this.
        `on_wait()` is called once when there is something to wait for. False when a stream
        fell silent, at once when nothing was heard since it last did."""
        if self._streaming and not self.closed.is_set():
            if self._silence_given_up == self._last_heard:
                return False
            if on_wait is not None:
                on_wait()
        watched_at = time.monotonic()
        cpu_then = self.cpu_s() if self._streaming else None
        while self._streaming and not self.closed.is_set():
            now = time.monotonic()
            # With its CPU time known, the target's work is judged over a whole silence.
            silent_for = now - (self._last_heard if cpu_then is None
                                else max(self._last_heard, watched_at))
            if silent_for >= silence_s and cpu_then is not None:
                cpu_now = self.cpu_s()
                if cpu_now is not None and cpu_now - cpu_then >= WORKING_SHARE * silent_for:
                    log.debug("%sstreaming calls %s silent; the target is working",
                              self._label, sorted(self._streaming))
                    watched_at, cpu_then = now, cpu_now
                    continue
            if silent_for >= silence_s:
                log.debug("%sstreaming calls %s silent for %.1fs", self._label,
                          sorted(self._streaming), silent_for)
                self._silence_given_up = self._last_heard
                return False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(silence_s - silent_for):
                    await self._streams_ended.wait()
        return True

    def cpu_s(self) -> float | None:
        """The target's CPU time in seconds (None when unknown)."""
        return None if self.target_cpu_s is None else self.target_cpu_s()

    async def evaluate(self, expression: str, timeout: float | None = 10.0, *,
                       command_line_api: bool = False) -> Any:
        """Evaluate a JS expression in the target's global scope and return its JSON value."""
        reply = await self.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "silent": True,
            "includeCommandLineAPI": command_line_api,
        }, timeout)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise MemtuiError(f"evaluation in the target failed: {text.splitlines()[0]}")
        return reply.get("result", {}).get("value")

    @abstractmethod
    def _check_open(self) -> None:
        """Raise the session's TargetGone if it has ended."""

    @abstractmethod
    async def _transmit(self, method: str, message: str) -> None:
        """Send one request's JSON; a transport failure raises the session's TargetGone."""

    @abstractmethod
    def _no_answer(self, method: str, timeout: float | None) -> MemtuiError:
        """The error for a request not answered within `timeout`."""

    def _route(self, raw: str | bytes) -> None:
        """Route one incoming message; a failure is kept for the next call, never raised."""
        try:
            message = json.loads(raw)
        except ValueError:
            sender = self._label.strip() or "the inspector"
            self._failed(DispatchError(f"{sender} sent a message that is not JSON: "
                                       f"{raw[:80]!r}"))
            return
        self._last_heard = time.monotonic()
        if "id" in message and message["id"] in self._streaming:
            self._streaming.discard(message["id"])
            if not self._streaming:
                self._streams_ended.set()
        if "id" in message:
            pending = self._pending.get(message["id"])
            method = pending[0] if pending is not None else None
            log.debug("RECV %s%s %s (%d bytes)%s", self._label, message["id"], method,
                      len(raw), " error" if "error" in message else "")
            if pending is None or pending[1].done():
                return
            method, future = pending
            if "error" in message:
                future.set_exception(ProtocolError(method, message["error"]))
            else:
                future.set_result(message.get("result", {}))
        elif "method" in message:
            event = message["method"]
            if event not in QUIET_EVENTS:
                log.debug("EVENT %s%s (%d bytes)", self._label, event, len(raw))
            for handler in list(self._handlers.get(event, ())):
                try:
                    handler(message.get("params", {}))
                except Exception as exc:  # a handler's bug must not stop the routing
                    error = DispatchError(f"handling the {self._label}event {event} failed: "
                                          f"{type(exc).__name__}: {exc}")
                    error.__cause__ = exc
                    self._failed(error)

    def _fail_pending(self, error: Callable[[str], TargetGone]) -> None:
        """End the session: every pending call fails with `error(method)`."""
        for method, future in self._pending.values():
            if not future.done():
                future.set_exception(error(method))
        self.closed.set()
        self._streams_ended.set()

    def _failed(self, error: DispatchError) -> None:
        log.error("%s", error, exc_info=error.__cause__)
        if self._dispatch_error is None:
            self._dispatch_error = error


class Inspector(CdpChannel):
    """Requests with ids and per-call timeouts, events by method, close fails every pending call.

    No websocket close frame is ever sent: when a client's close frame crosses the close
    frames Node sends while its inspector closes, Node crashes (see DESIGN.md), and a
    dropped TCP connection is what Node handles safely. So `close` drops the connection, and
    a close frame from Node is answered by dropping it too.

    A dropped connection is safe only while the target is not writing to it: Node's
    inspector thread crashes (SIGSEGV in TcpHolder::WriteRaw, Node 20) when it writes a
    message for the connection in the loop turn in which it read the connection's end. So
    `close` first waits for the streams of given-up calls to end (see streams_ended).
    """

    def __init__(self, socket: websockets.ClientConnection):
        super().__init__("")
        self._socket = socket
        self._closed_reason: str | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, ws_url: str, timeout: float = 5.0,
                      namespace: NetworkNamespace | None = None) -> Inspector:
        """Open the websocket, over a socket made in the network namespace the URL's address
        is in (None: memtui's). Node drops the connection on a ping frame, so pings are off."""
        parts = urlsplit(ws_url)
        try:
            sock = await asyncio.to_thread(netns.connect, parts.hostname or "", parts.port or 80,
                                           timeout, namespace)
            try:
                socket = await websockets.connect(
                    ws_url, sock=sock, ping_interval=None, max_size=None, open_timeout=timeout,
                    close_timeout=1, compression=None, create_connection=_Connection,
                )
            except BaseException:
                sock.close()
                raise
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise MemtuiError(
                f"cannot connect to the inspector at {ws_url}: {exc}",
                "is the process still running? another tool may hold the inspector",
            ) from exc
        log.debug("connected to %s", ws_url)
        return cls(socket)

    def _check_open(self) -> None:
        if self._closed_reason is not None:
            raise InspectorClosed(f"inspector connection closed ({self._closed_reason})")

    async def _transmit(self, method: str, message: str) -> None:
        try:
            await self._socket.send(message)
        except websockets.ConnectionClosed:
            raise InspectorClosed(f"inspector connection closed during {method}") from None

    def _no_answer(self, method: str, timeout: float | None) -> MemtuiError:
        return MemtuiError(f"inspector did not answer {method} within {timeout:g}s",
                           "the target's event loop may be blocked")

    async def close(self) -> None:
        """Drop the connection (no close frame: see the class docstring), once the target
        is no longer streaming to it; idempotent."""
        await self.streams_ended()
        transport = self._socket.transport
        if not transport.is_closing():
            log.debug("dropping the connection")
            transport.close()
        try:
            async with asyncio.timeout(READER_GRACE_S):
                await asyncio.shield(self._reader)
        except TimeoutError:
            transport.abort()
            await asyncio.wait({self._reader})

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                self._route(raw)
            self._closed_reason = "closed by the target"
        except websockets.ConnectionClosed as exc:
            self._closed_reason = f"connection lost: {exc}"
        finally:
            if self._closed_reason is None:
                self._closed_reason = "reader stopped"
            reason = self._closed_reason
            log.debug("connection closed (%s)", reason)
            self._fail_pending(lambda method: InspectorClosed(
                f"inspector connection closed during {method} ({reason})"))
