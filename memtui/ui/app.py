"""The Textual app: attaches the injected monitor, follows its events, and runs the screens."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.drivers.linux_driver import LinuxDriver

from memtui.errors import MemtuiError
from memtui.events import MonitorEvent
from memtui.monitor import Monitor
from memtui.ui.messages import FollowRequested, MonitorEventArrived, MonitorStopped
from memtui.ui.screens.diff import SnapshotCache
from memtui.ui.screens.monitor import MonitorScreen
from memtui.ui.watched import WatchedTarget

log = logging.getLogger(__name__)

DETACH_TIMEOUT_S = 5.0


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, except that output is dropped once the terminal has hung up.

    Textual's writer thread dies on its first failed write, and from then on each write
    waits for room in its queue: after a lost SSH connection memtui would hang instead of
    detaching and exiting."""

    def write(self, data: str) -> None:
        if self._file is not None and os.isatty(self._file.fileno()):
            super().write(data)


class MemtuiApp(App[int]):
    """The live monitor for one target. `clock` gives the wall time (tests freeze it).

    The App owns the target's WatchedTarget: it attaches, applies every engine event to it
    and posts the event to its screen, and detaches on every way out.
    An unexpected exception anywhere in the app ends it with code 1 and is kept in `crash`
    (its traceback goes to the log, not the terminal); `run_monitor` detaches after it."""

    CSS_PATH = Path(__file__).with_name("memtui.tcss")
    TITLE = "memtui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("q", "quit", "quit", show=False),
    ]

    def __init__(self, monitor: Monitor, clock: Callable[[], float] = time.time):
        super().__init__(driver_class=TerminalDriver)
        self.clock = clock
        self.target = WatchedTarget(monitor, clock)
        self.failure: MemtuiError | None = None
        self.crash: Exception | None = None
        self.detach_problem: str | None = None
        self.detaching = False
        self.snapshot_cache = SnapshotCache()
        self._monitor_screen: MonitorScreen | None = None

    @property
    def monitor(self) -> Monitor:
        return self.target.monitor

    @property
    def monitor_screen(self) -> MonitorScreen:
        assert self._monitor_screen is not None, "the app is not running"
        return self._monitor_screen

    async def on_mount(self) -> None:
        # SIGTERM and SIGHUP (the terminal or the SSH connection went away) end memtui the
        # way `q` does, so an inspector memtui opened is not left open on the server.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.detach)
        self._monitor_screen = MonitorScreen(self.target, self.clock, self.snapshot_cache)
        await self.push_screen(self._monitor_screen)
        self.target.say("attaching…", kind="state")
        self.monitor_screen.show_status(self.target.messages[-1])
        self.run_worker(self.follow_monitor(), group="monitor", exclusive=True)

    async def follow_monitor(self) -> None:
        """Attach unless already attached, then forward every event to the monitor screen."""
        if self.monitor.info is None:
            try:
                await self.monitor.start()
            except MemtuiError as error:
                self.failure = error
                self.exit(error.exit_code, return_code=error.exit_code)
                return
        self.monitor_screen.redraw()
        await self._forward(self.target, self.monitor.events())

    def on_follow_requested(self, message: FollowRequested) -> None:
        """After the target exited: wait for its successor and go on monitoring it."""
        target = message.target
        self.run_worker(self._forward(target, target.monitor.follow_successor()),
                        group="monitor", exclusive=True)

    async def _forward(self, target: WatchedTarget, events: AsyncIterator[MonitorEvent]) -> None:
        screen = self.monitor_screen
        try:
            async for event in events:
                screen.post_message(MonitorEventArrived(event, target.apply(event)))
        except MemtuiError as error:
            screen.post_message(MonitorStopped(target.stopped(str(error))))
            return
        screen.post_message(MonitorStopped(None))

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
        target as it is."""
        if self.screen is self._monitor_screen:
            self.monitor_screen.status("detaching…")
        else:
            self.notify("detaching…")
        self.detach()

    def detach(self) -> None:
        """Detach and quit; a second request while detaching (q then Ctrl+C, a signal) waits
        for the first instead of cutting it short."""
        if not self.detaching:
            self.detaching = True
            self.run_worker(self.detach_and_exit(), group="detach")

    async def detach_and_exit(self) -> None:
        self.detach_problem = await detach_from(self.target)
        self.exit(0)

    def exit_message(self) -> str:
        """One line for the terminal once the app has closed."""
        line = f"memtui: detached from {self.target.name}"
        if self.monitor.snapshots:
            line += f"; {len(self.monitor.snapshots)} snapshot(s) in {self.monitor.snapshot_dir}"
        if self.detach_problem:
            line += f" (detaching: {self.detach_problem})"
        return line


async def detach_from(target: WatchedTarget) -> str | None:
    """Close the target's monitor; what went wrong, if anything is worth saying."""
    try:
        async with asyncio.timeout(DETACH_TIMEOUT_S):
            result = await target.monitor.close()
    except (MemtuiError, TimeoutError) as error:
        return str(error) or "timed out closing the inspector session"
    pid = target.pid
    if result is None or pid is None or target.exited_at is not None:
        return None
    return result.note(pid)


def run_monitor(monitor: Monitor, *,
                on_exit_message: Callable[[str], None] | None = None) -> int:
    """Attach, then run the live monitor until the user quits; returns the exit code.

    Attach failures raise their MemtuiError before the terminal is taken. However the app
    ends (a key, a signal, a hung-up terminal, an exception of its own), memtui detaches
    before this returns; the app's own exception is re-raised after that.
    `on_exit_message` receives a one-line summary (e.g. to print it) after a normal quit.
    """
    return asyncio.run(_run_monitor(monitor, on_exit_message))


async def _run_monitor(monitor: Monitor,
                       on_exit_message: Callable[[str], None] | None) -> int:
    await monitor.start()
    app = MemtuiApp(monitor)
    try:
        await app.run_async()
    finally:
        if monitor.attached:
            log.debug("detaching after the app ended")
            await asyncio.shield(monitor.close())
    if app.crash is not None:
        raise app.crash
    if app.failure is not None:
        raise app.failure
    if on_exit_message is not None:
        on_exit_message(app.exit_message())
    return app.return_code or 0
