"""The overview: one row per watched process, sortable; `enter` opens a process's monitor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from memtui.events import InspectorState
from memtui.ui.messages import ProcessOpened
from memtui.ui.model import (
    WINDOWS,
    StatusMessage,
    TargetState,
    gc_activity,
    visible_samples,
)
from memtui.ui.screens.help import OVERVIEW_HELP, HelpScreen
from memtui.ui.screens.log import MessageLogScreen
from memtui.ui.watched import WatchedTarget
from memtui.ui.widgets.header import STATE_STYLES
from memtui.ui.widgets.metrics import trend_bars
from memtui.ui.widgets.status import StatusLine
from memtui.ui.widgets.tables import RowTable
from memtui.units import format_bytes

REFRESH_EVERY_S = 1.0
TREND_WIDTH = 8
TREND_WINDOW = WINDOWS[1]
MIN_COMMAND_WIDTH = 10
STATE_WORDS = {
    TargetState.ATTACHING: "attaching",
    TargetState.LIVE: "live",
    TargetState.UNRESPONSIVE: "no answer",
    TargetState.RECONNECTING: "reconnect",
    TargetState.EXITED: "exited",
    TargetState.DETACHED: "detached",
    TargetState.REFUSED: "refused",
}
"""The state column's words, short enough for 80 columns (the detail line says it in full)."""
HEAP_SHARE_WARNING = 0.8
"""Heap used at this share of V8's limit or more is shown in red."""
LEFT_ALIGNED = frozenset({"pid", "state", "trend", "inspector", "command"})
INSPECTOR_WORDS = {
    InspectorState.OPENED_BY_MEMTUI: "by memtui",
    InspectorState.KEPT_OPEN: "kept open",
    InspectorState.ALREADY_OPEN: "was open",
}
"""The inspector column: who opened it (and so whether memtui closes it on leaving)."""


@dataclass(frozen=True)
class ProcessRow:
    """What the overview shows of one process; None where nothing is known yet."""

    pid: int | None
    name: str
    state: TargetState
    command: str
    rss: int | None
    heap_used: int | None
    heap_limit: int | None
    trend: tuple[float, ...]
    gc_per_second: float | None
    inspector: InspectorState | None

    @property
    def heap_share(self) -> float | None:
        if self.heap_used is None or not self.heap_limit:
            return None
        return self.heap_used / self.heap_limit


def process_row(target: WatchedTarget) -> ProcessRow:
    """The row of `target` from its history and what is known of it."""
    monitor = target.monitor
    info = monitor.info
    latest = monitor.history.latest
    activity = gc_activity(visible_samples(monitor.history, TREND_WINDOW, None))
    if target.refusal is not None:
        command = target.refusal
    elif info is not None:
        command = short_command(info.command)
    else:
        command = ""
    return ProcessRow(
        pid=target.pid, name=target.name, state=target.state, command=command,
        rss=latest.rss if latest else None,
        heap_used=latest.heap_used if latest else None,
        heap_limit=latest.heap_limit if latest else None,
        trend=tuple(float(s.heap_used) for s in
                    visible_samples(monitor.history, TREND_WINDOW, None)),
        gc_per_second=sum(activity.per_second.values()) if activity else None,
        inspector=info.inspector if info is not None and target.refusal is None else None,
    )


def short_command(command: str) -> str:
    """What tells one Node process from another in a narrow column: its script (without its
    directories) and arguments, without the executable and Node's options
    (`/usr/bin/node --inspect-port=0 /srv/app/server.js --port 8080` ->
    `server.js --port 8080`); the whole command when it does not start with a `node`
    executable (a program that renamed itself, as pm2 does)."""
    words = command.split(" ")
    if not words[0].rpartition("/")[2].startswith("node"):
        return command
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        rest = rest[1:]
    if not rest:
        return command
    return " ".join([rest[0].rpartition("/")[2], *rest[1:]])


@dataclass(frozen=True)
class SortColumn:
    """A column the overview sorts by: its title, and the value rows are ordered by (rows
    without one last); `largest_first` is the order it starts in."""

    title: str
    value: Callable[[ProcessRow], object]
    largest_first: bool


