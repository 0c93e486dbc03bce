"""The help screen: every key and what it does."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEYS = (
    ("g", "force a full garbage collection and show how much it freed"),
    ("s", "capture a heap snapshot (asks first when the target may run out of memory)"),
    ("d", "list the heap snapshots taken in this session"),
    ("m", "drop a labelled marker on the timeline"),
    ("c", "cycle the metrics drawn on the chart"),
    ("l", "the message log: every status message, with its time"),
    ("1 2 3 4", "time window: 1 min, 5 min, 15 min, all"),
    ("space", "pause the display (sampling continues)"),
    ("?", "this help"),
    ("q", "quit (Ctrl+C too): detach, leaving the target running"),
)


class HelpScreen(ModalScreen[None]):
    """Lists the keys; any of escape, ? or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, meaning in KEYS:
            table.add_row(key, meaning)
        with VerticalScroll(classes="dialog help"):
            yield Label("memtui keys", classes="dialog-title")
            yield Static(table)
            yield Label(
                "Figures: current value, change over the window, and a sparkline of the window."
                " GC/s counts collections by kind over the last 10 s; 'in GC' is the share of"
                " wall time the target spent paused in GC.",
                classes="dialog-detail",
            )
            yield Label("escape or ? to close", classes="dialog-hint")
