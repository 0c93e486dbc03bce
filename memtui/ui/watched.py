"""One watched process as the UI knows it, kept by the App whether or not its screen shows."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from pathlib import Path

from memtui.events import (
    ConnectionLost,
    MonitorEvent,
    Reconnected,
    Responsive,
    Restarted,
    SampleTaken,
    SnapshotSaved,
    StillReconnecting,
    TargetExited,
    Unresponsive,
)
from memtui.monitor import Monitor
from memtui.ui.model import Marker, MessageKind, Severity, StatusMessage, TargetState, clock_time

MESSAGE_LOG_SIZE = 10_000


class WatchedTarget:
    """A Monitor with what the UI knows of its process: its state, how it ended, its markers,
    its status messages (oldest first) and the heap sizes its snapshot list analysed."""

    def __init__(self, monitor: Monitor, clock: Callable[[], float]):
        self.monitor = monitor
        self.clock = clock
        self.state = TargetState.ATTACHING
        self.exited_at: float | None = None
        self.ending: str | None = None
        """How the process ended, once it has."""
        self.refusal: str | None = None
        """Why memtui may not attach to it (state REFUSED)."""
        self.markers: list[Marker] = []
        self.messages: deque[StatusMessage] = deque(maxlen=MESSAGE_LOG_SIZE)
        self.heap_sizes: dict[Path, int] = {}
        """The heap size of each snapshot the snapshot list has analysed, by path."""
        self.leak_baseline: SnapshotSaved | None = None
        """The baseline of the leak finder's flow, between the first and the second `l`."""
        self.settled = asyncio.Event()
        """Set once the overview's attach to it has ended, attached or not."""

    @property
    def pid(self) -> int | None:
        """The PID it was attached to, else the one asked for (None for an address)."""
        if self.monitor.info is not None:
            return self.monitor.info.pid
        target = self.monitor.target
        return int(target) if isinstance(target, str) and target.isdigit() else None

    @property
    def name(self) -> str:
        """`pid 1234`, or the address asked for."""
        pid = self.pid
        return f"pid {pid}" if pid is not None else str(self.monitor.target)

    def say(self, text: str, severity: Severity = "info", kind: MessageKind = "reply",
            path: str | None = None) -> StatusMessage:
        """Log a status message (see MessageKind) and return it, for a screen to show."""
        message = StatusMessage(self.clock(), text, severity, kind, path)
        self.messages.append(message)
        return message

    def add_marker(self, label: str, user: bool = False) -> Marker:
        marker = Marker(self.clock(), label, user)
        self.markers.append(marker)
        return marker

    def apply(self, event: MonitorEvent) -> StatusMessage | None:
        """Follow a sample or state change of the engine; the message it warrants, logged.
        Worker threads' events change nothing here: the monitor screen shows them."""
        if isinstance(event, SampleTaken):
            if self.state is TargetState.ATTACHING:
                self.state = TargetState.LIVE
                return self.say("attached; sampling", kind="state")
            return None
        if isinstance(event, Unresponsive):
            self.state = TargetState.UNRESPONSIVE
            return self.say(f"target unresponsive since {clock_time(event.since)}"
                            " (event loop blocked?)", "warning", "state")
        if isinstance(event, Responsive):
            self.state = TargetState.LIVE
            return self.say(f"target responsive again at {clock_time(event.at)}", "good",
                            "state")
        if isinstance(event, TargetExited):
            self.exited_at = event.at
            self.state = TargetState.EXITED
            self.ending = f"{event.reason.short()} at {clock_time(event.at)}"
            if self.monitor.follow:
                then = "waiting for its successor"
            elif self.monitor.can_follow:
                then = "its history stays on screen; f follows its successor"
            else:
                then = "its history stays on screen"
            return self.say(f"the target {event.reason.describe()} at "
                            f"{clock_time(event.at)}; {then}", "error", "result")
        if isinstance(event, Restarted):
            self.exited_at = None
            self.ending = None
            self.state = TargetState.LIVE
            self.add_marker(event.describe())
            return self.say(f"{event.describe()} at {clock_time(event.at)}; sampling", "good",
                            "result")
        if isinstance(event, ConnectionLost):
            self.state = TargetState.RECONNECTING
            return self.say(f"connection lost — reconnecting… ({event.reason})", "warning",
                            "state")
        if isinstance(event, StillReconnecting):
            return self.say(f"still reconnecting, disconnected since "
                            f"{clock_time(event.since)} ({event.reason})", "warning", "state")
        if isinstance(event, Reconnected):
            self.state = TargetState.LIVE
            return self.say(f"reconnected at {clock_time(event.at)}", "good", "state")
        return None

    def stopped(self, error: str | None) -> StatusMessage | None:
        """The engine's event stream ended; with `error`, monitoring failed."""
        if error is None:
            return None
        self.state = TargetState.DETACHED
        return self.say(f"monitoring stopped: {error}", "error", "result")

    def refuse(self, reason: str) -> StatusMessage:
        """memtui may not attach to this process, for `reason`."""
        self.state = TargetState.REFUSED
        self.refusal = reason
        return self.say(f"cannot attach: {reason}", "error", "result")

    @property
    def actionable(self) -> bool:
        """Whether the process can still be acted on (GC, snapshot)."""
        return self.exited_at is None and self.state not in (TargetState.DETACHED,
                                                              TargetState.REFUSED)
