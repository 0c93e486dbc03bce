"""One connection to a target's inspector with memtui's probe installed, and a clean detach."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
import uuid
from dataclasses import dataclass
from importlib import resources

import psutil

from memtui import attach
from memtui.attach_lock import attaching
from memtui.errors import MemtuiError, TargetGone, UsageError
from memtui.events import InspectorState
from memtui.inspector import Inspector
from memtui.sampler import GC_KINDS, GcCounters, HeapAfterGc, HeapSpace, Sample

PROBE_SOURCE = resources.files("memtui").joinpath("probe.js").read_text(encoding="utf-8")
PROBE_CALL = "globalThis[Symbol.for('memtui.probe')]"
DETACH_TIMEOUT = 3.0
SETTLE_S = 0.25
"""How long memtui stays silent on a connection to an inspector it found open, in case the
target was closing it: the close must not meet a frame of memtui's (see DESIGN.md)."""
CLOSE_WAIT_S = 2.0
"""How long a memtui whose leaving closes the inspector holds the attach lock for the
target to close it, so that no memtui connects meanwhile."""
CLOSE_POLL_S = 0.05
ATTACH_TRIES = 3
MOVE_WAIT_S = 3.0
BROADCAST_WAIT_S = 5.0
"""How long memtui looks for the inspector Node's cluster opens in a late worker: it opens
when the worker comes online, a few hundred ms after the fork on a busy host."""
MEASURED_SHARE = 0.5
"""ELU and CPU% are shown only when measured over at least this share of the interval."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetachResult:
    """What detaching did: whether the target ran the uninstall in time, and whether the
    inspector a memtui opened is being closed (by the target, once no client is connected;
    when it did not answer, as soon as it runs JavaScript again)."""

    answered: bool
    closes_inspector: bool

    def note(self, pid: int) -> str | None:
        """What happens next, when the target did not answer in time."""
        if self.answered:
            return None
        then = ("removes memtui's probe and closes the inspector memtui opened"
                if self.closes_inspector else "removes memtui's probe")
        return f"pid {pid} did not answer in time; it {then} when it runs JavaScript again"


class Session:
    """An attached target: inspector connection, probe client id, and what to undo on detach."""

    def __init__(self, target: attach.InspectorTarget, inspector: Inspector, pid: int,
                 node_version: str, keep_inspector: bool, interval: float = 1.0,
                 cwd: str | None = None):
        self.target = target
        self._process = _local_process(target.pid)
        self.inspector = inspector
        self.pid = pid  # as this host sees it; a remote target's own process.pid
        self.node_version = node_version
        self.cwd = cwd
        self.keep_inspector = keep_inspector
        self.interval = interval
        self.client_id = f"memtui-{uuid.uuid4().hex[:12]}"
        self.connection_id = uuid.uuid4().hex
        self.opened_by_a_memtui = target.opened_by_memtui
        self._last: Sample | None = None
        self._last_cpu: tuple[float, float] | None = None
        self._carried: tuple[GcCounters, float] = (GcCounters(), 0.0)
        self._letting_go: asyncio.Future[None] | None = None

    @property
    def inspector(self) -> Inspector:
        """The connection; one set here tells a silent snapshot stream from a stopped
        target by the target's CPU time (see CdpChannel.streams_ended)."""
        return self._inspector

    @inspector.setter
    def inspector(self, inspector: Inspector) -> None:
        inspector.target_cpu_s = self.cpu_s
        self._inspector = inspector

    @classmethod
    async def open(cls, spec: str | attach.InspectorTarget, *, keep_inspector: bool = False,
                   interval: float = 1.0, allow_non_loopback: bool = False) -> Session:
        """Attach to TARGET (PID, HOST:PORT, ws:// URL or a resolved target), connect, confirm
        the pid and install the probe for a client sampling every `interval` seconds.

        Holds the target's attach lock throughout. Any failure after memtui opened the
        inspector hands it to the probe's keeper, which closes it again. An inspector memtui
        opened on a non-loopback address (`allow_non_loopback`) is never kept open."""
        pid = spec.pid if isinstance(spec, attach.InspectorTarget) else attach.pid_of(spec)
        async with attaching(pid):
            for attempt in range(1, ATTACH_TRIES + 1):
                if isinstance(spec, attach.InspectorTarget):
                    target = spec
                else:
                    try:
                        target = await _resolve(spec, allow_non_loopback=allow_non_loopback)
                    except UsageError:
                        raise
                    except MemtuiError:
                        # An inspector found open may have closed before memtui reached it.
                        if pid is None or attempt == ATTACH_TRIES or not attach.running(pid):
                            raise
                        log.debug("attach failed; trying again", exc_info=True)
                        continue
                log.debug("attaching to %s (%s)", target.address,
                          "opened by memtui" if target.opened_by_memtui else "already open")
                if keep_inspector and target.opened_by_memtui and not target.loopback_only:
                    await release_inspector(target)
                    raise UsageError(
                        f"memtui opened pid {target.pid}'s inspector on {target.address}, "
                        "which is not a loopback address, and will not leave it open",
                        "drop --keep-inspector")
                try:
                    session = await cls._connect(target, keep_inspector, interval)
                except _ClosedOnArrival:
                    log.debug("the inspector closed as memtui arrived (try %d)", attempt)
                    if isinstance(spec, attach.InspectorTarget) or attempt == ATTACH_TRIES:
                        raise MemtuiError(f"the inspector of pid {target.pid} closed as memtui "
                                          "connected", "try again") from None
                    continue
                if target.fixed_port and target.loopback_only and not keep_inspector:
                    await session._move_off_fixed_port()
                await close_broadcast_inspectors(target)
                return session
        raise AssertionError("unreachable")

    @classmethod
    async def _connect(cls, target: attach.InspectorTarget, keep_inspector: bool,
                       interval: float) -> Session:
        try:
            inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
        except asyncio.CancelledError:
            if target.opened_by_memtui:
                with contextlib.suppress(MemtuiError):
                    await release_inspector(target)
            raise
        except MemtuiError as error:
            if not target.opened_by_memtui and not attach.still_listening(target):
                raise _ClosedOnArrival from error
            if target.opened_by_memtui:
                raise MemtuiError(f"{error.message}; memtui opened the inspector of pid "
                                  f"{target.pid} and could not close it again",
                                  error.hint) from error
            raise
        if not target.opened_by_memtui:
            await _settle(inspector)
        try:
            facts = await inspector.evaluate(
                "({pid: process.pid, version: process.version, cwd: process.cwd()})")
            if target.pid is not None:
                _confirm_pid(target, target.pid, facts["pid"])
            pid = facts["pid"] if target.pid is None else target.pid
            session = cls(target, inspector, pid, facts["version"], keep_inspector,
                          interval, facts.get("cwd"))
            await session.install_probe()
            await session._let_go_when_done()
        except BaseException:
            if target.opened_by_memtui:
                await _release(inspector, keep=False)
            await inspector.close()
            raise
        return session

    async def _move_off_fixed_port(self) -> None:
        """Have the target move the inspector memtui just opened on the port every process's
        SIGUSR1 uses (9229 by default) to an ephemeral loopback port, and connect there: the
        next process can then be opened too. On any failure memtui detaches."""
        old = self.target
        flags = json.dumps({"opened": True, "keep": False, "host": old.host})
        try:
            answer = await self.inspector.evaluate(
                f"({PROBE_SOURCE})(require, 'move', {json.dumps(self.client_id)}, "
                f"{self.interval}, {flags})", command_line_api=True)
            if not (answer and answer.get("moving")):
                return
            await self.inspector.close()
            target = await asyncio.to_thread(attach.wait_for_moved_inspector, old, MOVE_WAIT_S)
            self.inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
            self.target = target
            await self.install_probe()
            await self._let_go_when_done()
        except BaseException:
            with contextlib.suppress(MemtuiError):
                await self.close()
            raise
        log.debug("inspector moved from port %d to %s", old.port, self.target.address)

    async def reconnect(self) -> None:
        """Connect again to the same process, finding its inspector again from its listening
        sockets (the program may have reopened it on another port). An inspector that memtui
        opened and that was closed meanwhile is opened again as at attach: SIGUSR1, after the
        same checks. One the program opened is left for the program to reopen: racing it
        would make its own `inspector.open()` throw."""
        try:
            target = await asyncio.to_thread(attach.refresh_ws_url, self.target)
        except TargetGone:
            if self.target.pid is None:
                raise
            async with attaching(self.target.pid):
                target = await _resolve(str(self.target.pid),
                                        allow_signal=self.target.opened_by_memtui)
                self.inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
                await self._adopt(target)
                await close_broadcast_inspectors(target)
            return
        self.inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
        await self._adopt(target)

    async def _adopt(self, target: attach.InspectorTarget) -> None:
        self.target = target
        self.connection_id = uuid.uuid4().hex
        log.debug("reconnected to %s", target.address)
        await self.install_probe()
        await self._let_go_when_done()

    async def _let_go_when_done(self) -> None:
        """Have Node say when the target has run its last JavaScript and waits for its
        clients to leave before exiting (`Waiting for the debugger to disconnect...`), and
        drop the connection then: memtui must not hold up the exit of a program that ends."""
        inspector = self.inspector

        def done(_params: dict) -> None:
            log.debug("the target finished and waits for its clients to leave")
            self._letting_go = asyncio.ensure_future(inspector.close())

        inspector.on("NodeRuntime.waitingForDisconnect", done)
        await inspector.send("NodeRuntime.notifyWhenWaitingForDisconnect", {"enabled": True})

    async def install_probe(self) -> None:
        """Install the probe (idempotent). When it registers this client afresh (first attach,
        or the probe was removed meanwhile), GC figures continue from the last sample."""
        inspector = {"opened": self.target.opened_by_memtui, "keep": self.keep_inspector}
        answer = await self.inspector.evaluate(
            f"({PROBE_SOURCE})(require, 'install', {json.dumps(self.client_id)}, "
            f"{self.interval}, {json.dumps(inspector)})", command_line_api=True)
        if not answer or not answer.get("ok"):
            raise MemtuiError(f"cannot install memtui's probe in pid {self.pid}: "
                              f"{(answer or {}).get('error', 'no answer')}")
        self.opened_by_a_memtui = bool(answer.get("opened"))
        log.debug("probe installed: %s", answer)
        if answer.get("added") and self._last is not None:
            self._carried = (self._last.gc, self._last.gc_pause_ms)

    async def read(self, timeout: float | None = 10.0) -> Sample:
        """One sample: the probe's reading, with RSS and CPU% taken from outside by psutil."""
        expression = f"{PROBE_CALL}?.sample({json.dumps(self.client_id)})"
        answer = await self.inspector.evaluate(expression, timeout)
        if answer is None or (not answer.get("ok") and answer.get("error") == "not installed"):
            await self.install_probe()
            answer = await self.inspector.evaluate(expression, timeout)
        if not answer or not answer.get("ok"):
            raise MemtuiError(f"the probe failed in pid {self.pid}: "
                              f"{(answer or {}).get('error', 'no answer')}")
        self._last = self._sample(answer["reading"])
        return self._last

    def _sample(self, reading: dict) -> Sample:
        """A Sample from the probe's reading, with RSS and CPU% from psutil when local."""
        rss, cpu = reading["rss"], None
        if self._process is not None:
            with contextlib.suppress(psutil.Error):
                rss = self._process.memory_info().rss
                cpu = self._cpu_percent()
        return sample_of_reading(reading, self.pid, rss, cpu, self._carried, self.interval)

    def _cpu_percent(self) -> float | None:
        """The target's CPU use since the previous sample, in % of one core."""
        cpu = self.cpu_s()
        if cpu is None:
            return None
        now = (time.monotonic(), cpu)
        last, self._last_cpu = self._last_cpu, now
        if last is None or now[0] - last[0] < MEASURED_SHARE * self.interval:
            return None
        return max(0.0, 100 * (now[1] - last[1]) / (now[0] - last[0]))

    async def heap_used(self) -> int:
        return await self.inspector.evaluate("process.memoryUsage().heapUsed")

    @property
    def host_pid(self) -> int | None:
        """The target's PID on this host (None for an inspector on another host)."""
        return self.target.pid

    def cpu_s(self) -> float | None:
        """The target's CPU time in seconds, when it runs on this host."""
        if self._process is None:
            return None
        try:
            times = self._process.cpu_times()
        except psutil.Error:
            return None
        return times.user + times.system

    def rss_watch(self) -> RssWatch:
        return RssWatch(self._process)

    async def ended(self, within_s: float = 1.0) -> bool:
        """Whether the target ends within `within_s`: a lost connection may come a moment
        before the process is gone (the kernel closes its sockets while killing it)."""
        deadline = time.monotonic() + within_s
        while self.process_alive():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def process_alive(self) -> bool:
        """Whether the target still runs (True when it is not on this host)."""
        if self._process is None:
            return True
        try:
            return self._process.is_running() and self._process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    @property
    def command(self) -> str:
        if self._process is not None:
            with contextlib.suppress(psutil.Error):
                return attach.command_line(self._process)
        return f"pid {self.pid}"

    @property
    def started_at(self) -> float:
        if self._process is not None:
            with contextlib.suppress(psutil.Error):
                return self._process.create_time()
        return time.time()

    @property
    def inspector_state(self) -> InspectorState:
        if self.target.opened_by_memtui or self.opened_by_a_memtui:
            return (InspectorState.KEPT_OPEN if self.keep_inspector
                    else InspectorState.OPENED_BY_MEMTUI)
        return InspectorState.ALREADY_OPEN

    async def close(self) -> DetachResult:
        """Remove this client from the probe and drop the connection. The last memtui to
        leave hands an inspector that a memtui opened to the probe's keeper, which closes it
        once no client is connected (unless one memtui was asked to keep it open); this
        memtui holds the attach lock meanwhile (CLOSE_WAIT_S at most). A target that does not
        answer within DETACH_TIMEOUT runs the queued uninstall when it runs JavaScript
        again; memtui does not wait for that."""
        async with attaching(self.target.pid):
            result = await self._uninstall()
            if result.answered and result.closes_inspector:
                deadline = time.monotonic() + CLOSE_WAIT_S
                while attach.still_listening(self.target) and time.monotonic() < deadline:
                    await asyncio.sleep(CLOSE_POLL_S)
                log.debug("inspector %s", "still open" if attach.still_listening(self.target)
                          else "closed")
        return result

    async def _uninstall(self) -> DetachResult:
        try:
            answer = await self.inspector.evaluate(
                f"({PROBE_SOURCE})(require, 'uninstall', {json.dumps(self.client_id)})",
                DETACH_TIMEOUT, command_line_api=True)
            log.debug("probe uninstalled: %s", answer)
            return DetachResult(True, bool(answer and answer.get("closing")))
        except TargetGone:
            return DetachResult(False, False)
        except MemtuiError as error:
            log.debug("uninstall not answered: %s", error)
            return DetachResult(False, self.target.opened_by_memtui and not self.keep_inspector)
        finally:
            await self.inspector.close()


