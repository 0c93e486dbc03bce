"""One connection to a target's inspector with memtui's probe installed, and a clean detach."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import replace
from importlib import resources

import psutil

from memtui import attach
from memtui.errors import MemtuiError, TargetGone
from memtui.inspector import Inspector
from memtui.sampler import GcCounters, HeapSpace, Sample

PROBE_SOURCE = resources.files("memtui").joinpath("probe.js").read_text(encoding="utf-8")
PROBE_CALL = "globalThis[Symbol.for('memtui.probe')]"
DETACH_TIMEOUT = 3.0


class Session:
    """An attached target: inspector connection, probe client id, and what to undo on detach."""

    def __init__(self, target: attach.InspectorTarget, inspector: Inspector, pid: int,
                 node_version: str, keep_inspector: bool, interval: float = 1.0):
        self.target = target
        self.inspector = inspector
        self.pid = pid  # as this host sees it; a remote target's own process.pid
        self.node_version = node_version
        self.keep_inspector = keep_inspector
        self.interval = interval
        self.client_id = f"memtui-{uuid.uuid4().hex[:12]}"
        self.connection_id = uuid.uuid4().hex
        self._process = None if target.pid is None else _local_process(target.pid)
        self._last: Sample | None = None
        self._carried: tuple[GcCounters, float] = (GcCounters(), 0.0)

    @classmethod
    async def open(cls, spec: str | attach.InspectorTarget, *,
                   keep_inspector: bool = False, interval: float = 1.0) -> Session:
        """Attach to TARGET (PID, HOST:PORT, ws:// URL or a resolved target), connect, confirm
        the pid and install the probe for a client sampling every `interval` seconds."""
        target = spec if isinstance(spec, attach.InspectorTarget) else \
            await asyncio.to_thread(attach.resolve_target, spec)
        return await cls._connect(target, keep_inspector, interval)

    @classmethod
    async def _connect(cls, target: attach.InspectorTarget, keep_inspector: bool,
                       interval: float) -> Session:
        """Connect, and confirm the inspector is the target's before installing anything."""
        inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
        try:
            facts = await inspector.evaluate("({pid: process.pid, version: process.version})")
            if target.pid is not None:
                _confirm_pid(target, target.pid, facts["pid"])
        except BaseException:
            await inspector.close()
            raise
        pid = facts["pid"] if target.pid is None else target.pid
        session = cls(target, inspector, pid, facts["version"], keep_inspector, interval)
        await session.install_probe()
        return session

    async def reconnect(self) -> None:
        """Connect again to the same process; the inspector's URL may have changed. An
        inspector that memtui opened and that was closed meanwhile (by a probe whose
        clients all went silent, say) is opened again as at attach: SIGUSR1, after the same
        checks. One the program opened is left for the program to reopen: racing it would
        make its own `inspector.open()` throw."""
        try:
            target = await asyncio.to_thread(attach.refresh_ws_url, self.target)
        except TargetGone:
            if self.target.pid is None or not self.target.opened_by_memtui:
                raise
            target = await asyncio.to_thread(attach.resolve_target, str(self.target.pid))
        self.inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
        self.target = replace(target, opened_by_memtui=self.target.opened_by_memtui)
        self.connection_id = uuid.uuid4().hex
        await self.install_probe()

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
        """A Sample from the probe's reading; GC figures continue from before a reinstall."""
        rss, cpu = reading["rss"], None
        carried_gc, carried_pause_ms = self._carried
        if self._process is not None:
            with contextlib.suppress(psutil.Error):
                rss = self._process.memory_info().rss
                cpu = self._process.cpu_percent(None)
        return Sample(
            t=reading["t"], pid=self.pid, rss=rss,
            heap_total=reading["heap_total"], heap_used=reading["heap_used"],
            external=reading["external"], array_buffers=reading["array_buffers"],
            heap_limit=reading["heap_limit"], gc=carried_gc + GcCounters(**reading["gc"]),
            gc_pause_ms=carried_pause_ms + reading["gc_pause_ms"], elu=reading["elu"],
            cpu_percent=cpu,
            heap_spaces=tuple(HeapSpace(*space) for space in reading["heap_spaces"]),
        )

    async def heap_used(self) -> int:
        return await self.inspector.evaluate("process.memoryUsage().heapUsed")

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
                return " ".join(self._process.cmdline())
        return f"pid {self.pid}"

    @property
    def started_at(self) -> float:
        if self._process is not None:
            with contextlib.suppress(psutil.Error):
                return self._process.create_time()
        return time.time()

    @property
    def inspector_state(self) -> str:
        if self.target.opened_by_memtui:
            return "kept open" if self.keep_inspector else "opened by memtui"
        return "already open"

    async def close(self) -> None:
        """Remove the probe. The last memtui to leave closes an inspector that a memtui
        opened (this one or another), unless one of them was asked to keep it open."""
        try:
            answer = await self.inspector.evaluate(
                f"({PROBE_SOURCE})(require, 'uninstall', {json.dumps(self.client_id)})",
                DETACH_TIMEOUT, command_line_api=True)
            if answer and answer.get("closeInspector"):
                await self.inspector.evaluate(
                    "(() => { const inspector = require('inspector');"
                    " setTimeout(() => { try { inspector.close(); } catch (_) {} }, 50);"
                    " return true; })()", DETACH_TIMEOUT, command_line_api=True)
        except TargetGone:
            pass
        finally:
            await self.inspector.close()


def _confirm_pid(target: attach.InspectorTarget, pid: int, reported: int) -> None:
    """Refuse an inspector whose `process.pid` is not PID's PID in its own namespace."""
    expected = attach.innermost_pid(pid)
    if reported == expected:
        return
    theirs = "" if expected == pid else f" (which is pid {expected} in its PID namespace)"
    raise MemtuiError(f"the inspector at {target.address} belongs to pid {reported}, "
                      f"not PID {pid}{theirs}",
                      "another process holds that port; give its address instead")


def _local_process(pid: int) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        process.cpu_percent(None)
        return process
    except psutil.Error:
        return None
