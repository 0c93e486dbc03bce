"""The Textual app: attaches the injected monitors, follows their events, runs the screens."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.drivers.linux_driver import LinuxDriver

from memtui import attach
from memtui.attach import ClusterWorkersClosed
from memtui.auto_capture import AutoCapture
from memtui.errors import MemtuiError
from memtui.events import MonitorEvent, TargetExited
from memtui.monitor import Monitor
from memtui.ui.messages import (
    FollowRequested,
    MonitorEventArrived,
    MonitorStopped,
    ProcessOpened,
)
from memtui.ui.model import Severity, StatusMessage, TargetState
from memtui.ui.screens.diff import SnapshotCache
from memtui.ui.screens.monitor import MonitorScreen
from memtui.ui.screens.overview import OverviewScreen
from memtui.ui.watched import MESSAGE_LOG_SIZE, WatchedTarget

log = logging.getLogger(__name__)

DETACH_TIMEOUT_S = 5.0
DISCOVER_EVERY_S = 1.0
APPEARED_RETRY_S = 10.0
"""How long attaching to a process that started meanwhile is tried (it may not catch
SIGUSR1 yet) before its row says why it cannot be."""
WORKERS_SETTLE_S = 60.0
"""How long a cluster primary's attach waits for its workers' attaches to end."""
LISTED_POLL_S = 0.25
"""How often a primary waiting for its workers looks whether the overview lists them."""


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, except that output is dropped once the terminal has hung up.

    Textual's writer thread dies on its first failed write, and from then on each write
    waits for room in its queue: after a lost SSH connection memtui would hang instead of
    detaching and exiting."""

    def write(self, data: str) -> None:
        if self._file is not None and os.isatty(self._file.fileno()):
            super().write(data)


@dataclass(frozen=True)
class Watchlist:
    """The processes an overview watches: `find` gives the targets now (PIDs, HOST:PORT or
    URLs; called off the event loop, again every second when the list `grows`),
    `new_monitor` makes the Monitor of one, `title` says what the list covers."""

    find: Callable[[], list[str]]
    new_monitor: Callable[[str], Monitor]
    title: str
    grows: bool
    limit: int | None = None
    """The most processes attached at once; those found beyond it are listed, refused."""


