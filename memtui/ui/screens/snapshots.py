"""The heap snapshots taken in this session, and the diff browser over two of them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from memtui.events import SnapshotSaved
from memtui.ui.screens.diff import COMPARE_HINT, DiffBrowser
from memtui.units import format_bytes


class SnapshotListScreen(Screen[None]):
    """One row per snapshot of this session, oldest first; below, the diff of the picked
    pair (default: the last two)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back", id="snapshots.back"),
        Binding("d,q", "app.pop_screen", "monitor", id="snapshots.monitor"),
        Binding("p", "focus_picker", "pick", id="snapshots.focus_picker"),
        Binding("b", "pick(0)", "before", id="snapshots.before"),
        Binding("a", "pick(1)", "after", id="snapshots.after"),
    ]

    def __init__(self, snapshots: Sequence[SnapshotSaved]):
        super().__init__()
        self.snapshots = list(snapshots)
        self.picked = list(range(len(self.snapshots)))[-2:]

    def compose(self) -> ComposeResult:
        yield Label(f"Heap snapshots of this session ({len(self.snapshots)})",
                    classes="screen-title")
        if self.snapshots:
            yield DataTable(cursor_type="row", zebra_stripes=True, id="snapshot-table")
            yield DiffBrowser(self.app.snapshot_cache, id="diff-browser")
        else:
            yield Label(f"No snapshots yet: {COMPARE_HINT}.", id="no-snapshots")
        yield Footer()

    def on_mount(self) -> None:
        if not self.snapshots:
            return
        self.fill_snapshots()
        self.query_one(DataTable).move_cursor(row=self.picked[-1])
        self.query_one(DiffBrowser).analyse([self.snapshots[i] for i in self.picked])

    def fill_snapshots(self) -> None:
        table = self.query_one("#snapshot-table", DataTable)
        table.clear(columns=True)
        table.show_row_labels = len(self.snapshots) > 1
        table.add_columns("#", "taken", "size", "took", "path")
        roles = dict(zip(self.picked, ("before", "after"), strict=False)) if len(
            self.picked) == 2 else {}
        for number, snapshot in enumerate(self.snapshots, 1):
            table.add_row(
                str(number),
                time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at)),
                format_bytes(snapshot.size),
                f"{snapshot.duration_s:.1f}s",
                str(snapshot.path),
                key=str(snapshot.path),
                label=Text(roles.get(number - 1, ""), style="bold"),
            )

    def action_focus_picker(self) -> None:
        self.query_one("#snapshot-table", DataTable).focus()

    def action_pick(self, role: int) -> None:
        """Make the highlighted snapshot the base (0) or the compared one (1); picking the
        other role's snapshot swaps the two."""
        if len(self.snapshots) < 2:
            self.notify(COMPARE_HINT, severity="warning")
            return
        table = self.query_one("#snapshot-table", DataTable)
        row = table.cursor_row
        if row == self.picked[1 - role]:
            self.picked.reverse()
        else:
            self.picked[role] = row
        self.fill_snapshots()
        table.move_cursor(row=row)
        self.query_one(DiffBrowser).analyse([self.snapshots[i] for i in self.picked])

    def action_back(self) -> None:
        browsers = self.query(DiffBrowser)
        if not browsers or not browsers.first().go_back():
            self.app.pop_screen()
