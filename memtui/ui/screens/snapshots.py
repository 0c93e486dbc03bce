"""The heap snapshots taken in this session, and the diff browser over two of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from memtui.events import SnapshotSaved
from memtui.ui.messages import DiffReady, SummaryReady
from memtui.ui.model import clock_time, display_path, shorten_path
from memtui.ui.screens.diff import COMPARE_HINT, DiffBrowser, SnapshotCache
from memtui.ui.screens.help import DETACHED_NOTE, QUIT_KEY, HelpPage, HelpScreen
from memtui.ui.widgets.tables import RowTable
from memtui.units import format_bytes

COLUMNS = ("#", "taken", "heap size", "file size", "took")
"""The columns before the path, which takes the rest of the width."""
RIGHT_ALIGNED = frozenset({"heap size", "file size", "took"})
SCROLLBAR_WIDTH = 2
VISIBLE_ROWS = 5
MIN_PATH_WIDTH = 12

COLUMNS_NOTE = ("Columns as in DevTools' Comparison view, and Retained: the class's retained "
                "size in the after snapshot. A narrow terminal gives up Freed Size, then "
                "Alloc. Size, then Size Delta, then Retained (never the sorted column).")


class SnapshotListScreen(Screen[None]):
    """One row per snapshot of this session, oldest first: when it was taken, its heap size
    (once analysed: the total of its objects' sizes, as `memtui diff` shows), its file size,
    the capture's duration and its path; below, the diff of the picked pair (default: the
    last two). `heap_sizes` (by path) outlives the screen and gains each analysed snapshot;
    `snapshot_cache` keeps parsed snapshots for the next visit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back", id="snapshots.back"),
        Binding("d", "app.pop_screen", "monitor", show=False, id="snapshots.monitor"),
        Binding("p", "focus_picker", "pick", id="snapshots.focus_picker"),
        Binding("b", "pick(0)", "before", show=False, id="snapshots.before"),
        Binding("a", "pick(1)", "after", show=False, id="snapshots.after"),
        Binding("question_mark", "help", "help", key_display="?", id="snapshots.help"),
        Binding("q", "app.quit", "quit", id="snapshots.quit"),
    ]

    def __init__(self, snapshots: Sequence[SnapshotSaved], heap_sizes: dict[Path, int],
                 snapshot_cache: SnapshotCache):
        super().__init__()
        self.snapshots = list(snapshots)
        self.heap_sizes = heap_sizes
        self.snapshot_cache = snapshot_cache
        self.picked = list(range(len(self.snapshots)))[-2:]

    def compose(self) -> ComposeResult:
        yield Label(f"Heap snapshots of this session ({len(self.snapshots)})",
                    classes="screen-title")
        if self.snapshots:
            yield RowTable(zebra_stripes=True, id="snapshot-table")
            yield DiffBrowser(self.snapshot_cache, id="diff-browser")
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
        """Rebuild the table, each path shortened to the width left by the other columns."""
        table = self.query_one("#snapshot-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.show_row_labels = len(self.snapshots) > 1
        roles = dict(zip(self.picked, ("before", "after"), strict=False)) if len(
            self.picked) == 2 else {}
        labels = [roles.get(row, "") for row in range(len(self.snapshots))]
        rows = [[str(number), clock_time(snapshot.taken_at),
                 self.heap_size(snapshot.path), format_bytes(snapshot.size),
                 f"{snapshot.duration_s:.1f}s"]
                for number, snapshot in enumerate(self.snapshots, 1)]
        padding = 2 * table.cell_padding
        used = sum(max(len(cell) for cell in column) + padding
                   for column in zip(COLUMNS, *rows, strict=True))
        if table.show_row_labels:
            used += max(len(label) for label in labels) + padding
        if len(self.snapshots) > VISIBLE_ROWS:
            used += SCROLLBAR_WIDTH
        path_width = max(self.app.size.width - used - padding, MIN_PATH_WIDTH)
        for title in COLUMNS:
            table.add_column(Text(title, justify="right" if title in RIGHT_ALIGNED else "left"),
                             key=title)
        table.add_column("path", width=path_width, key="path")
        for snapshot, row, label in zip(self.snapshots, rows, labels, strict=True):
            cells = [Text(cell, justify="right") if title in RIGHT_ALIGNED else cell
                     for title, cell in zip(COLUMNS, row, strict=True)]
            table.add_row(*cells, shorten_path(display_path(snapshot.path), path_width),
                          key=str(snapshot.path), label=Text(label, style="bold"))
        table.move_cursor(row=cursor)

    def heap_size(self, path: Path) -> str:
        size = self.heap_sizes.get(path)
        return "—" if size is None else format_bytes(size)

    def on_resize(self) -> None:
        if self.snapshots:
            self.fill_snapshots()

    def on_diff_ready(self, message: DiffReady) -> None:
        diff = message.diff
        for analysis, classes in ((diff.before, diff.before_classes),
                                  (diff.after, diff.after_classes)):
            if analysis.snapshot.path is not None:
                self.heap_sizes[analysis.snapshot.path] = int(classes.node_self_size.sum())
        self.fill_snapshots()

    def on_summary_ready(self, message: SummaryReady) -> None:
        self.heap_sizes[message.path] = message.heap_size
        self.fill_snapshots()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Picking needs two snapshots: with fewer, p, b and a are not offered."""
        if action in ("focus_picker", "pick"):
            return len(self.snapshots) >= 2
        return True

    def action_focus_picker(self) -> None:
        self.query_one("#snapshot-table", DataTable).focus()

    def action_pick(self, role: int) -> None:
        """Make the highlighted snapshot the base (0) or the compared one (1); picking the
        other role's snapshot swaps the two. The focus goes to (or stays on) the list, where
        the pick was made."""
        table = self.query_one("#snapshot-table", DataTable)
        table.focus()
        row = table.cursor_row
        names = ("before", "after")
        if row == self.picked[role]:
            self.notify(f"snapshot {row + 1} is already the {names[role]} one")
            return
        if row == self.picked[1 - role]:
            self.picked.reverse()
        else:
            self.picked[role] = row
        self.fill_snapshots()
        self.query_one(DiffBrowser).analyse([self.snapshots[i] for i in self.picked],
                                            take_focus=False)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.help_page()))

    def help_page(self) -> HelpPage:
        """The keys of this screen as it is now (one snapshot: no picking, no new objects)."""
        browsers = self.query(DiffBrowser)
        keys = list(browsers.first().help_keys()) if browsers else []
        if len(self.snapshots) >= 2:
            keys.append(("p b a", "to the snapshot list; make its highlighted one before / after"))
        keys += [("esc", "back one level; from the classes, back to the monitor"),
                 ("d", "back to the monitor"), ("?", "this help"), QUIT_KEY]
        return HelpPage("memtui keys: snapshots and their diff", tuple(keys),
                        (COLUMNS_NOTE, DETACHED_NOTE) if browsers else ())

    def action_back(self) -> None:
        browsers = self.query(DiffBrowser)
        if not browsers or not browsers.first().go_back():
            self.app.pop_screen()
