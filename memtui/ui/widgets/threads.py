"""The threads panel: the main thread and each worker thread, with its heap and GC activity."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from memtui.ui.model import ThreadId, ThreadRow
from memtui.units import format_bytes, format_change

SELECTED = "▸"
NAME_WIDTH = 16


def _bytes(value: int | None) -> str:
    return "—" if value is None else format_bytes(value)


def _change(value: int | None) -> Text:
    if value is None:
        return Text("—")
    style = "yellow" if value > 0 else "green" if value < 0 else ""
    return Text(format_change(value), style)


class ThreadsPanel(Static):
    """A row per thread, the selected one (the target of s and g) marked; shown only while
    the target has worker threads, or to say why they cannot be watched."""

    DEFAULT_CSS = """
    ThreadsPanel { height: auto; display: none; }
    ThreadsPanel.shown { display: block; }
    """

    def show(self, rows: Sequence[ThreadRow], selected: ThreadId, covered: str,
             problem: str | None) -> None:
        """Show `rows` (the main thread's first), their heap change over `covered`; hidden
        when there is no worker row."""
        if problem is not None:
            self.set_class(True, "shown")
            self.update(Text(f"worker threads: {problem}", "dim", no_wrap=True,
                             overflow="ellipsis"))
            return
        self.set_class(len(rows) > 1, "shown")
        if len(rows) <= 1:
            return
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(width=1)
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=NAME_WIDTH, ratio=1)
        for _ in range(4):
            table.add_column(justify="right", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_row("", Text("thread", "bold"), Text("heap used", "bold"),
                      Text(f"Δ {covered}", "bold"), Text("total", "bold"),
                      Text("limit", "bold"), Text("GC/s min maj", "bold"),
                      Text("in GC", "bold"), Text("", "bold"))
        for row in rows:
            mark = SELECTED if row.thread == selected else ""
            label = "main" if row.thread is None else f"w{row.thread} {row.name}"
            gc = row.gc
            rates = "—" if gc is None else \
                f"{gc.per_second['minor']:.1f} {gc.per_second['major']:.1f}"
            paused = "—" if gc is None else f"{gc.pause_share * 100:.1f}%"
            state = Text("" if row.state == "live" else row.state,
                         "yellow" if row.state == "unresponsive" else "dim")
            table.add_row(Text(mark, "bold cyan"), Text(label, "bold" if mark else ""),
                          _bytes(row.heap_used), _change(row.heap_change),
                          _bytes(row.heap_total), _bytes(row.heap_limit), rates, paused, state)
        self.update(table)
