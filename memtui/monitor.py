"""The live monitor engine: one attached target, its samples, and the actions on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import psutil

from memtui import analysis
from memtui.attach import InspectorTarget, pid_of
from memtui.capture import CaptureOrigin, capture_snapshot, default_snapshot_path
from memtui.container import container_of
from memtui.errors import MemtuiError, TargetGone
from memtui.events import (
    ConnectionLost,
    GcResult,
    MonitorEvent,
    Reconnected,
    Responsive,
    Restarted,
    SampleTaken,
    SnapshotProgress,
    SnapshotRisk,
    SnapshotSaved,
    StillReconnecting,
    TargetExited,
    TargetInfo,
    Unresponsive,
    WorkerView,
)
from memtui.inspector import CdpChannel, ProtocolError
from memtui.sampler import History, Sample
from memtui.session import DetachResult, Session
from memtui.successor import Lineage, find_successor
from memtui.target_exit import ExitReason, ExitWatch
from memtui.verdict import DEFAULT_RULE, VERDICT_WINDOW_S, LeakRule, Verdicts, assess
from memtui.worker_threads import WorkerThread, WorkerThreads

METHOD_NOT_FOUND = -32601
RECONNECT_EVERY = 1.0
STILL_RECONNECTING_EVERY = 5.0
RSS_POLL_S = 0.05
EXIT_GRACE_S = 0.5
FOLLOW_POLL_S = 0.5
FOLLOW_GIVE_UP_ON_S = 10.0
"""A successor that cannot be attached to for this long is passed over."""
WORKER_WAIT_SHARE = 0.5
"""The share of an interval memtui waits for its workers' readings after the main thread's."""
WORKERS_DETACH_S = 1.5
"""How long detaching waits for the workers' probes to be removed (the main thread's own
detach comes after, within its own DETACH_TIMEOUT)."""

log = logging.getLogger(__name__)


class Monitor:
    """Attach to TARGET, sample it every `interval` seconds, force GCs and take snapshots.

    TARGET is a PID, HOST:PORT or ws:// URL, or an InspectorTarget already resolved.
    `wait_status` gives the target's exit status when memtui is its parent (the demo).
    With `follow`, a target that exits is replaced by its successor (memtui.successor).
    With `workers`, its worker threads are sampled too (memtui.worker_threads); when Node
    does not serve them, `workers_problem` says why.
    """

    def __init__(self, target: str | InspectorTarget, *, interval: float = 1.0,
                 keep_inspector: bool = False, allow_non_loopback: bool = False,
                 snapshot_dir: Path | None = None, history_size: int = 86_400,
                 wait_status: Callable[[], int | None] | None = None, follow: bool = False,
                 leak_rule: LeakRule = DEFAULT_RULE, workers: bool = False):
        self.target = target
        self.interval = interval
        self.keep_inspector = keep_inspector
        self.allow_non_loopback = allow_non_loopback
        self.snapshot_dir = snapshot_dir or Path.cwd()
        self.history = History(history_size)
        self.leak_rule = leak_rule
        self.info: TargetInfo | None = None
        self.snapshots: list[SnapshotSaved] = []
        self.unresponsive_after = max(2 * interval, 3.0)
        self.exit_reason: ExitReason | None = None
        self._wait_status = wait_status or (lambda: None)
        self._exit_watch: ExitWatch | None = None
        self._session: Session | None = None
        self.follow = follow
        self.watch_workers = workers
        self.workers: WorkerThreads | None = None
        self.workers_problem: str | None = None
        self._lineage: Lineage | None = None
        self._unreported: Sample | None = None
        """The sample the attach took, which `events` yields first."""
        self._closed = False
        self._attaching: asyncio.Future[TargetInfo] | None = None
        """An attach under way: `close` waits for it, so that an inspector it opened is
        closed too."""

    @property
    def session(self) -> Session:
        if self._session is None:
            raise MemtuiError("not attached")
        return self._session

    @property
    def attached(self) -> bool:
        return self._session is not None or self._attaching is not None

    async def start(self, *, retry_for: float = 0.0) -> TargetInfo:
        """Attach, connect and install the probe. Raises MemtuiError on failure, after
        detaching again when it got that far; with `retry_for`, a failing attach is tried
        again for that many seconds while the process lives (one that just started may not
        catch SIGUSR1 yet). Not cut short by a cancellation: `close` waits for it instead, so
        that an inspector it opened is closed too."""
        deadline = time.monotonic() + retry_for
        while True:
            if self._closed:
                raise MemtuiError(f"stopped attaching to {self.target}")
            self._attaching = attaching = asyncio.ensure_future(self._start())
            try:
                return await asyncio.shield(attaching)
            except MemtuiError as error:
                if time.monotonic() >= deadline or not self._process_exists():
                    raise
                log.info("cannot attach to %s yet: %s", self.target, error)
            finally:
                if attaching.done():
                    self._attaching = None
            await asyncio.sleep(FOLLOW_POLL_S)

    def _process_exists(self) -> bool:
        pid = self.target.pid if isinstance(self.target, InspectorTarget) else pid_of(self.target)
        return pid is not None and psutil.pid_exists(pid)

    async def _start(self) -> TargetInfo:
        session = await Session.open(self.target, keep_inspector=self.keep_inspector,
                                     interval=self.interval,
                                     allow_non_loopback=self.allow_non_loopback)
        self._session = session
        try:
            first = await session.read()
        except BaseException:
            self._session = None
            await asyncio.shield(session.close())
            raise
        self.history.append(first)
        self._unreported = first
        if self.watch_workers:
            await self._start_workers(session)
        host_pid, namespace = session.host_pid, session.target.netns
        limit = analysis.container_memory_limit(host_pid) if host_pid is not None else None
        if host_pid is not None:
            self._exit_watch = ExitWatch.of(host_pid, analysis.memory_cgroup_dirs(host_pid),
                                            limit)
            try:
                self._lineage = Lineage.of(host_pid)
            except (psutil.Error, OSError):
                self._lineage = None
        self.info = TargetInfo(
            pid=session.pid, command=session.command, node_version=session.node_version,
            started_at=session.started_at, heap_limit=first.heap_limit,
            container_limit=limit, inspector=session.inspector_state,
            address=session.target.address, loopback_only=session.target.loopback_only,
            container=None if host_pid is None else container_of(host_pid),
            netns_inode=None if namespace is None else namespace.inode,
            moved_from=session.target.moved_from,
        )
        return self.info

    async def _start_workers(self, session: Session) -> None:
        """Enable the worker threads on this connection; a Node that does not serve them is
        noted in `workers_problem`, not a failure of the attach."""
        if self.workers is None or self.workers.pid != session.pid:
            self.workers = WorkerThreads(session.pid, self.interval)
        try:
            await self.workers.start(session.inspector, session.target.port)
            self.workers_problem = None
        except MemtuiError as error:
            log.info("no worker threads: %s", error)
            self.workers_problem = str(error)

    def verdicts(self, window_s: float = VERDICT_WINDOW_S, worker: str | None = None
                 ) -> Verdicts:
        """The verdicts over the last `window_s` seconds of the history (of that worker
        thread's, when given)."""
        history = self.history if worker is None else self.worker(worker).history
        latest = history.latest
        samples = history.since(latest.t - window_s) if latest is not None else []
        limit = self.info.container_limit if self.info is not None else None
        return assess(samples, limit, self.leak_rule)

    @property
    def can_follow(self) -> bool:
        """Whether a successor can be looked for: the target is a local process."""
        return self._lineage is not None

    async def events(self) -> AsyncGenerator[MonitorEvent, None]:
        """Sample until the target exits (with `follow`, its successors too); yields samples
        and state changes."""
        while True:
            async for event in self._events_until_exit():
                yield event
            if not (self.follow and self.can_follow):
                return
            async for event in self._attach_successor():
                yield event
            if self._closed:
                return

    async def follow_successor(self) -> AsyncGenerator[MonitorEvent, None]:
        """After the target exited: wait for its successor, attach, and go on as `events`."""
        self.follow = True
        async for event in self._attach_successor():
            yield event
        async for event in self.events():
            yield event

    async def _attach_successor(self) -> AsyncIterator[MonitorEvent]:
        """Wait (without end) for the exited target's successor and attach to it; yields
        Restarted. A candidate that cannot be attached to is tried again for a while (a
        process that just started may not catch SIGUSR1 yet), then passed over."""
        lineage = self._lineage
        assert lineage is not None
        old_pid = self.info.pid if self.info else 0
        old_host_pid = self.session.host_pid if self._session else None
        reason = self.exit_reason or self.why_exited()
        latest = self.history.latest
        last_seen = latest.t if latest else time.time()
        await self._detach()
        passed_over: set[int] = {old_host_pid} if old_host_pid is not None else set()
        failing_since: dict[int, float] = {}
        while not self._closed:
            pid = await asyncio.to_thread(find_successor, lineage, last_seen, passed_over)
            info = await self._attach_to(pid) if pid is not None else None
            if info is not None:
                self.exit_reason = None
                yield Restarted(at=time.time(), old_pid=old_pid, new_pid=info.pid,
                                reason=reason)
                return
            if pid is not None:
                first = failing_since.setdefault(pid, time.monotonic())
                if time.monotonic() - first >= FOLLOW_GIVE_UP_ON_S:
                    passed_over.add(pid)
            await asyncio.sleep(FOLLOW_POLL_S)

    async def _attach_to(self, pid: int) -> TargetInfo | None:
        """Attach to PID; None when that fails."""
        self.target = str(pid)
        try:
            return await self.start()
        except MemtuiError as error:
            log.info("cannot attach to successor %d yet: %s", pid, error)
            return None

    async def _events_until_exit(self) -> AsyncGenerator[MonitorEvent, None]:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        if self._unreported is not None:
            # The next sample comes an interval after the attach's: rates over the few ms
            # between the two would be noise (one GC in 7 ms reads 143 GC/s).
            yield SampleTaken(self._unreported)
            self._unreported = None
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        while True:
            try:
                async for event in self._read_one():
                    yield event
            except TargetGone as exc:
                if await self.session.ended(EXIT_GRACE_S):
                    yield self._exited()
                    return
                lost_at = time.time()
                yield ConnectionLost(at=lost_at, reason=str(exc))
                async for event in self._reconnect(lost_at):
                    yield event
                if not self.session.process_alive():
                    yield self._exited()
                    return
                yield Reconnected(at=time.time())
                if self.watch_workers:
                    await self._start_workers(self.session)
                next_at = loop.time()
            next_at += self.interval
            delay = next_at - loop.time()
            if delay < 0:
                next_at, delay = loop.time(), 0
            await asyncio.sleep(delay)

    async def _read_one(self) -> AsyncIterator[MonitorEvent]:
        read = asyncio.ensure_future(self.session.read(timeout=None))
        try:
            done, _ = await asyncio.wait({read}, timeout=self.unresponsive_after)
            if not done:
                yield Unresponsive(since=time.time() - self.unresponsive_after)
                await read
                yield Responsive(at=time.time())
            sample = read.result()
        finally:
            read.cancel()
        self.history.append(sample)
        yield SampleTaken(sample)
        if self.workers is not None:
            for event in await self.workers.sample(WORKER_WAIT_SHARE * self.interval):
                yield event

    async def _reconnect(self, since: float) -> AsyncIterator[MonitorEvent]:
        """Connect again while the process lives, saying every few seconds that it goes on;
        ends connected, or once the process exited."""
        said_at = time.monotonic()
        while self.session.process_alive():
            try:
                await self.session.reconnect()
                return
            except MemtuiError as error:
                if time.monotonic() - said_at >= STILL_RECONNECTING_EVERY:
                    said_at = time.monotonic()
                    yield StillReconnecting(since=since, reason=str(error))
                await asyncio.sleep(RECONNECT_EVERY)

    def _exited(self) -> TargetExited:
        self.exit_reason = self.why_exited()
        return TargetExited(at=time.time(), reason=self.exit_reason)

    def why_exited(self) -> ExitReason:
        """How the target ended, as far as can be known (see memtui.target_exit)."""
        if self._exit_watch is None:
            return ExitReason()
        return self._exit_watch.reason(self._wait_status())

    def worker_samples(self) -> list[tuple[WorkerView, History]]:
        """Each worker thread, in thread id order, with its samples."""
        if self.workers is None:
            return []
        return [(view, self.workers.threads[view.info.worker_id].history)
                for view in self.workers.views()]

    def worker(self, worker_id: str) -> WorkerThread:
        """The worker thread of that id; MemtuiError when there is none (or Node serves none)."""
        if self.workers is None or self.workers_problem is not None:
            raise MemtuiError(self.workers_problem or "worker threads are not watched")
        return self.workers.thread(worker_id)

    async def collect_garbage(self, worker: str | None = None) -> GcResult:
        """Force a full GC of the main thread's heap, or of that worker's (waits until its
        event loop is free)."""
        channel = self.session.inspector if worker is None else self.worker(worker).channel
        heap_used = "process.memoryUsage().heapUsed"
        started = time.monotonic()
        try:
            before = await channel.evaluate(heap_used)
            await channel.send("HeapProfiler.collectGarbage", timeout=None)
            after = await channel.evaluate(heap_used)
        except ProtocolError as error:
            raise self._unserved(error, worker) from error
        return GcResult(before, after, time.monotonic() - started)

    def _unserved(self, error: ProtocolError, worker: str | None) -> MemtuiError:
        """A method the inspector does not serve (in a worker's session, on this Node)."""
        if error.code != METHOD_NOT_FOUND or worker is None:
            return error
        version = self.info.node_version if self.info else "this Node"
        return MemtuiError(f"node {version} does not serve {error.method} in a worker "
                           f"thread's session ({error})", "capture from the main thread")

    async def snapshot_risk(self, worker: str | None = None) -> SnapshotRisk:
        """How much memory a snapshot would add to the target, against what is free (the
        heap to walk is that worker's, when given)."""
        if worker is None:
            sample = self.history.latest or await self.session.read()
        else:
            thread = self.worker(worker)
            sample = thread.history.latest or await thread.read()
        pid = self.session.host_pid
        if pid is None:
            return analysis.snapshot_risk(sample, None, None)
        return analysis.snapshot_risk(sample, analysis.container_memory_limit(pid),
                                      analysis.container_memory_usage(pid))

    async def take_snapshot(self, on_progress: Callable[[SnapshotProgress], None] | None = None,
                            path: Path | None = None, worker: str | None = None
                            ) -> SnapshotSaved:
        """Stream a heap snapshot of the main thread, or of that worker thread, to `path`
        (default: a timestamped file in snapshot_dir), noting what it cost the target. A
        target (or worker) that ends meanwhile is said to, with how."""
        session = self.session
        thread = None if worker is None else self.worker(worker)
        path = path or default_snapshot_path(session.pid, self.snapshot_dir, worker=worker)
        origin = CaptureOrigin(pid=session.pid, session=session.connection_id,
                               node_version=session.node_version, cwd=session.cwd)
        channel: CdpChannel = session.inspector
        if thread is not None:
            channel = thread.channel
            origin = replace(origin, session=thread.connection_id, thread=thread.worker_id)
        rss = session.rss_watch()
        watcher = asyncio.create_task(rss.watch(RSS_POLL_S))
        try:
            saved = await capture_snapshot(channel, path, origin, on_progress)
        except ProtocolError as error:
            raise self._unserved(error, worker) from error
        except TargetGone as error:
            if thread is not None and thread.channel.is_gone and session.process_alive():
                raise TargetGone(f"worker {worker} of pid {session.pid} exited during the "
                                 "snapshot; no snapshot was written") from error
            if not await session.ended():
                raise
            self.exit_reason = self.why_exited()
            raise TargetGone(f"pid {session.pid} {self.exit_reason.describe()} during the "
                             "snapshot; no snapshot was written") from error
        finally:
            watcher.cancel()
        saved = replace(saved, rss_before=rss.before, rss_peak=rss.peak, rss_after=rss.now())
        self.snapshots.append(saved)
        return saved

    async def close(self, on_wait: Callable[[], None] | None = None) -> DetachResult | None:
        """Remove the probe and drop the connection; an inspector a memtui opened is closed
        by the target once no client is connected (unless keep_inspector). None when not
        attached. An attach under way is awaited and undone, and none is begun after.
        A snapshot memtui gave up that the target is still sending is waited for first (see
        streams_ended); `on_wait()` is called when there is one."""
        self._closed = True
        return await self._detach(on_wait)

    async def streams_ended(self, on_wait: Callable[[], None] | None = None) -> None:
        """Wait until the target, and each worker thread, no longer sends a snapshot that
        memtui gave up (an interrupted capture): dropping the connection while it does can
        crash Node. Bounded by the stream falling silent while the target does no work
        (STREAM_SILENCE_S)."""
        if self._session is None:
            return
        await self._session.inspector.streams_ended(on_wait=on_wait)
        if self.workers is not None:
            await self.workers.streams_ended()

    async def _detach(self, on_wait: Callable[[], None] | None = None) -> DetachResult | None:
        if self._attaching is not None:
            attaching, self._attaching = self._attaching, None
            with contextlib.suppress(MemtuiError):
                await asyncio.shield(attaching)
        if self._session is None:
            return None
        await self.streams_ended(on_wait)
        session, self._session = self._session, None
        if self.workers is not None:
            workers, self.workers = self.workers, None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WORKERS_DETACH_S):
                    await workers.close()
        return await session.close()
