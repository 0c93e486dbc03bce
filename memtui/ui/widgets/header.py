"""The header: which process is watched, its limits, the inspector, and the display state."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from memtui.events import TargetInfo
from memtui.ui.model import TargetState
from memtui.units import format_bytes, format_duration

STATE_STYLES: dict[TargetState, str] = {
    TargetState.ATTACHING: "bold yellow",
    TargetState.LIVE: "bold green",
    TargetState.UNRESPONSIVE: "bold red",
    TargetState.RECONNECTING: "bold yellow",
    TargetState.EXITED: "bold reverse red",
    TargetState.DETACHED: "bold red",
    TargetState.REFUSED: "bold red",
}


class TargetHeader(Widget):
    """Two lines: state, pid, container, Node version, uptime, command; then heap, container
    limit, inspector."""

    DEFAULT_CSS = """
    TargetHeader { height: 2; }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.info: TargetInfo | None = None
        self.state = TargetState.ATTACHING
        self.paused = False
        self.uptime: str | None = None
        self.ending: str | None = None

    def show(self, info: TargetInfo | None, state: TargetState, paused: bool,
             uptime: float | None, ending: str | None = None) -> None:
        """Replace what the header shows; refreshed only when its text changes. `ending` says
        how the target ended (shown instead of its inspector, which is gone)."""
        shown = (info, state, paused, None if uptime is None else format_duration(uptime),
                 ending)
        if shown != (self.info, self.state, self.paused, self.uptime, self.ending):
            self.info, self.state, self.paused, self.uptime, self.ending = shown
            self.refresh()

    def render(self) -> Text:
        width = self.size.width
        first = Text(no_wrap=True, overflow="ellipsis")
        first.append(f" {self.state.value} ", STATE_STYLES[self.state])
        if self.paused:
            first.append(" ")
            first.append(" PAUSED ", "bold reverse yellow")
        info = self.info
        if info is None:
            return first
        first.append(f"  pid {info.pid}", "bold")
        if info.container is not None:
            first.append(f"  container {info.container.label}", "bold")
        elif info.netns_inode is not None:
            first.append(f"  netns {info.netns_inode}", "bold")
        first.append(f"  node {info.node_version}")
        if self.uptime is not None:
            first.append(f"  up {self.uptime}")
        first.append(f"  {info.command}", "dim")
        first.truncate(width, overflow="ellipsis")
        heap_limit = f"heap limit {format_bytes(info.heap_limit)}"
        if info.container_limit is None:
            long_container, short_container = "no container limit", "no container"
        else:
            long_container = f"container limit {format_bytes(info.container_limit)}"
            short_container = f"container {format_bytes(info.container_limit)}"
        if self.ending is not None:
            long_form = f"{heap_limit}  {long_container}  {self.ending}"
            short_form = f"{heap_limit}  {short_container}  {self.ending}"
        else:
            long_form = (f"{heap_limit}  {long_container}"
                         f"  inspector {info.address} ({info.inspector.value})")
            short_form = f"{heap_limit}  {short_container}  inspector {info.address}"
        second = Text(long_form if len(long_form) <= width else short_form, no_wrap=True)
        second.truncate(width, overflow="ellipsis")
        return Text("\n").join([first, second])
