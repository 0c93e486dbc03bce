"""The diff browser of the `d` screen: classes compared between two snapshots, a class's new
objects, and one object's retainer chain. Parsing and searching run in a thread worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Input, Label, ProgressBar
from textual.worker import get_current_worker

from memtui.errors import MemtuiError
from memtui.events import SnapshotSaved
from memtui.heap.diff import (
    ClassDiff,
    HeapDiff,
    NewObject,
    diff_snapshots,
    ids_comparable,
    new_objects,
)
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.snapshot import HeapSnapshot, load_snapshot
from memtui.ui.messages import (
    AnalysisFailed,
    AnalysisProgressed,
    DiffReady,
    NewObjectsReady,
    RetainersReady,
    SummaryReady,
)
from memtui.ui.screens.heap_statistics import HeapStatisticsScreen
from memtui.units import format_bytes, format_change

WIDE_COLUMNS_FROM = 110
MAX_LISTED_OBJECTS = 2000
MAX_CLASS_LABEL = 60
NARROW_CLASS_LABEL = 25
COMPARE_HINT = "take two snapshots with `s` to compare them"


class SnapshotCache:
    """Analysed snapshots by path, at most `capacity`, plus the latest diff between two."""

    def __init__(self, load: Callable[..., HeapSnapshot] = load_snapshot, capacity: int = 2):
        self.load = load
        self.capacity = capacity
        self.entries: dict[Path, HeapAnalysis] = {}
        self.diff: tuple[tuple[Path, Path], HeapDiff] | None = None
        self.lock = threading.Lock()

    def keep_only(self, paths: Sequence[Path]) -> None:
        """Forget every snapshot (and diff) not among `paths`, before loading others."""
        with self.lock:
            for path in [p for p in self.entries if p not in paths]:
                del self.entries[path]
            if self.diff is not None and not set(self.diff[0]) <= set(paths):
                self.diff = None

    def cached(self, path: Path) -> HeapAnalysis | None:
        with self.lock:
            return self.entries.get(path)

    def get(self, path: Path, on_progress: Callable[[float], None]) -> HeapAnalysis:
        """The analysis of the snapshot at `path`, parsed unless already cached."""
        entry = self.cached(path)
        if entry is not None:
            return entry
        entry = HeapAnalysis(self.load(path, on_progress=on_progress))
        with self.lock:
            self.entries[path] = entry
            while len(self.entries) > self.capacity:
                del self.entries[next(iter(self.entries))]
        return entry


class AnalysisCancelled(Exception):
    """The worker was cancelled (another pair picked, or the screen closed)."""


@dataclass(frozen=True)
class Column:
    """A table column: its title, how to read a row's value, how to show it."""

    key: str
    title: str
    value: Callable[[Any], Any]
    show: Callable[[Any], str]
    needs_ids: bool = False
    wide_only: bool = False


def _count(value: int) -> str:
    return f"{value:,}"


def _count_change(value) -> str:
    return f"{value:+,}" if value else "0"




def _label(row) -> str:
    return row.label


DIFF_COLUMNS = (
    Column("class", "Class", _label, str),
    Column("new", "# New", lambda r: r.new, _count, needs_ids=True),
    Column("deleted", "# Deleted", lambda r: r.deleted, _count, needs_ids=True),
    Column("count_delta", "# Delta", lambda r: r.count_delta, _count_change),
    Column("alloc_size", "Alloc. Size", lambda r: r.alloc_size, format_bytes, needs_ids=True,
           wide_only=True),
    Column("freed_size", "Freed Size", lambda r: r.freed_size, format_bytes, needs_ids=True,
           wide_only=True),
    Column("retained", "Retained", lambda r: r.retained_after, format_bytes),
    Column("size_delta", "Size Delta", lambda r: r.size_delta, format_change),
)
SUMMARY_COLUMNS = (
    Column("class", "Class", _label, str),
    Column("count", "Count", lambda r: r.count, _count),
    Column("self_size", "Self Size", lambda r: r.self_size, format_bytes),
    Column("retained", "Retained Size", lambda r: r.retained_size, format_bytes),
)
OBJECT_COLUMNS = (
    Column("object", "Object", lambda o: o.node_id, str),
    Column("self_size", "Self Size", lambda o: o.self_size, format_bytes),
    Column("retained", "Retained Size", lambda o: o.retained_size, format_bytes),
)


