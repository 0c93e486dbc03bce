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

from memtui.auto_capture import AutoCapture
from memtui.errors import MemtuiError
from memtui.events import MonitorEvent
from memtui.monitor import Monitor
from memtui.ui.messages import MonitorEventArrived, MonitorStopped
from memtui.ui.screens.diff import SnapshotCache
from memtui.ui.screens.monitor import MonitorScreen

log = logging.getLogger(__name__)


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, except that output is dropped once the terminal has hung up.

    Textual's writer thread dies on its first failed write, and from then on each write
    waits for room in its queue: after a lost SSH connection memtui would hang instead of
    detaching and exiting."""

    def write(self, data: str) -> None:
        if self._file is not None and os.isatty(self._file.fileno()):
            super().write(data)


class MemtuiApp(App[int]):
    """The live monitor for one target. `clock` gives the wall time (tests freeze it);
    `auto_capture` takes the automatic snapshots (`--snapshot-on`), if any.

    An unexpected exception anywhere in the app ends it with code 1 and is kept in `crash`
    (its traceback goes to the log, not the terminal); `run_monitor` detaches after it."""

    CSS_PATH = Path(__file__).with_name("memtui.tcss")
    TITLE = "memtui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("q", "quit", "quit", show=False),
    ]

    def __init__(self, monitor: Monitor, clock: Callable[[], float] = time.time,
                 auto_capture: AutoCapture | None = None):
        super().__init__(driver_class=TerminalDriver)
        self.monitor = monitor
        self.clock = clock
        self.failure: MemtuiError | None = None
        self.crash: Exception | None = None
        self.detach_problem: str | None = None
        self.monitor_screen = MonitorScreen(monitor, clock, auto_capture)
        self.snapshot_cache = SnapshotCache()

    async def on_mount(self) -> None:
        # SIGTERM and SIGHUP (the terminal or the SSH connection went away) end memtui the
        # way `q` does, so an inspector memtui opened is not left open on the server.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.monitor_screen.action_detach)
        await self.push_screen(self.monitor_screen)
        self.run_worker(self.follow_monitor(), group="monitor", exclusive=True)

    async def follow_monitor(self) -> None:
        """Attach unless already attached, then forward every event to the monitor screen."""
        screen = self.monitor_screen
        if self.monitor.info is None:
            try:
                await self.monitor.start()
            except MemtuiError as error:
                self.failure = error
                self.exit(error.exit_code, return_code=error.exit_code)
                return
        screen.redraw()
        await self._forward(self.monitor.events())

    def follow_successor(self) -> None:
        """After the target exited: wait for its successor and go on monitoring it."""
        self.run_worker(self._forward(self.monitor.follow_successor()), group="monitor",
                        exclusive=True)

    async def _forward(self, events: AsyncIterator[MonitorEvent]) -> None:
        screen = self.monitor_screen
        try:
            async for event in events:
                screen.post_message(MonitorEventArrived(event))
        except MemtuiError as error:
            screen.post_message(MonitorStopped(str(error)))
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
        if self.screen is not self.monitor_screen:
            self.notify("detaching…")
        self.monitor_screen.action_detach()

    def exit_message(self) -> str:
        """One line for the terminal once the app has closed."""
        info = self.monitor.info
        who = f"pid {info.pid}" if info else self.monitor.target
        line = f"memtui: detached from {who}"
        if self.monitor.snapshots:
            line += f"; {len(self.monitor.snapshots)} snapshot(s) in {self.monitor.snapshot_dir}"
        if self.detach_problem:
            line += f" (detaching: {self.detach_problem})"
        return line


def run_monitor(monitor: Monitor, *, auto_capture: AutoCapture | None = None,
                on_exit_message: Callable[[str], None] | None = None) -> int:
    """Attach, then run the live monitor until the user quits; returns the exit code.

    Attach failures, and automatic captures the target cannot have, raise their MemtuiError
    before the terminal is taken (detached again). However the app ends (a key, a signal, a
    hung-up terminal, an exception of its own), memtui detaches before this returns; the
    app's own exception is re-raised after that.
    `on_exit_message` receives a one-line summary (e.g. to print it) after a normal quit.
    """
    return asyncio.run(_run_monitor(monitor, auto_capture, on_exit_message))


async def _run_monitor(monitor: Monitor, auto_capture: AutoCapture | None,
                       on_exit_message: Callable[[str], None] | None) -> int:
    info = await monitor.start()
    if auto_capture is not None:
        try:
            auto_capture.check_limits(info)
        except MemtuiError:
            await asyncio.shield(monitor.close())
            raise
    app = MemtuiApp(monitor, auto_capture=auto_capture)
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
