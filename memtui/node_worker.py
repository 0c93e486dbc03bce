"""Worker threads through the inspector's NodeWorker domain: each worker is its own CDP
session, tunnelled through the main one (`sendMessageToWorker`, `receivedMessageFromWorker`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from memtui.errors import MemtuiError, TargetGone
from memtui.inspector import (
    CdpChannel,
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
    """The CDP session of one worker thread, tunnelled through the main inspector; every
    pending call fails with WorkerGone when the worker leaves."""

    def __init__(self, inspector: Inspector, info: WorkerInfo):
        super().__init__(f"worker {info.worker_id} ")
        self.info = info
        self._inspector = inspector
        self._gone_reason: str | None = None

    def cpu_s(self) -> float | None:
        """The CPU time of the worker's process (its threads share one account)."""
        return self._inspector.cpu_s()

    def _check_open(self) -> None:
        if self._gone_reason is not None:
            raise WorkerGone(f"worker {self.info.worker_id} is gone ({self._gone_reason})")

    async def _transmit(self, method: str, message: str) -> None:
        try:
            await self._inspector.send("NodeWorker.sendMessageToWorker",
                                       {"sessionId": self.info.session_id,
                                        "message": message}, timeout=None)
        except ProtocolError as error:
            raise WorkerGone(f"worker {self.info.worker_id} is gone during {method} "
                             f"({error})") from None
        except TargetGone as error:
            raise WorkerGone(f"worker {self.info.worker_id}: {error}") from None

    def _no_answer(self, method: str, timeout: float | None) -> MemtuiError:
        return MemtuiError(f"worker {self.info.worker_id} did not answer {method} within "
                           f"{timeout:g}s", "the worker's event loop may be blocked")

    def deliver(self, raw: str) -> None:
        """Route one message the worker sent; a failure is kept for the next call."""
        self._route(raw)

    def gone(self, reason: str) -> None:
        """The worker left: fail every pending call (idempotent)."""
        if self._gone_reason is not None:
            return
        self._gone_reason = reason
        self._fail_pending(lambda method: WorkerGone(
            f"worker {self.info.worker_id} is gone during {method} ({reason})"))

    @property
    def is_gone(self) -> bool:
        return self._gone_reason is not None


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
