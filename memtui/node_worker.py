"""Worker threads through the inspector's NodeWorker domain: each worker is its own CDP
session, tunnelled through the main one (`sendMessageToWorker`, `receivedMessageFromWorker`)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memtui.errors import MemtuiError, TargetGone
from memtui.inspector import (
    QUIET_EVENTS,
    CdpChannel,
    DispatchError,
    EventHandler,
    Inspector,
    ProtocolError,
)

DETACH_TIMEOUT_S = 3.0

log = logging.getLogger(__name__)


THREAD_TITLE = re.compile(r"\[worker (\d+)\]\s*(.*)")
"""Node titles a worker `[worker THREADID] NAME`; the protocol's `workerId` is the
inspector's own counter, not the `threadId` the program knows."""


@dataclass(frozen=True)
class WorkerInfo:
    """A worker thread as `NodeWorker.attachedToWorker` describes it. `worker_id` is its
    `threadId` in the target (from its title; the protocol's workerId when the title has
    none); `session_id` names its tunnelled session on one connection."""

    session_id: str
    worker_id: str
    name: str
    url: str

    @classmethod
    def of(cls, params: dict) -> WorkerInfo:
        info = params.get("workerInfo", {})
        title = str(info.get("title", ""))
        match = THREAD_TITLE.fullmatch(title)
        worker_id, name = match.groups() if match else (str(info.get("workerId", "?")), title)
        return cls(session_id=str(params["sessionId"]), worker_id=worker_id, name=name,
                   url=str(info.get("url", "")))


class WorkerGone(TargetGone):
    """The worker thread exited, its session was detached, or the main connection closed."""


class WorkerChannel(CdpChannel):
    """The CDP session of one worker thread. Like Inspector: a reply future is registered
    before sending, an event handler's failure is raised by the next call, and every pending
    call fails with WorkerGone when the worker leaves."""

    def __init__(self, inspector: Inspector, info: WorkerInfo):
        self.info = info
        self._inspector = inspector
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future]] = {}
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self._gone_reason: str | None = None
        self._dispatch_error: DispatchError | None = None
        self.closed = asyncio.Event()

    def on(self, method: str, handler: EventHandler) -> Callable[[], None]:
        self._handlers[method].append(handler)
        return lambda: self._handlers[method].remove(handler)

    async def send(self, method: str, params: dict | None = None,
                   timeout: float | None = 10.0) -> dict[str, Any]:
        if self._dispatch_error is not None:
            error, self._dispatch_error = self._dispatch_error, None
            raise error
        if self._gone_reason is not None:
            raise WorkerGone(f"worker {self.info.worker_id} is gone ({self._gone_reason})")
        call_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (method, future)
        message = json.dumps({"id": call_id, "method": method, "params": params or {}})
        log.debug("SEND worker %s %d %s", self.info.worker_id, call_id, method)
        try:
            async with asyncio.timeout(timeout):
                await self._inspector.send("NodeWorker.sendMessageToWorker",
                                           {"sessionId": self.info.session_id,
                                            "message": message}, timeout=None)
                return await future
        except TimeoutError:
            raise MemtuiError(f"worker {self.info.worker_id} did not answer {method} within "
                              f"{timeout:g}s", "the worker's event loop may be blocked") from None
        except ProtocolError as error:
            if error.method != "NodeWorker.sendMessageToWorker":
                raise
            raise WorkerGone(f"worker {self.info.worker_id} is gone during {method} "
                             f"({error})") from None
        except TargetGone as error:
            raise WorkerGone(f"worker {self.info.worker_id}: {error}") from None
        finally:
            self._pending.pop(call_id, None)
            if future.done() and not future.cancelled():
                future.exception()

    def deliver(self, raw: str) -> None:
        """Route one message the worker sent; a failure is kept for the next call."""
        try:
            message = json.loads(raw)
        except ValueError:
            self._failed(DispatchError(f"worker {self.info.worker_id} sent a message that is "
                                       f"not JSON: {raw[:80]!r}"))
            return
        if "id" in message:
            pending = self._pending.get(message["id"])
            if pending is None or pending[1].done():
                return
            method, future = pending
            log.debug("RECV worker %s %s %s", self.info.worker_id, message["id"], method)
            if "error" in message:
                future.set_exception(ProtocolError(method, message["error"]))
            else:
                future.set_result(message.get("result", {}))
        elif "method" in message:
            event = message["method"]
            if event not in QUIET_EVENTS:
                log.debug("EVENT worker %s %s", self.info.worker_id, event)
            for handler in list(self._handlers.get(event, ())):
                try:
                    handler(message.get("params", {}))
                except Exception as exc:  # a handler's bug must not stop the routing
                    error = DispatchError(f"handling the worker event {event} failed: "
                                          f"{type(exc).__name__}: {exc}")
                    error.__cause__ = exc
                    self._failed(error)

    def gone(self, reason: str) -> None:
        """The worker left: fail every pending call (idempotent)."""
        if self._gone_reason is not None:
            return
        self._gone_reason = reason
        for method, future in self._pending.values():
            if not future.done():
                future.set_exception(WorkerGone(
                    f"worker {self.info.worker_id} is gone during {method} ({reason})"))
        self.closed.set()

    @property
    def is_gone(self) -> bool:
        return self._gone_reason is not None

    def _failed(self, error: DispatchError) -> None:
        log.error("%s", error, exc_info=error.__cause__)
        if self._dispatch_error is None:
            self._dispatch_error = error


