"""The help screen: the keys of the screen the user is on, and what its figures mean."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


@dataclass(frozen=True)
class HelpPage:
    """A screen's keys (key, what it does) and notes on what it shows."""

    title: str
    keys: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()


QUIT_KEY = ("q", "quit (Ctrl+C too): detach, leaving the target running")

MONITOR_HELP = HelpPage(
    "memtui keys: the monitor",
    (
        ("g", "force a full garbage collection and show how much it freed"),
        ("s", "capture a heap snapshot (asks first when the target may run out of memory)"),
        ("d", "the heap snapshots of this session and the diff between two"),
        ("m", "drop a labelled marker on the timeline"),
        ("c", "cycle the metrics drawn on the chart"),
        ("w", "select the next thread (main, then each worker thread) for s and g"),
        ("l", "find leaks: a baseline snapshot; exercise the suspected path, l again: the "
              "new objects that survived"),
        ("L", "the message log: every status message, with its time"),
        ("f", "once the target exited: attach to its successor (as --follow does)"),
        ("1 2 3 4", "time window: 1 min, 5 min, 15 min, all"),
        ("space", "pause the display (sampling continues)"),
        ("?", "this help"),
        QUIT_KEY,
    ),
    ("Figures: current value, change over the window, and a sparkline of the window. GC/s "
     "counts collections by kind over the last 10 s; 'in GC' is the share of wall time the "
     "target spent paused in GC.",),
)

DETACHED_NOTE = ("'Detached Node / …': Node's native (C++) objects that only JavaScript "
                 "keeps alive. Node has no DOM: this is no detached-DOM leak.")


class HelpScreen(ModalScreen[None]):
    """Lists a screen's keys; escape or ? closes it, q quits memtui."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark", "app.pop_screen", "close", id="help.close"),
        Binding("q", "app.quit", "quit", id="help.quit"),
    ]

    def __init__(self, page: HelpPage = MONITOR_HELP):
        super().__init__()
        self.page = page

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, meaning in self.page.keys:
            table.add_row(key, meaning)
        with VerticalScroll(classes="dialog help"):
            yield Label(self.page.title, classes="dialog-title")
            yield Static(table)
            for note in self.page.notes:
                yield Label(note, classes="dialog-detail")
            yield Label("escape or ? closes this help; q quits", classes="dialog-hint")
