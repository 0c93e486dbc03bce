"""The worker threads of an attached target, each sampled by memtui's probe installed in its
own session, and removed from it again on detach."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid

from memtui.errors import MemtuiError, UsageError
from memtui.events import WorkerAppeared, WorkerLeft, WorkersSampled, WorkerState, WorkerView
from memtui.inspector import Inspector
from memtui.node_worker import NodeWorkers, WorkerChannel, WorkerGone, WorkerInfo
from memtui.sampler import GcCounters, History, Sample
from memtui.session import DETACH_TIMEOUT, PROBE_CALL, PROBE_SOURCE, sample_of_reading

WORKER_HISTORY = 3_600

log = logging.getLogger(__name__)


class WorkerThread:
    """One worker thread: its session, the probe's client id in it, and its samples.

    Its readings' `rss` is the whole process's (threads share one), its heap figures and GC
    counts the worker's own isolate's."""

    def __init__(self, channel: WorkerChannel, pid: int, interval: float, client_id: str,
                 main_port: int | None):
        self.channel = channel
        self.pid = pid
        self.interval = interval
        self.client_id = client_id
        self.main_port = main_port
        self.connection_id = uuid.uuid4().hex
        self.history = History(WORKER_HISTORY)
        self.state: WorkerState = "attaching"
        self.error: str | None = None
        self._installed = False
        self._carried: tuple[GcCounters, float] = (GcCounters(), 0.0)
        self._reading: asyncio.Task[Sample] | None = None

    @property
    def info(self) -> WorkerInfo:
        return self.channel.info

    @property
    def worker_id(self) -> str:
        return self.channel.info.worker_id

    async def install(self) -> None:
        flags = json.dumps({"opened": False, "keep": False, "port": self.main_port})
        answer = await self.channel.evaluate(
            f"({PROBE_SOURCE})(require, 'install', {json.dumps(self.client_id)}, "
            f"{self.interval}, {flags})", command_line_api=True)
        if not answer or not answer.get("ok"):
            raise MemtuiError(f"cannot install memtui's probe in worker {self.worker_id}: "
                              f"{(answer or {}).get('error', 'no answer')}")
        latest = self.history.latest
        if answer.get("added") and latest is not None:
            self._carried = (latest.gc, latest.gc_pause_ms)
        self._installed = True

    async def read(self) -> Sample:
        """One sample of the worker (installing the probe first, or again when it was
        removed meanwhile)."""
        if not self._installed:
            await self.install()
        expression = f"{PROBE_CALL}?.sample({json.dumps(self.client_id)})"
        answer = await self.channel.evaluate(expression, timeout=None)
        if answer is None or (not answer.get("ok") and answer.get("error") == "not installed"):
            await self.install()
            answer = await self.channel.evaluate(expression, timeout=None)
        if not answer or not answer.get("ok"):
            raise MemtuiError(f"the probe failed in worker {self.worker_id}: "
                              f"{(answer or {}).get('error', 'no answer')}")
        reading = answer["reading"]
        return sample_of_reading(reading, self.pid, reading["rss"], None, self._carried,
                                 self.interval)

    def start_read(self) -> asyncio.Task[Sample] | None:
        """The read under way, started now unless the previous one has not answered yet
        (a worker whose event loop is blocked); None when one is still pending."""
        if self._reading is not None and not self._reading.done():
            return None
        self._reading = asyncio.ensure_future(self.read())
        return self._reading

    def stop_reading(self) -> None:
        """Cancel the read under way, or take no notice of how the last one ended: either
        way asyncio does not report its failure."""
        if self._reading is not None:
            self._reading.cancel()

    def settle(self, read: asyncio.Task[Sample] | None) -> None:
        """Take the outcome of a read: a sample, a failure, or none yet (unresponsive;
        None: the previous read is still pending)."""
        if read is None or not read.done():
            self.state = "unresponsive"
        elif not read.cancelled():
            error = read.exception()
            if error is None:
                self.history.append(read.result())
                self.state, self.error = "live", None
            elif not isinstance(error, WorkerGone):
                self.error = str(error)

    def view(self) -> WorkerView:
        samples = list(self.history)[-2:]
        previous = samples[0] if len(samples) == 2 else None
        return WorkerView(self.info, self.state, self.history.latest, previous, self.error)

    async def uninstall(self) -> bool:
        """Remove this client from the worker's probe (the probe with it when it was the last);
        False when the worker did not answer in time (its probe then removes itself once no
        connection to the inspector is left, a few seconds later)."""
        self.stop_reading()
        if not self._installed or self.channel.is_gone:
            return True
        try:
            await self.channel.evaluate(
                f"({PROBE_SOURCE})(require, 'uninstall', {json.dumps(self.client_id)})",
                DETACH_TIMEOUT, command_line_api=True)
            return True
        except MemtuiError as error:
            log.debug("uninstall in worker %s not answered: %s", self.worker_id, error)
            return False


class WorkerThreads:
    """Every worker thread of one target, through the NodeWorker domain on its main session:
    those running at `start` and those that start later; they leave when they exit."""

    def __init__(self, pid: int, interval: float):
        self.pid = pid
        self.interval = interval
        self.threads: dict[str, WorkerThread] = {}
        self._domain: NodeWorkers | None = None
        self._main_port: int | None = None
        self._client_ids: dict[str, str] = {}
        """A worker's client id, kept across reconnections so that its probe keeps one."""
        self._changes: list[WorkerAppeared | WorkerLeft] = []

    async def start(self, inspector: Inspector, main_port: int | None) -> None:
        """Enable NodeWorker on `inspector` (a new connection after a reconnect: the workers
        of the old one leave and come back). Raises MemtuiError when Node does not serve it."""
        if self._domain is not None:
            await self._domain.close()
            for thread in list(self.threads.values()):
                self._left(thread.channel)
        self._main_port = main_port
        self._domain = NodeWorkers(inspector, self._attached, self._left)
        await self._domain.enable()

    def _attached(self, channel: WorkerChannel) -> None:
        worker_id = channel.info.worker_id
        client_id = self._client_ids.setdefault(worker_id, f"memtui-{uuid.uuid4().hex[:12]}")
        self.threads[worker_id] = WorkerThread(channel, self.pid, self.interval, client_id,
                                               self._main_port)
        self._changes.append(WorkerAppeared(time.time(), channel.info))

    def _left(self, channel: WorkerChannel) -> None:
        thread = self.threads.get(channel.info.worker_id)
        if thread is None or thread.channel is not channel:
            return
        del self.threads[channel.info.worker_id]
        thread.stop_reading()
        self._changes.append(WorkerLeft(time.time(), channel.info))

    def thread(self, worker_id: str) -> WorkerThread:
        """The worker thread of that id; UsageError naming those there are otherwise."""
        found = self.threads.get(str(worker_id))
        if found is None:
            there = ", ".join(sorted(self.threads, key=_id_order)) or "none"
            raise UsageError(f"pid {self.pid} has no worker thread {worker_id}",
                              f"its worker threads: {there}")
        return found

    async def sample(self, wait_s: float) -> list[WorkerAppeared | WorkerLeft | WorkersSampled]:
        """Read every worker at once, waiting at most `wait_s` for their answers (a worker
        that does not answer is unresponsive; its read goes on). Returns the workers that
        appeared or left since the last call, then their readings."""
        reads = {worker_id: thread.start_read() for worker_id, thread in self.threads.items()}
        pending = {read for read in reads.values() if read is not None}
        if pending:
            await asyncio.wait(pending, timeout=wait_s)
        for worker_id, read in reads.items():
            thread = self.threads.get(worker_id)
            if thread is not None:
                thread.settle(read)
        changes, self._changes = self._changes, []
        return [*changes, WorkersSampled(time.time(), self.views())]

    def views(self) -> tuple[WorkerView, ...]:
        """The workers in thread id order."""
        return tuple(self.threads[worker_id].view()
                     for worker_id in sorted(self.threads, key=_id_order))

    async def streams_ended(self) -> None:
        """Wait until no worker streams a snapshot memtui gave up (see
        CdpChannel.streams_ended)."""
        await asyncio.gather(*(thread.channel.streams_ended()
                               for thread in self.threads.values()))

    async def close(self) -> bool:
        """Remove the probe from every worker that answers, detach from every worker and
        disable the domain. False when some worker did not answer: its probe removes itself
        once no connection to the inspector is left."""
        answered = await asyncio.gather(*(thread.uninstall()
                                          for thread in self.threads.values()))
        if self._domain is not None:
            domain, self._domain = self._domain, None
            with contextlib.suppress(MemtuiError):
                await domain.close()
        self.threads.clear()
        return all(answered)


def _id_order(worker_id: str) -> tuple[int, str]:
    return (int(worker_id), "") if worker_id.isdigit() else (1 << 62, worker_id)