WorkerHandler = Callable[[WorkerChannel], None]


class NodeWorkers:
    """The NodeWorker domain on one inspector connection: a WorkerChannel for every worker
    thread, those running when enabled and those that start later. `on_attached` and
    `on_detached` are called from the inspector's reader; `close` detaches every session and
    disables the domain, so that nothing of it is left in the target."""

    def __init__(self, inspector: Inspector, on_attached: WorkerHandler,
                 on_detached: WorkerHandler):
        self.inspector = inspector
        self.channels: dict[str, WorkerChannel] = {}
        self._on_attached = on_attached
        self._on_detached = on_detached
        self._unsubscribe: list[Callable[[], None]] = []
        self._watch: asyncio.Task | None = None

    async def enable(self) -> None:
        """Enable the domain (workers are not paused at start). Raises MemtuiError naming
        the Node version's limit when the inspector has no NodeWorker domain."""
        self._unsubscribe = [
            self.inspector.on("NodeWorker.attachedToWorker", self._attached),
            self.inspector.on("NodeWorker.detachedFromWorker", self._detached),
            self.inspector.on("NodeWorker.receivedMessageFromWorker", self._received),
        ]
        try:
            await self.inspector.send("NodeWorker.enable", {"waitForDebuggerOnStart": False})
        except ProtocolError as error:
            self._unsubscribe_all()
            raise MemtuiError(f"this Node's inspector does not serve worker threads ({error})",
                              "NodeWorker is served by Node 20 and later") from error
        self._watch = asyncio.create_task(self._fail_all_when_closed())

    async def close(self) -> None:
        """Detach from every worker and disable the domain; a connection already gone only
        fails the channels. Idempotent."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if not self.inspector.closed.is_set():
            with contextlib.suppress(MemtuiError):
                for channel in list(self.channels.values()):
                    if not channel.is_gone:
                        await self.inspector.send("NodeWorker.detach",
                                                  {"sessionId": channel.info.session_id},
                                                  DETACH_TIMEOUT_S)
                await self.inspector.send("NodeWorker.disable", timeout=DETACH_TIMEOUT_S)
        self._unsubscribe_all()
        for channel in list(self.channels.values()):
            channel.gone("memtui detached")
        self.channels.clear()

    def _unsubscribe_all(self) -> None:
        for undo in self._unsubscribe:
            with contextlib.suppress(ValueError):
                undo()
        self._unsubscribe = []

    def _attached(self, params: dict) -> None:
        info = WorkerInfo.of(params)
        channel = WorkerChannel(self.inspector, info)
        self.channels[info.session_id] = channel
        log.debug("attached to worker %s (%s)", info.worker_id, info.name)
        self._on_attached(channel)

    def _detached(self, params: dict) -> None:
        channel = self.channels.pop(str(params.get("sessionId")), None)
        if channel is None:
            return
        log.debug("worker %s detached", channel.info.worker_id)
        channel.gone("the worker exited or its session ended")
        self._on_detached(channel)

    def _received(self, params: dict) -> None:
        channel = self.channels.get(str(params.get("sessionId")))
        if channel is not None:
            channel.deliver(params.get("message", ""))

    async def _fail_all_when_closed(self) -> None:
        await self.inspector.closed.wait()
        for channel in list(self.channels.values()):
            channel.gone("the inspector connection closed")