def sample_of_reading(reading: dict, pid: int, rss: int, cpu: float | None,
                      carried: tuple[GcCounters, float], interval: float) -> Sample:
    """A Sample from a probe's reading; GC figures continue from `carried` (the counts and
    pause before a reinstall). ELU is None unless measured over most of an interval (not
    over the few milliseconds between installing the probe and the first reading)."""
    carried_gc, carried_pause_ms = carried
    measured_s = reading.get("elu_span_ms", 0) / 1000
    elu = reading["elu"] if measured_s >= MEASURED_SHARE * interval else None
    return Sample(
        t=reading["t"], pid=pid, rss=rss,
        heap_total=reading["heap_total"], heap_used=reading["heap_used"],
        external=reading["external"], array_buffers=reading["array_buffers"],
        heap_limit=reading["heap_limit"], gc=carried_gc + GcCounters(**reading["gc"]),
        gc_pause_ms=carried_pause_ms + reading["gc_pause_ms"], elu=elu,
        cpu_percent=cpu,
        heap_spaces=tuple(HeapSpace(*space) for space in reading["heap_spaces"]),
        heap_after_gc=tuple(HeapAfterGc(point["t"], point["heap_used"])
                            for point in reading["heap_after_gc"]),
        gc_estimated=frozenset(kind for kind in GC_KINDS if reading["gc_estimated"][kind]),
        gc_pause_estimated=reading["gc_pause_estimated"],
        eld_p99_ms=reading["eld_p99_ms"], eld_max_ms=reading["eld_max_ms"],
    )


