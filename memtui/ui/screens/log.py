"""The message log: every status message of the session with its time, whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from memtui.ui.model import StatusMessage, clock_time
from memtui.ui.widgets.status import styled


class MessageLogScreen(Screen[None]):
    """The messages, oldest first, scrolled to the newest; `show` refreshes them while open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,l,q", "app.pop_screen", "monitor", id="log.close"),
    ]

    def __init__(self, messages: Sequence[StatusMessage]):
        super().__init__()
        self.messages = messages

    def compose(self) -> ComposeResult:
        yield Label("", id="log-title", classes="screen-title")
        with VerticalScroll(id="log-scroll"):
            yield Static(id="log-messages")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        """Show the messages as they are now, and scroll to the newest."""
        self.query_one("#log-title", Label).update(
            f"Messages of this session ({len(self.messages)})")
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        for message in self.messages:
            table.add_row(clock_time(message.at), styled(message))
        self.query_one("#log-messages", Static).update(table)
        self.query_one("#log-scroll", VerticalScroll).scroll_end(animate=False)