class DiffBrowser(Vertical):
    """Classes by size delta, filterable and sortable; enter goes down to new objects and then
    to a retainer chain. `analyse` starts the work for the picked snapshots."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "next_sort", "sort", id="diff.sort"),
        Binding("r", "reverse_sort", "reverse", id="diff.reverse"),
        Binding("slash", "filter", "filter", key_display="/", id="diff.filter"),
        Binding("i", "statistics", "stats", id="diff.statistics"),
    ]

    def __init__(self, cache: SnapshotCache, **kwargs):
        super().__init__(**kwargs)
        self.cache = cache
        self.diff: HeapDiff | None = None
        self.summary: list | None = None
        self.shown: tuple[HeapAnalysis, str] | None = None  # the after (or only) snapshot
        self.sort_key = "size_delta"
        self.sort_reverse = True
        self.wide = True
        self.listed: list = []
        self.selected_class: ClassDiff | None = None
        self.objects: list[NewObject] = []
        self.objects_label = ""
        self.objects_sort_key = "retained"
        self.objects_sort_reverse = True
        self.listed_objects: list[NewObject] = []

    def compose(self) -> ComposeResult:
        yield Label("", id="diff-title")
        with Horizontal(id="diff-loading"):
            yield Label("", id="diff-step")
            yield ProgressBar(show_eta=False, id="diff-progress")
        yield Label("", id="diff-message")
        with ContentSwitcher(initial="diff-classes-view", id="diff-levels"):
            with Vertical(id="diff-classes-view"):
                yield Input(placeholder="/ filters classes by name; enter on a class lists its"
                            " new objects", compact=True, id="diff-filter")
                yield DataTable(cursor_type="row", zebra_stripes=True, id="diff-classes")
            with Vertical(id="diff-objects-view"):
                yield Label("", id="diff-objects-title", classes="diff-level-title")
                yield DataTable(cursor_type="row", zebra_stripes=True, id="diff-objects")
            with Vertical(id="diff-retainers-view"):
                yield Label("", id="diff-retainers-title", classes="diff-level-title")
                yield DataTable(cursor_type="row", id="diff-retainers")

    @property
    def level(self) -> str:
        return self.query_one(ContentSwitcher).current or "diff-classes-view"

    def say(self, message: str) -> None:
        self.query_one("#diff-message", Label).update(message)
        self.set_class(bool(message), "has-message")

    def show_level(self, level: str) -> None:
        self.query_one(ContentSwitcher).current = level
        table_id = {"diff-classes-view": "#diff-classes", "diff-objects-view": "#diff-objects",
                    "diff-retainers-view": "#diff-retainers"}[level]
        self.query_one(table_id, DataTable).focus()

    def go_back(self) -> bool:
        """One level up (retainers -> objects -> classes); False when already at the top."""
        if self.level == "diff-retainers-view":
            self.show_level("diff-objects-view")
        elif self.level == "diff-objects-view":
            self.show_level("diff-classes-view")
        else:
            return False
        return True

    def analyse(self, snapshots: Sequence[SnapshotSaved]) -> None:
        """Compare the two given snapshots, or summarize one."""
        self.diff, self.summary, self.listed, self.shown = None, None, [], None
        self.query_one("#diff-classes", DataTable).clear(columns=True)
        self.show_level("diff-classes-view")
        self.set_class(True, "loading")
        if len(snapshots) == 2:
            before, after = snapshots
            self.query_one("#diff-title", Label).update(
                f"Comparing {_taken(before)} (before) → {_taken(after)} (after)")
            self.say("")
            self.compare(before.path, after.path)
        else:
            self.query_one("#diff-title", Label).update(f"Summary of {_taken(snapshots[0])}")
            self.say(f"One snapshot: {COMPARE_HINT}.")
            self.summarize_one(snapshots[0].path)

    def _loader(self, path: Path) -> HeapAnalysis:
        worker = get_current_worker()

        def on_progress(fraction: float) -> None:
            if worker.is_cancelled:
                raise AnalysisCancelled
            self.post_message(AnalysisProgressed(f"parsing {path.name}…", fraction))

        if self.cache.cached(path) is None:
            on_progress(0.0)
        return self.cache.get(path, on_progress)

    def _steps(self, analysis: HeapAnalysis) -> AbstractContextManager[None]:
        """Within the block, the passes this worker runs on `analysis` show as progress, and
        a cancelled worker stops before its next pass."""
        worker = get_current_worker()
        path = analysis.snapshot.path
        name = path.name if path else "the snapshot"

        def on_step(step: str) -> None:
            if worker.is_cancelled:
                raise AnalysisCancelled
            self.post_message(AnalysisProgressed(f"{step} of {name}…", None))

        return analysis.steps_reported_to(on_step)

    @work(thread=True, exclusive=True, group="analysis")
    def compare(self, before_path: Path, after_path: Path) -> None:
        try:
            self.cache.keep_only([before_path, after_path])
            cached = self.cache.diff
            if cached is not None and cached[0] == (before_path, after_path):
                self.post_message(DiffReady(cached[1]))
                return
            before = self._loader(before_path)
            after = self._loader(after_path)
            if get_current_worker().is_cancelled:
                return
            self.post_message(AnalysisProgressed("comparing…", None))
            comparable, reason = ids_comparable(before.snapshot, after.snapshot,
                                                before_path, after_path)
            with self._steps(before), self._steps(after):
                diff = diff_snapshots(before, after, comparable, reason, retained=True)
            self.cache.diff = ((before_path, after_path), diff)
            self.post_message(DiffReady(diff))
        except AnalysisCancelled:
            return
        except MemtuiError as error:
            self.post_message(AnalysisFailed(str(error)))

    @work(thread=True, exclusive=True, group="analysis")
    def summarize_one(self, path: Path) -> None:
        try:
            self.cache.keep_only([path])
            loaded = self._loader(path)
            with self._steps(loaded):
                rows = loaded.class_rows()
            self.post_message(SummaryReady(path.name, rows, loaded))
        except AnalysisCancelled:
            return
        except MemtuiError as error:
            self.post_message(AnalysisFailed(str(error)))

    @work(thread=True, exclusive=True, group="analysis")
    def list_new_objects(self, diff: HeapDiff, row: ClassDiff) -> None:
        try:
            with self._steps(diff.after):
                objects = new_objects(diff, row.label, row.location)
        except AnalysisCancelled:
            return
        self.post_message(NewObjectsReady(row.label, row.location, objects))

    @work(thread=True, exclusive=True, group="analysis")
    def find_retainers(self, analysis: HeapAnalysis, node: int, object_label: str) -> None:
        try:
            with self._steps(analysis):
                chain = analysis.retainers.chain(node)
        except AnalysisCancelled:
            return
        if not get_current_worker().is_cancelled:
            self.post_message(RetainersReady(object_label, chain))

    def on_analysis_progressed(self, message: AnalysisProgressed) -> None:
        self.set_class(True, "loading")
        self.query_one("#diff-step", Label).update(message.step)
        bar = self.query_one("#diff-progress", ProgressBar)
        if message.fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=100 * message.fraction)

    def on_analysis_failed(self, message: AnalysisFailed) -> None:
        self.set_class(False, "loading")
        self.say(f"Cannot analyse the snapshots: {message.error}")

    def on_diff_ready(self, message: DiffReady) -> None:
        self.set_class(False, "loading")
        self.diff = message.diff
        self.shown = (message.diff.after, "the after snapshot")
        if not message.diff.ids_comparable:
            self.say(f"Object ids are not comparable ({message.diff.reason}): showing count "
                     "and size deltas only.")
        self.sort_key, self.sort_reverse = "size_delta", True
        self.fill_classes()
        self.query_one("#diff-classes", DataTable).focus()

    def on_summary_ready(self, message: SummaryReady) -> None:
        self.set_class(False, "loading")
        self.summary = message.rows
        self.shown = (message.analysis, "the snapshot")
        self.sort_key, self.sort_reverse = "self_size", True
        self.fill_classes()
        self.query_one("#diff-classes", DataTable).focus()

    @property
    def columns(self) -> list[Column]:
        if self.summary is not None:
            return list(SUMMARY_COLUMNS)
        comparable = self.diff is not None and self.diff.ids_comparable
        return [c for c in DIFF_COLUMNS if (comparable or not c.needs_ids)
                and (self.wide or not c.wide_only)]

    def fill_classes(self) -> None:
        """Rebuild the classes table from the rows, the filter and the sort order."""
        rows = self.summary if self.summary is not None else (self.diff.rows if self.diff
                                                              else None)
        if rows is None:
            return
        columns = self.columns
        if self.sort_key not in [c.key for c in columns]:
            self.sort_key, self.sort_reverse = columns[-1].key, True
        sort_column = next(c for c in columns if c.key == self.sort_key)
        wanted = self.query_one("#diff-filter", Input).value.strip().lower()
        listed = [row for row in rows if wanted in _label(row).lower()]
        listed.sort(key=lambda row: _sort_value(sort_column.value(row)),
                    reverse=self.sort_reverse)
        self.listed = listed
        table = self.query_one("#diff-classes", DataTable)
        table.clear(columns=True)
        width = MAX_CLASS_LABEL if self.wide else NARROW_CLASS_LABEL
        for column in columns:
            arrow = (" ▼" if self.sort_reverse else " ▲") if column.key == self.sort_key else ""
            justify = "left" if column.key == "class" else "right"
            table.add_column(Text(column.title + arrow, justify=justify), key=column.key,
                             width=width if column.key == "class" else None)
        for number, row in enumerate(listed):
            cells = []
            for column in columns:
                text = column.show(column.value(row))
                if column.key == "class":
                    cells.append(text if len(text) <= width else text[:width - 1] + "…")
                else:
                    cells.append(Text(text, justify="right"))
            table.add_row(*cells, key=str(number))

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= WIDE_COLUMNS_FROM
        if wide != self.wide:
            self.wide = wide
            self.fill_classes()

    def sort_by(self, key: str) -> None:
        """Sort by the column `key`; again on the same column reverses the order."""
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, key != "class"
        self.fill_classes()

    def sort_objects_by(self, key: str) -> None:
        """Sort the new objects by the column `key`; again on the same column reverses."""
        if key == self.objects_sort_key:
            self.objects_sort_reverse = not self.objects_sort_reverse
        else:
            self.objects_sort_key, self.objects_sort_reverse = key, True
        self.fill_objects()

    def action_next_sort(self) -> None:
        if self.level == "diff-objects-view":
            keys = [c.key for c in OBJECT_COLUMNS]
            self.sort_objects_by(keys[(keys.index(self.objects_sort_key) + 1) % len(keys)])
            return
        keys = [c.key for c in self.columns]
        if self.sort_key in keys:
            self.sort_by(keys[(keys.index(self.sort_key) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        if self.level == "diff-objects-view":
            self.sort_objects_by(self.objects_sort_key)
        else:
            self.sort_by(self.sort_key)

    def action_statistics(self) -> None:
        """DevTools' Statistics, duplicated strings and largest objects of the after (or
        only) snapshot, once it is analysed."""
        if self.shown is None:
            return
        analysis, which = self.shown
        path = analysis.snapshot.path
        self.app.push_screen(HeapStatisticsScreen(
            analysis, f"Statistics of {which} ({path.name if path else 'in memory'})"))

    def action_filter(self) -> None:
        self.show_level("diff-classes-view")
        self.query_one("#diff-filter", Input).focus()

    @on(DataTable.HeaderSelected, "#diff-classes")
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    @on(DataTable.HeaderSelected, "#diff-objects")
    def objects_header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.sort_objects_by(str(event.column_key.value))

    @on(Input.Changed, "#diff-filter")
    def filter_changed(self) -> None:
        self.fill_classes()

    @on(Input.Submitted, "#diff-filter")
    def filter_done(self) -> None:
        self.query_one("#diff-classes", DataTable).focus()

    @on(DataTable.RowSelected, "#diff-classes")
    def class_chosen(self, event: DataTable.RowSelected) -> None:
        if self.diff is None:
            self.say(f"One snapshot has no new objects: {COMPARE_HINT}.")
            return
        if not self.diff.ids_comparable:
            self.say("Object ids are not comparable between these snapshots: new objects "
                     "cannot be told apart (take both in one memtui session).")
            return
        self.selected_class = self.listed[int(event.row_key.value)]
        self.list_new_objects(self.diff, self.selected_class)

    def on_new_objects_ready(self, message: NewObjectsReady) -> None:
        self.set_class(False, "loading")
        self.objects = message.objects
        self.objects_label = message.label
        self.objects_sort_key, self.objects_sort_reverse = "retained", True
        shown = min(len(self.objects), MAX_LISTED_OBJECTS)
        where = f" (constructor at {message.location})" if message.location else ""
        title = f"{message.label}{where}: {len(self.objects):,} new objects"
        if shown < len(self.objects):
            title += f" ({shown:,} retaining most shown)"
        self.query_one("#diff-objects-title", Label).update(title + "; enter: retainers")
        self.fill_objects()
        self.show_level("diff-objects-view")

    def fill_objects(self) -> None:
        """Rebuild the new objects table in the chosen order; the list holds the objects
        retaining most (at most MAX_LISTED_OBJECTS), whatever the order."""
        column = next(c for c in OBJECT_COLUMNS if c.key == self.objects_sort_key)
        self.listed_objects = sorted(self.objects[:MAX_LISTED_OBJECTS],
                                     key=lambda o: _sort_value(column.value(o)),
                                     reverse=self.objects_sort_reverse)
        table = self.query_one("#diff-objects", DataTable)
        table.clear(columns=True)
        for shown in OBJECT_COLUMNS:
            arrow = ((" ▼" if self.objects_sort_reverse else " ▲")
                     if shown.key == self.objects_sort_key else "")
            table.add_column(Text(shown.title + arrow,
                                  justify="left" if shown.key == "object" else "right"),
                             key=shown.key)
        for number, new_object in enumerate(self.listed_objects):
            table.add_row(f"{self.objects_label} @{new_object.node_id}",
                          Text(format_bytes(new_object.self_size), justify="right"),
                          Text(format_bytes(new_object.retained_size), justify="right"),
                          key=str(number))

    @on(DataTable.RowSelected, "#diff-objects")
    def object_chosen(self, event: DataTable.RowSelected) -> None:
        chosen = self.listed_objects[int(event.row_key.value)]
        self.find_retainers(self.diff.after, chosen.node,
                            f"{self.objects_label} @{chosen.node_id}")

    def on_retainers_ready(self, message: RetainersReady) -> None:
        self.set_class(False, "loading")
        table = self.query_one("#diff-retainers", DataTable)
        table.clear(columns=True)
        table.add_columns("Object", "Edge", "Edge type")
        if message.chain is None:
            self.query_one("#diff-retainers-title", Label).update(
                f"Nothing reaches {message.object_label} from the GC roots")
        else:
            self.query_one("#diff-retainers-title", Label).update(
                f"What keeps {message.object_label} alive, from the GC root down")
            for step in message.chain.steps:
                table.add_row(step.holder_label, step.edge, step.edge_type)
            table.add_row(message.object_label, "", "")
        self.show_level("diff-retainers-view")


def _taken(snapshot: SnapshotSaved) -> str:
    return f"the snapshot of {time.strftime('%H:%M:%S', time.localtime(snapshot.taken_at))}"


def _sort_value(value) -> tuple:
    """Names case-insensitive; numbers as they are."""
    return (value.lower(),) if isinstance(value, str) else (value,)