class RssWatch:
    """The target's RSS when created, at its highest while `watch` runs, and now."""

    def __init__(self, process: psutil.Process | None):
        self._process = process
        self.before = self.now()
        self.peak = self.before

    def now(self) -> int | None:
        if self._process is None:
            return None
        try:
            return int(self._process.memory_info().rss)
        except psutil.Error:
            return None

    def poll(self) -> None:
        rss = self.now()
        if rss is not None and (self.peak is None or rss > self.peak):
            self.peak = rss

    async def watch(self, every_s: float) -> None:
        """Poll until cancelled."""
        while True:
            self.poll()
            await asyncio.sleep(every_s)


def _confirm_pid(target: attach.InspectorTarget, pid: int, reported: int) -> None:
    """Refuse an inspector whose `process.pid` is not PID's PID in its own namespace."""
    expected = attach.innermost_pid(pid)
    if reported == expected:
        return
    theirs = "" if expected == pid else f" (which is pid {expected} in its PID namespace)"
    raise MemtuiError(f"the inspector at {target.address} belongs to pid {reported}, "
                      f"not PID {pid}{theirs}",
                      "another process holds that port; give its address instead")


async def _resolve(spec: str, *, allow_signal: bool = True,
                   allow_non_loopback: bool = False) -> attach.InspectorTarget:
    """attach.resolve_target off the event loop; an inspector it opened beyond loopback is
    closed again before the error is raised. Cancelled, it still waits for the thread (which
    may be signalling the target) and closes an inspector it opened."""
    resolving = asyncio.get_running_loop().run_in_executor(None, functools.partial(
        attach.resolve_target, spec, allow_signal=allow_signal,
        allow_non_loopback=allow_non_loopback))
    try:
        return await asyncio.shield(resolving)
    except asyncio.CancelledError:
        with contextlib.suppress(MemtuiError):
            target = await resolving
            if target.opened_by_memtui:
                log.debug("cancelled as pid %s's inspector opened; closing it", target.pid)
                await release_inspector(target)
        raise
    except attach.OpenedBeyondLoopback as error:
        try:
            await release_inspector(error.target)
        except MemtuiError as failure:
            raise MemtuiError(f"{error.message}, and memtui could not close it again: "
                              f"{failure.message}", error.hint) from None
        raise UsageError(f"{error.message}; memtui closed it again", error.hint) from None