class MemtuiApp(App[int]):
    """The live view: one target's monitor, or, given a Watchlist, an overview of many
    whose `enter` opens one's monitor. `clock` gives the wall time (tests freeze it);
    `auto_capture` takes the automatic snapshots (`--snapshot-on`) of a single target.

    The App owns a WatchedTarget per process: it attaches them concurrently, applies every
    engine event to its target and posts it to that target's screens, and detaches them all
    on every way out. An unexpected exception anywhere in the app ends it with code 1 and is
    kept in `crash` (its traceback goes to the log, not the terminal); `run_monitor` and
    `run_overview` detach after it."""

    CSS_PATH = Path(__file__).with_name("memtui.tcss")
    TITLE = "memtui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("q", "quit", "quit", show=False),
    ]

    def __init__(self, watching: Monitor | Watchlist, clock: Callable[[], float] = time.time,
                 auto_capture: AutoCapture | None = None):
        super().__init__(driver_class=TerminalDriver)
        self.clock = clock
        self.auto_capture = auto_capture
        self.watchlist = watching if isinstance(watching, Watchlist) else None
        self.targets: list[WatchedTarget] = []
        """Every process watched in this session, for detaching."""
        self.listed: list[WatchedTarget] = []
        """The processes the overview shows (those that left are not)."""
        if not isinstance(watching, Watchlist):
            self.targets.append(WatchedTarget(watching, clock))
        self.notes: deque[StatusMessage] = deque(maxlen=MESSAGE_LOG_SIZE)
        """The overview's messages: processes that came and went."""
        self.failure: MemtuiError | None = None
        self.crash: Exception | None = None
        self.detach_problems: list[str] = []
        self.detaching = False
        self.snapshot_cache = SnapshotCache()
        self.overview: OverviewScreen | None = None

    @property
    def monitor_screen(self) -> MonitorScreen:
        """The monitor screen nearest the top of the stack."""
        screens = [s for s in self.screen_stack if isinstance(s, MonitorScreen)]
        assert screens, "no monitor screen is open"
        return screens[-1]

    async def on_mount(self) -> None:
        # SIGTERM and SIGHUP (the terminal or the SSH connection went away) end memtui the
        # way `q` does, so an inspector memtui opened is not left open on the server.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.detach)
        if self.watchlist is None:
            target = self.targets[0]
            await self.push_screen(MonitorScreen(target, self.clock, self.snapshot_cache,
                                                 auto_capture=self.auto_capture))
            self.post_to_screens(target, None, target.say("attaching…", kind="state"))
            self.run_worker(self.follow_monitor(target), group="monitor", exclusive=True)
            return
        self.overview = OverviewScreen(self.listed, self.notes, self.watchlist.title)
        await self.push_screen(self.overview)
        self.run_worker(self.discover(self.watchlist), group="discover")

    async def follow_monitor(self, target: WatchedTarget) -> None:
        """Attach unless already attached, then forward every event to the monitor screen;
        an attach failure ends the app with its exit code."""
        if target.monitor.info is None:
            try:
                await target.monitor.start()
            except MemtuiError as error:
                self.failure = error
                self.exit(error.exit_code, return_code=error.exit_code)
                return
        self.monitor_screen.redraw()
        await self._forward(target, target.monitor.events())

    async def discover(self, watchlist: Watchlist) -> None:
        """Watch the processes the list names; when it grows, look again every second:
        processes that appear join, refused ones that are gone leave."""
        first = True
        while not self.detaching:
            try:
                found = await asyncio.to_thread(watchlist.find)
            except MemtuiError as error:
                log.info("finding the processes: %s", error)
                found = []
            known = {str(target.monitor.target): target for target in self.listed}
            for spec in found:
                if spec not in known:
                    self.add_process(watchlist.new_monitor(spec), appeared=not first,
                                     refusal=self._over(watchlist.limit))
            for spec, target in known.items():
                if target.state is TargetState.REFUSED and spec not in found:
                    self.leave(target, f"{target.name} is gone")
            if not watchlist.grows:
                return
            first = False
            await asyncio.sleep(DISCOVER_EVERY_S)

    def _over(self, limit: int | None) -> str | None:
        """Why one more process may not be attached: `limit` are attached or being attached
        (exited ones not counted); None when it may."""
        held = [t for t in self.listed
                if t.state is not TargetState.REFUSED and t.exited_at is None]
        if limit is None or len(held) < limit:
            return None
        return f"the overview attaches to at most {limit} processes (--max-processes)"

    def add_process(self, monitor: Monitor, appeared: bool, refusal: str | None = None) -> None:
        """Add a process to the overview and attach to it in a worker of its own; one with a
        `refusal` is listed, refused, and left untouched."""
        target = WatchedTarget(monitor, self.clock)
        self.targets.append(target)
        self.listed.append(target)
        if refusal is not None:
            target.refuse(refusal)
            self.note(f"{target.name} started; not attached: {refusal}", "warning")
            return
        target.say("attaching…", kind="state")
        if appeared:
            self.note(f"{target.name} started; attaching", "info")
        elif self.overview is not None:
            self.overview.fill()
        self.run_worker(self._attach_and_follow(target, appeared), group=f"target-{id(target)}")

    async def _attach_and_follow(self, target: WatchedTarget, appeared: bool) -> None:
        try:
            await self._attach_process(target, appeared)
        except MemtuiError as error:
            if self.detaching:
                return
            said = target.refuse(str(error))
            self.post_to_screens(target, None, said)
            if appeared:
                self.note(f"{target.name}: cannot attach: {error}", "warning")
            return
        self.post_to_screens(target, None, None)
        if self.overview is not None:
            self.overview.fill()
        await self._forward(target, target.monitor.events())

    async def _attach_process(self, target: WatchedTarget, appeared: bool) -> None:
        """Attach to the process. A cluster primary whose workers' inspectors are closed is
        tried again once this overview's attaches to those workers have ended: with theirs
        open, the primary's SIGUSR1 opens no inspector memtui does not hold. Workers forked
        meanwhile (a worker in a crash loop) are waited for in turn, as the list finds them,
        for up to WORKERS_SETTLE_S in all."""
        retry_for = APPEARED_RETRY_S if appeared else 0.0
        deadline = asyncio.get_running_loop().time() + WORKERS_SETTLE_S
        waited: set[int] = set()
        try:
            while True:
                try:
                    await target.monitor.start(retry_for=retry_for)
                    return
                except ClusterWorkersClosed as error:
                    if waited.issuperset(error.workers):
                        raise
                    if not waited:
                        self.note(f"{target.name} is a cluster primary: attaching to it once "
                                  "its workers are (its SIGUSR1 would open theirs)", "info")
                    log.debug("%s: attaching once its workers %s are", target.name,
                              error.workers)
                    if not await self._workers_settled(error.workers, deadline):
                        raise
                    waited.update(error.workers)
        finally:
            target.settled.set()

    async def _workers_settled(self, pids: list[int], deadline: float) -> bool:
        """Wait until the overview lists each of these workers still running (a list that
        grows finds a new one within DISCOVER_EVERY_S) and its attach has ended. False when
        the list cannot have one (it does not grow), or at the deadline (loop time)."""
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    workers = [t for t in self.targets if t.pid in pids]
                    listed = {t.pid for t in workers}
                    if all(pid in listed or not attach.running(pid) for pid in pids):
                        break
                    if self.watchlist is None or not self.watchlist.grows:
                        return False
                    await asyncio.sleep(LISTED_POLL_S)
                await asyncio.gather(*(worker.settled.wait() for worker in workers))
        except TimeoutError:
            return False
        return True

    def leave(self, target: WatchedTarget, why: str) -> None:
        """Take a process off the overview, saying why; one with snapshots stays, so that they
        can still be browsed."""
        if target not in self.listed:
            return
        if target.monitor.snapshots:
            self.note(f"{why}; it stays listed for its {len(target.monitor.snapshots)} "
                      "snapshot(s)", "warning")
            return
        self.listed.remove(target)
        self.note(f"{why}; it left the overview", "warning")

    def note(self, text: str, severity: Severity) -> None:
        """Say something of the overview (a process came or went)."""
        message = StatusMessage(self.clock(), text, severity, "result")
        self.notes.append(message)
        if self.overview is not None and self.overview.is_mounted:
            self.overview.say(message)
            self.overview.fill()

    def on_process_opened(self, message: ProcessOpened) -> None:
        self.push_screen(MonitorScreen(message.target, self.clock, self.snapshot_cache,
                                       in_overview=True))

    def on_follow_requested(self, message: FollowRequested) -> None:
        """After the target exited: wait for its successor and go on monitoring it."""
        target = message.target
        self.run_worker(self._forward(target, target.monitor.follow_successor()),
                        group=f"target-{id(target)}", exclusive=True)

    async def _forward(self, target: WatchedTarget, events: AsyncIterator[MonitorEvent]) -> None:
        try:
            async for event in events:
                self.post_to_screens(target, event, target.apply(event))
                if isinstance(event, TargetExited) and self.watchlist is not None:
                    self.leave(target, f"{target.name} {event.reason.describe()}")
        except MemtuiError as error:
            said = target.stopped(str(error))
            for screen in self._screens_of(target):
                screen.post_message(MonitorStopped(said))
            return
        for screen in self._screens_of(target):
            screen.post_message(MonitorStopped(None))

    def post_to_screens(self, target: WatchedTarget, event: MonitorEvent | None,
                        said: StatusMessage | None) -> None:
        """Show an event applied to `target` (or only a message, `event` None) on its
        monitor screens."""
        for screen in self._screens_of(target):
            if event is None:
                if said is not None:
                    screen.show_status(said)
                screen.redraw()
            else:
                screen.post_message(MonitorEventArrived(event, said))

    def _screens_of(self, target: WatchedTarget) -> list[MonitorScreen]:
        return [screen for screen in self.screen_stack
                if isinstance(screen, MonitorScreen) and screen.target is target
                and screen.is_mounted]

    def _handle_exception(self, error: Exception) -> None:
        """Textual's hook for an exception nothing handled: keep it for `run_monitor` (and
        for a test's pilot, which re-raises it) and exit, instead of printing a traceback
        with the target left attached."""
        log.error("the live view failed", exc_info=error)
        if self.crash is None:
            self.crash = error
        if self._exception is None:
            self._exception = error
            self._exception_event.set()
        self.exit(1, return_code=1)

    async def action_quit(self) -> None:
        """`q` on every screen, Ctrl+C and Ctrl+Q detach and quit, instead of leaving the
        targets as they are."""
        if isinstance(self.screen, MonitorScreen):
            self.screen.status("detaching…")
        else:
            self.notify("detaching…")
        self.detach()

    def detach(self) -> None:
        """Detach from every process and quit; a second request while detaching (q then
        Ctrl+C, a signal) waits for the first instead of cutting it short."""
        if not self.detaching:
            self.detaching = True
            self.run_worker(self.detach_and_exit(), group="detach")

    async def detach_and_exit(self) -> None:
        self.workers.cancel_group(self, "discover")
        problems = await asyncio.gather(*(detach_from(target, self._finishing(target))
                                          for target in self.targets))
        self.detach_problems = [
            problem if self.watchlist is None else f"{target.name}: {problem}"
            for target, problem in zip(self.targets, problems, strict=True) if problem]
        self.exit(0)

    def _finishing(self, target: WatchedTarget) -> Callable[[], None]:
        """What says, on the target's screen and in the overview, that memtui waits for a
        snapshot before detaching."""
        def say() -> None:
            text = ("waiting for the snapshot under way to end before detaching (leaving "
                    "while the target sends it can crash Node)")
            self.post_to_screens(target, None, target.say(text, "warning", "state"))
            if self.watchlist is not None:
                self.note(f"{target.name}: {text}", "warning")
        return say

    def exit_message(self) -> str:
        """One line for the terminal once the app has closed."""
        snapshots = [s for target in self.targets for s in target.monitor.snapshots]
        if self.watchlist is None:
            line = f"memtui: detached from {self.targets[0].name}"
        else:
            attached = [t for t in self.targets if t.monitor.info is not None]
            line = (f"memtui: detached from {len(attached)} process"
                    f"{'es' if len(attached) != 1 else ''}")
        if snapshots:
            directories = sorted({str(t.monitor.snapshot_dir) for t in self.targets
                                  if t.monitor.snapshots})
            line += f"; {len(snapshots)} snapshot(s) in {', '.join(directories)}"
        if self.detach_problems:
            line += f" (detaching: {'; '.join(self.detach_problems)})"
        return line


