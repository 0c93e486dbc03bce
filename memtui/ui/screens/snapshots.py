"""The heap snapshots taken in this session: when, how big, where."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from memtui.events import SnapshotSaved
from memtui.units import format_bytes


class SnapshotListScreen(Screen[None]):
    """One row per snapshot of this session, oldest first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,d,q", "app.pop_screen", "back to monitor", id="snapshots.back"),
    ]

    def __init__(self, snapshots: Sequence[SnapshotSaved]):
        super().__init__()
        self.snapshots = list(snapshots)

    def compose(self) -> ComposeResult:
        yield Label(f"Heap snapshots of this session ({len(self.snapshots)})",
                    classes="screen-title")
        if self.snapshots:
            yield DataTable(cursor_type="row", zebra_stripes=True, id="snapshot-table")
        else:
            yield Label("No snapshots yet: press s on the monitor to capture one.",
                        id="no-snapshots")
        yield Footer()

    def on_mount(self) -> None:
        if not self.snapshots:
            return
        table = self.query_one(DataTable)
        table.add_columns("#", "taken", "size", "took", "path")
        for number, snapshot in enumerate(self.snapshots, 1):
            table.add_row(
                str(number),
                time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at)),
                format_bytes(snapshot.size),
                f"{snapshot.duration_s:.1f}s",
                str(snapshot.path),
                key=str(snapshot.path),
            )