async def release_inspector(target: attach.InspectorTarget, keep: bool = False) -> None:
    """Hand an inspector memtui opened, but never attached to, to the probe's keeper, which
    closes it again (the live view's terminal failed before attaching, say)."""
    inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
    try:
        await _release(inspector, keep)
    finally:
        await inspector.close()


async def close_broadcast_inspectors(target: attach.InspectorTarget) -> None:
    """Close again the inspectors that Node's cluster opened in the late workers of a
    primary memtui signalled (see InspectorTarget.workers_at_signal)."""
    late = await asyncio.to_thread(attach.late_workers, target)
    await asyncio.gather(*(_close_broadcast_inspector(worker) for worker in late))


async def _close_broadcast_inspector(worker: int) -> None:
    opened = await asyncio.to_thread(attach.broadcast_inspector, worker, BROADCAST_WAIT_S)
    if opened is None:
        log.debug("no inspector opened in late cluster worker %d", worker)
        return
    log.debug("closing the inspector the cluster opened in worker %d at %s", worker,
              opened.address)
    async with attaching(worker):
        with contextlib.suppress(MemtuiError):
            await release_inspector(opened)


async def _release(inspector: Inspector, keep: bool) -> None:
    flags = json.dumps({"opened": True, "keep": keep})
    try:
        answer = await inspector.evaluate(
            f"({PROBE_SOURCE})(require, 'release', null, 0, {flags})", DETACH_TIMEOUT,
            command_line_api=True)
        log.debug("inspector released to the keeper: %s", answer)
    except MemtuiError as error:
        log.warning("could not hand the inspector to the keeper: %s", error)


class _ClosedOnArrival(Exception):
    """The inspector memtui found open closed as memtui connected."""


async def _settle(inspector: Inspector) -> None:
    """Stay silent SETTLE_S on a new connection to an inspector memtui found open: if the
    target was closing it (its keeper counts connections, then closes), the close comes in
    that time, before memtui has sent a frame it could meet. Raises _ClosedOnArrival then."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_S):
            await inspector.closed.wait()
    if inspector.closed.is_set():
        await inspector.close()
        raise _ClosedOnArrival


def _local_process(pid: int | None) -> psutil.Process | None:
    """The target as seen from this host, when it runs here (None for a remote inspector)."""
    if pid is None:
        return None
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None