async def detach_from(target: WatchedTarget, on_wait: Callable[[], None]) -> str | None:
    """Close the target's monitor, once no snapshot is under way (`on_wait()` is called when
    one is); what went wrong, if anything is worth saying."""
    try:
        await target.monitor.streams_ended(on_wait)
        async with asyncio.timeout(DETACH_TIMEOUT_S):
            result = await target.monitor.close()
    except (MemtuiError, TimeoutError) as error:
        return str(error) or "timed out closing the inspector session"
    pid = target.pid
    if result is None or pid is None or target.exited_at is not None:
        return None
    return result.note(pid)


def _finishing_note(monitor: Monitor) -> Callable[[], None]:
    """Say on the terminal, once the app has ended, that memtui waits for a snapshot."""
    return lambda: print(f"memtui: waiting for the snapshot under way in {monitor.target} to "
                         "end before detaching (leaving while the target sends it can crash "
                         "Node)", file=sys.stderr, flush=True)


def run_monitor(monitor: Monitor, *, auto_capture: AutoCapture | None = None,
                on_exit_message: Callable[[str], None] | None = None) -> int:
    """Attach, then run the live monitor until the user quits; returns the exit code.

    Attach failures, and automatic captures the target cannot have, raise their MemtuiError
    before the terminal is taken (detached again). However the app
    ends (a key, a signal, a hung-up terminal, an exception of its own), memtui detaches
    before this returns; the app's own exception is re-raised after that.
    `on_exit_message` receives a one-line summary (e.g. to print it) after a normal quit.
    """
    async def attach_first() -> int:
        info = await monitor.start()
        if auto_capture is not None:
            try:
                auto_capture.check_limits(info)
            except MemtuiError:
                await asyncio.shield(monitor.close())
                raise
        return await _run_app(MemtuiApp(monitor, auto_capture=auto_capture), on_exit_message)

    return asyncio.run(attach_first())


def run_overview(watchlist: Watchlist, *,
                 on_exit_message: Callable[[str], None] | None = None) -> int:
    """Run the overview of the watchlist's processes until the user quits, as run_monitor
    does; a process that cannot be attached to is a row saying why, not a failure."""
    return asyncio.run(_run_app(MemtuiApp(watchlist), on_exit_message))


async def _run_app(app: MemtuiApp, on_exit_message: Callable[[str], None] | None) -> int:
    try:
        await app.run_async()
    finally:
        attached = [target.monitor for target in app.targets if target.monitor.attached]
        if attached:
            log.debug("detaching after the app ended")
            await asyncio.shield(asyncio.gather(*(monitor.close(_finishing_note(monitor))
                                                  for monitor in attached),
                                                return_exceptions=True))
    if app.crash is not None:
        raise app.crash
    if app.failure is not None:
        raise app.failure
    if on_exit_message is not None:
        on_exit_message(app.exit_message())
    return app.return_code or 0