SORT_COLUMNS = (
    SortColumn("RSS", lambda row: row.rss, True),
    SortColumn("heap used", lambda row: row.heap_used, True),
    SortColumn("heap %", lambda row: row.heap_share, True),
    SortColumn("GC/s", lambda row: row.gc_per_second, True),
    SortColumn("pid", lambda row: row.pid, False),
    SortColumn("command", lambda row: row.command, False),
    SortColumn("state", lambda row: row.state.value, False),
)


def sorted_rows(rows: Sequence[ProcessRow], column: SortColumn,
                reverse: bool) -> list[ProcessRow]:
    """`rows` ordered by `column` (its own order, or the other way with `reverse`); rows
    without a value come last, then by pid."""
    known = [row for row in rows if column.value(row) is not None]
    unknown = [row for row in rows if column.value(row) is None]
    known.sort(key=lambda row: (column.value(row), row.pid or 0),
               reverse=column.largest_first != reverse)
    return known + sorted(unknown, key=lambda row: row.pid or 0)


class OverviewScreen(Screen[None]):
    """One row per process of `targets` (a list the App keeps up to date: processes join and
    leave it), refreshed every second; `messages` are the overview's own (which processes
    came and went). Posts ProcessOpened for `enter`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "monitor", id="overview.open"),
        Binding("o", "sort", "sort", id="overview.sort"),
        Binding("r", "reverse", "reverse", id="overview.reverse"),
        Binding("L", "message_log", "log", id="overview.log"),
        Binding("question_mark", "help", "help", key_display="?", id="overview.help"),
        Binding("q", "app.quit", "quit", id="overview.quit"),
    ]

    def __init__(self, targets: list[WatchedTarget], messages: Sequence[StatusMessage],
                 title: str):
        super().__init__()
        self.targets = targets
        self.messages = messages
        self.title_text = title
        self.sort_column = SORT_COLUMNS[0]
        self.reverse = False
        self.shown: list[WatchedTarget] = []
        """The targets in the order of the table's rows."""

    def compose(self) -> ComposeResult:
        yield Label("", id="overview-title", classes="screen-title")
        yield RowTable(id="overview-table")
        yield Label("", id="overview-detail")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.fill()
        self.set_interval(REFRESH_EVERY_S, self.refresh_if_shown)

    def on_screen_resume(self) -> None:
        self.fill()

    def on_resize(self) -> None:
        self.fill()

    def refresh_if_shown(self) -> None:
        if self.is_current:
            self.fill()

    def say(self, message: StatusMessage) -> None:
        """Show a message of the overview's (already in `messages`), and the log if open."""
        if not self.composed:
            return
        self.query_one(StatusLine).say(message)
        screen = self.app.screen
        if isinstance(screen, MessageLogScreen) and screen.messages is self.messages:
            screen.show()

    @property
    def composed(self) -> bool:
        """Whether its widgets are there (not yet, or no more while the app exits)."""
        return bool(self.query("#overview-table"))

    @property
    def highlighted(self) -> WatchedTarget | None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def fill(self) -> None:
        """Rebuild the table from the targets, keeping the cursor on its process."""
        if not self.composed:
            return
        table = self.query_one(DataTable)
        keep = self.highlighted
        by_row = {id(target): process_row(target) for target in self.targets}
        rows = sorted_rows(list(by_row.values()), self.sort_column, self.reverse)
        order = {id(row): index for index, row in enumerate(rows)}
        self.shown = sorted(self.targets, key=lambda target: order[id(by_row[id(target)])])
        columns = self.columns()
        table.clear(columns=True)
        for title, width in columns:
            table.add_column(Text(self.heading(title),
                                  justify="left" if title in LEFT_ALIGNED else "right"),
                             width=width, key=title)
        for target in self.shown:
            row = by_row[id(target)]
            table.add_row(*(self.cell(row, title, width) for title, width in columns),
                          key=str(id(target)))
        if keep is not None and keep in self.shown:
            table.move_cursor(row=self.shown.index(keep))
        self.show_title(len(self.shown), [title for title, _ in columns])
        self.show_detail()

    def heading(self, title: str) -> str:
        """A column's title, with the sort order's arrow on the sorted one (the heap column
        sorts by its share of the limit as `heap %`)."""
        if title == "heap used" and self.sort_column.title == "heap %":
            title = "heap %"
        if title == self.sort_column.title:
            return f"{title} {'↑' if self.sort_column.largest_first == self.reverse else '↓'}"
        return title

    def columns(self) -> list[tuple[str, int]]:
        """The columns that fit the width, with their widths: the command takes what is left;
        a narrow terminal gives up the inspector column (the detail line still names it)."""
        fixed = [("pid", 7), ("state", 9), ("RSS", 9), ("heap used", 13),
                 ("trend", TREND_WIDTH), ("GC/s", 5), ("inspector", 9)]
        width = self.app.size.width - 2
        padding = 2 * self.query_one(DataTable).cell_padding
        for dropped in ("", "inspector"):
            fixed = [(title, w) for title, w in fixed if title != dropped]
            room = width - sum(w + padding for _, w in fixed) - padding
            if room >= MIN_COMMAND_WIDTH:
                break
        return [*fixed, ("command", max(room, MIN_COMMAND_WIDTH))]

    def cell(self, row: ProcessRow, title: str, width: int) -> Text:
        if title == "pid":
            return Text(str(row.pid) if row.pid is not None else row.name)
        if title == "state":
            return Text(STATE_WORDS[row.state], style=STATE_STYLES[row.state])
        if title == "RSS":
            return _number(None if row.rss is None else format_bytes(row.rss))
        if title == "heap used":
            share = row.heap_share
            if row.heap_used is None or share is None:
                return _number(None)
            percent = "<1%" if share < 0.01 else f"{100 * share:.0f}%"
            return _number(f"{format_bytes(row.heap_used)} {percent:>4}",
                           "bold red" if share >= HEAP_SHARE_WARNING else "")
        if title == "trend":
            if len(row.trend) < 2:
                return Text("")
            return Text("".join(bar for bar, _ in trend_bars(row.trend, width)), style="cyan")
        if title == "GC/s":
            gc = row.gc_per_second
            return _number(None if gc is None else f"{gc:.1f}")
        if title == "inspector":
            return Text(INSPECTOR_WORDS[row.inspector] if row.inspector else "")
        style = "red" if row.state is TargetState.REFUSED else "dim"
        return Text(row.command, style=style, no_wrap=True, overflow="ellipsis")

    def show_title(self, count: int, shown: list[str]) -> None:
        order = "reversed" if self.reverse else ("largest first" if
                                                 self.sort_column.largest_first else "A-Z")
        text = (f"{count} process{'es' if count != 1 else ''} ({self.title_text}), sorted by "
                f"{self.sort_column.title}, {order}")
        if "inspector" not in shown:
            text += "; inspectors: wider terminal"
        self.query_one("#overview-title", Label).update(
            Text(text, no_wrap=True, overflow="ellipsis"))

    def show_detail(self) -> None:
        """The highlighted process in full: its command and inspector, or why memtui may not
        attach to it."""
        target = self.highlighted
        label = self.query_one("#overview-detail", Label)
        if target is None:
            label.update("no process: the overview waits for one to start" if not self.shown
                         else "")
            return
        info = target.monitor.info
        if target.refusal is not None:
            label.update(Text(f"{target.name}: cannot attach: {target.refusal}", style="red"))
        elif info is None:
            label.update(f"{target.name}: {target.state.value}")
        else:
            where = info.container.label if info.container is not None else None
            parts = [f"pid {info.pid}", f"node {info.node_version}",
                     f"inspector {info.address} ({info.inspector.value})"]
            if where:
                parts.insert(1, f"container {where}")
            if target.ending:
                parts[-1] = target.ending
            label.update(Text(f"{'  '.join(parts)}  {info.command}", no_wrap=True,
                              overflow="ellipsis"))

    def on_data_table_row_highlighted(self, _message: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, _message: DataTable.RowSelected) -> None:
        self.action_open()

    def sort_by(self, column: SortColumn, reverse: bool) -> None:
        self.sort_column, self.reverse = column, reverse
        self.fill()

    def action_sort(self) -> None:
        index = SORT_COLUMNS.index(self.sort_column)
        self.sort_by(SORT_COLUMNS[(index + 1) % len(SORT_COLUMNS)], False)

    def action_reverse(self) -> None:
        self.sort_by(self.sort_column, not self.reverse)

    def action_open(self) -> None:
        target = self.highlighted
        if target is not None:
            self.post_message(ProcessOpened(target))

    def action_message_log(self) -> None:
        self.app.push_screen(MessageLogScreen(self.messages))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(OVERVIEW_HELP))


def _number(text: str | None, style: str = "") -> Text:
    return Text("—" if text is None else text, style=style, justify="right")
