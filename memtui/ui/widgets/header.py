"""The header: which process is watched, its limits, the inspector, and the display state."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from memtui.events import TargetInfo
from memtui.units import format_bytes, format_duration

STATE_STYLES = {
    "live": "bold green",
    "attaching…": "bold yellow",
    "unresponsive": "bold red",
    "reconnecting…": "bold yellow",
    "detached": "bold red",
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
        self.state = "attaching…"
        self.paused = False
        self.uptime: str | None = None

    def show(self, info: TargetInfo | None, state: str, paused: bool,
             uptime: float | None) -> None:
        """Replace what the header shows; refreshed only when its text changes."""
        shown = (info, state, paused, None if uptime is None else format_duration(uptime))
        if shown != (self.info, self.state, self.paused, self.uptime):
            self.info, self.state, self.paused, self.uptime = shown
            self.refresh()

    def render(self) -> Text:
        width = self.size.width
        first = Text(no_wrap=True, overflow="ellipsis")
        first.append(f" {self.state} ", STATE_STYLES.get(self.state, "bold reverse red"))
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
        long_form = (f"{heap_limit}  {long_container}"
                     f"  inspector {info.address} ({info.inspector})")
        short_form = f"{heap_limit}  {short_container}  inspector {info.address}"
        second = Text(long_form if len(long_form) <= width else short_form, no_wrap=True)
        second.truncate(width, overflow="ellipsis")
        return Text("\n").join([first, second])
