"""The diff browser of the `d` screen: classes compared between two snapshots (or one
snapshot's summary), a class's objects, and what keeps one object alive. Parsing and
searching run in a thread worker."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from rich.console import JustifyMethod
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Input, Label, ProgressBar
from textual.worker import get_current_worker

from memtui.errors import MemtuiError
from memtui.events import SnapshotSaved
from memtui.heap.chains import ChainLine, chain_lines, object_line
from memtui.heap.diff import (
    HeapDiff,
    diff_groups,
    diff_snapshots,
    ids_comparable,
    new_objects,
)
from memtui.heap.groups import GroupKey, has_groups
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.retainers import SYSTEM_DISTANCE
from memtui.heap.scripts import SourceFiles, source_files
from memtui.heap.snapshot import HeapSnapshot, load_snapshot
from memtui.ui.diff_view import (
    CLASS_COLUMN,
    DIFF_COLUMNS,
    OBJECT_COLUMNS,
    OBJECTS_SORTED_BY,
    SUMMARY_COLUMNS,
    ClassData,
    ClassKey,
    Column,
    ColumnFit,
    ListedObject,
    ListedRow,
    Listing,
    TableRow,
    ViewOptions,
    class_cell,
    column_titles,
    fit_columns,
    key_of,
    list_rows,
    sort_objects,
)
from memtui.ui.messages import (
    AnalysisFailed,
    AnalysisProgressed,
    DiffReady,
    ObjectsReady,
    RetainersReady,
    SummaryReady,
)
from memtui.ui.screens.heap_statistics import HeapStatisticsScreen
from memtui.ui.widgets.tables import ClassesTable, RowTable

MAX_LISTED_OBJECTS = 2000
COMPARE_HINT = "take two snapshots with `s` to compare them"
Level = Literal["classes", "objects", "retainers"]
VIEWS: dict[Level, str] = {"classes": "diff-classes-view", "objects": "diff-objects-view",
                           "retainers": "diff-retainers-view"}
TABLES: dict[Level, str] = {"classes": "#diff-classes", "objects": "#diff-objects",
                            "retainers": "#diff-retainers"}
CLASS_TABLE_ACTIONS = ("filter", "toggle_program_first", "toggle_unchanged")
SORT_ACTIONS = ("next_sort", "reverse_sort")
Mode = Literal["diff", "not-comparable", "summary"]
HINTS: dict[Mode, str] = {
    "diff": "/ filters by name · enter lists a class's new objects · → its sub-groups",
    "not-comparable": "/ filters by name · → shows a class's sub-groups",
    "summary": "/ filters by name · enter lists a class's objects · → its sub-groups",
}


@dataclass(frozen=True)
class CachedDiff:
    """The latest comparison: which pair, the diff, and its rows with their sub-groups."""

    paths: tuple[Path, Path]
    diff: HeapDiff
    data: ClassData


class SnapshotCache:
    """Analysed snapshots by path, at most `capacity`, plus the latest diff between two."""

    def __init__(self, load: Callable[..., HeapSnapshot] = load_snapshot, capacity: int = 2):
        self.load = load
        self.capacity = capacity
        self.entries: dict[Path, HeapAnalysis] = {}
        self.diff: CachedDiff | None = None
        self.lock = threading.Lock()

    def keep_only(self, paths: Sequence[Path]) -> None:
        """Forget every snapshot (and diff) not among `paths`, before loading others."""
        with self.lock:
            for path in [p for p in self.entries if p not in paths]:
                del self.entries[path]
            if self.diff is not None and not set(self.diff.paths) <= set(paths):
                self.diff = None

    def cached(self, path: Path) -> HeapAnalysis | None:
        with self.lock:
            return self.entries.get(path)

    def get(self, path: Path, on_progress: Callable[[float], None]) -> HeapAnalysis:
        """The analysis of the snapshot at `path`, parsed unless already cached (its passes
        run when first asked for)."""
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


def compared_classes(diff: HeapDiff, files: SourceFiles) -> ClassData:
    """A comparison's rows and the sub-groups of its grouped classes, with retained sizes."""
    groups = {key_of(row): diff_groups(diff, row.label, row.location, retained=True)
              for row in diff.rows if has_groups(row.label)}
    return ClassData(diff.rows, groups, files)


def summarized_classes(analysis: HeapAnalysis, files: SourceFiles) -> ClassData:
    """A snapshot's classes and the sub-groups of its grouped classes."""
    rows = analysis.class_rows()
    groups = {key_of(row): analysis.group_rows(row.label, row.location)
              for row in rows if has_groups(row.label)}
    return ClassData(rows, groups, files)


class DiffBrowser(Vertical):
    """Classes by size delta, filterable and sortable, the program's own first; enter goes
    down to objects (sortable, those retaining most first) and then to what keeps one alive;
    `t` shows the statistics of the after (or only) snapshot. `analyse` starts the work for
    the picked snapshots."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "next_sort", "sort", id="diff.sort"),
        Binding("r", "reverse_sort", "reverse", show=False, id="diff.reverse"),
        Binding("slash", "filter", "filter", key_display="/", id="diff.filter"),
        Binding("i", "toggle_program_first", "internals", show=False, id="diff.internals"),
        Binding("u", "toggle_unchanged", "unchanged", show=False, id="diff.unchanged"),
        Binding("t", "statistics", "statistics", id="diff.statistics"),
    ]

    def __init__(self, cache: SnapshotCache, *, id: str | None = None):
        super().__init__(id=id)
        self.cache = cache
        self.diff: HeapDiff | None = None
        self.data: ClassData | None = None
        self.summary_path: Path | None = None
        self.options = ViewOptions()
        self.listing = Listing([])
        self.fit = ColumnFit([], {}, [])
        self.objects: list[ListedObject] = []
        self.listed_objects: list[ListedObject] = []
        self.objects_sort = (OBJECTS_SORTED_BY, True)
        self.chain: list[ChainLine] = []
        self.object_text = ""
        self.focus_when_ready = True
        self.table_width = 0

    def compose(self) -> ComposeResult:
        yield Label("", id="diff-title")
        with Horizontal(id="diff-loading"):
            yield Label("", id="diff-step")
            yield ProgressBar(show_eta=False, id="diff-progress")
        yield Label("", id="diff-message")
        with ContentSwitcher(initial=VIEWS["classes"], id="diff-levels"):
            with Vertical(id=VIEWS["classes"]):
                yield Label("", id="diff-view-state", classes="diff-level-title")
                yield Input(placeholder=HINTS["diff"], compact=True, id="diff-filter")
                yield ClassesTable(zebra_stripes=True, id="diff-classes")
            with Vertical(id=VIEWS["objects"]):
                yield Label("", id="diff-objects-title", classes="diff-level-title")
                yield RowTable(zebra_stripes=True, id="diff-objects")
            with Vertical(id=VIEWS["retainers"]):
                yield Label("", id="diff-retainers-title", classes="diff-level-title")
                yield RowTable(id="diff-retainers")

    @property
    def level(self) -> Level:
        current = self.query_one(ContentSwitcher).current
        return next((level for level, view in VIEWS.items() if view == current), "classes")

    @property
    def mode(self) -> Mode:
        if self.diff is None:
            return "summary"
        return "diff" if self.diff.ids_comparable else "not-comparable"

    @property
    def columns(self) -> list[Column]:
        if self.diff is None:
            return list(SUMMARY_COLUMNS)
        return [c for c in DIFF_COLUMNS if self.diff.ids_comparable or not c.needs_ids]

    @property
    def listed(self) -> list[ListedRow]:
        return self.listing.rows

    def help_keys(self) -> list[tuple[str, str]]:
        """The browser's keys as the current view uses them, for the help screen."""
        enter = {"diff": "a class's new objects, then what keeps one alive",
                 "not-comparable": "(new objects need snapshots of one memtui session)",
                 "summary": "a class's objects, then what keeps one alive"}[self.mode]
        keys = [("enter", enter),
                ("→ ←", "show / hide a class's sub-groups (Function, Object, …)"),
                ("Home End", "first / last line; PgUp PgDn: a page"),
                ("o r", "sort classes or objects by the next column / reverse the order"),
                ("/", "filter classes and sub-groups by name"),
                ("i", "V8's internal groups: show / hide, your classes first")]
        if self.mode != "summary":
            keys.append(("u", "classes that did not change: show / hide"))
        keys.append(("t", "statistics, duplicated strings, largest objects of the "
                          + ("after snapshot" if self.mode != "summary" else "snapshot")))
        return keys

    def say(self, message: str) -> None:
        self.query_one("#diff-message", Label).update(message)
        self.set_class(bool(message), "has-message")

    def holds_focus(self) -> bool:
        """Whether the user's focus is in the browser (or nowhere)."""
        focused = self.app.focused
        return focused is None or self in focused.ancestors_with_self

    def show_level(self, level: Level) -> None:
        self.query_one(ContentSwitcher).current = VIEWS[level]
        self.query_one(TABLES[level], DataTable).focus()
        self.screen.refresh_bindings()

    def go_back(self) -> bool:
        """One level up (retainers -> objects -> classes); False when already at the top."""
        if self.level == "retainers":
            self.show_level("objects")
        elif self.level == "objects":
            self.show_level("classes")
        else:
            return False
        return True

    def analyse(self, snapshots: Sequence[SnapshotSaved], take_focus: bool = True) -> None:
        """Compare the two given snapshots, or summarize one. The class table takes the
        focus when the results arrive if `take_focus`, or if the focus is in the browser."""
        self.diff, self.data, self.summary_path = None, None, None
        self.listing = Listing([])
        self.focus_when_ready = take_focus or self.holds_focus()
        self.query_one("#diff-classes", DataTable).clear(columns=True)
        self.query_one(ContentSwitcher).current = VIEWS["classes"]
        self.query_one("#diff-view-state", Label).update("")
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
            if cached is not None and cached.paths == (before_path, after_path):
                self.post_message(DiffReady(cached.diff, cached.data))
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
                files = source_files(after_path, after.script_names, before.script_names)
                data = compared_classes(diff, files)
            self.cache.diff = CachedDiff((before_path, after_path), diff, data)
            self.post_message(DiffReady(diff, data))
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
                data = summarized_classes(loaded, source_files(path, loaded.script_names))
                heap_size = int(loaded.shallow_sizes.sum())
            self.post_message(SummaryReady(path, data, heap_size))
        except AnalysisCancelled:
            return
        except MemtuiError as error:
            self.post_message(AnalysisFailed(str(error)))

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
        self.diff = message.diff
        if not message.diff.ids_comparable:
            self.say(f"Object ids are not comparable ({message.diff.reason}): showing count "
                     "and size deltas only.")
        self.show_classes(message.data, "size_delta")

    def on_summary_ready(self, message: SummaryReady) -> None:
        self.summary_path = message.path
        self.show_classes(message.data, "self_size")

    def show_classes(self, data: ClassData, sort_key: str) -> None:
        self.set_class(False, "loading")
        self.data = data
        self.options = dataclasses.replace(self.options, sort_key=sort_key, reverse=True,
                                           expanded=frozenset())
        self.query_one("#diff-filter", Input).placeholder = HINTS[self.mode]
        self.fill_classes()
        self.screen.refresh_bindings()
        if self.focus_when_ready:
            self.query_one("#diff-classes", DataTable).focus()

    def fill_classes(self) -> None:
        """Rebuild the classes table from the rows and the view options, keeping the
        cursor on the line it was on."""
        if self.data is None:
            return
        table = self.query_one("#diff-classes", DataTable)
        previous = self._cursor_key(table)
        columns = self.columns
        if self.options.sort_key not in [c.key for c in columns]:
            self.options = dataclasses.replace(self.options, sort_key=columns[-1].key)
        self.listing = list_rows(self.data, self.options, columns)
        self.table_width = self._table_width()
        self.fit = fit_columns(columns, self.listed, self.table_width, self.options.sort_key,
                               self.options.reverse)
        titles = column_titles(self.fit.columns, self.options.sort_key, self.options.reverse)
        table.clear(columns=True)
        for column in self.fit.columns:
            justify: JustifyMethod = "left" if column.key == CLASS_COLUMN.key else "right"
            table.add_column(Text(titles[column.key], justify=justify), key=column.key,
                             width=self.fit.widths[column.key])
        class_width = self.fit.widths[CLASS_COLUMN.key]
        cursor = 0
        for number, listed in enumerate(self.listed):
            expanded = key_of(listed.row) in self.options.expanded
            cells: list[Text] = []
            for column in self.fit.columns:
                if column.key == CLASS_COLUMN.key:
                    cells.append(class_cell(listed, self.data, expanded, class_width))
                else:
                    cells.append(Text(column.show(column.value(listed.row)), justify="right"))
            table.add_row(*cells, key=str(number))
            if self._line_key(listed) == previous:
                cursor = number
        table.move_cursor(row=cursor)
        self.query_one("#diff-view-state", Label).update(self._view_state())

    def _view_state(self) -> str:
        """What the table leaves out and the key that brings it back."""
        listing, options = self.listing, self.options
        hidden = []
        if listing.hidden_internal:
            hidden.append(f"{listing.hidden_internal} V8 internal (i)")
        if listing.hidden_unchanged:
            hidden.append(f"{listing.hidden_unchanged} unchanged (u)")
        parts = ["Your classes first" if options.program_first
                 else "All classes, V8's internal groups too (i: yours first)"]
        if hidden:
            parts.append("hidden: " + ", ".join(hidden))
        if self.fit.dropped:
            parts.append("no room for " + ", ".join(c.title for c in self.fit.dropped))
        return "; ".join(parts)

    @staticmethod
    def _line_key(listed: ListedRow) -> tuple[ClassKey, ClassKey | None]:
        return key_of(listed.row), key_of(listed.parent) if listed.parent else None

    def _cursor_key(self, table: DataTable) -> tuple[ClassKey, ClassKey | None] | None:
        row = table.cursor_row
        if not self.listed or not 0 <= row < len(self.listed):
            return None
        return self._line_key(self.listed[row])

    def _table_width(self) -> int:
        """Cells the class table can fill, leaving room for its vertical scrollbar whether
        it shows one or not."""
        table = self.query_one("#diff-classes", DataTable)
        width = table.outer_size.width or self.outer_size.width or self.app.size.width
        return width - table.styles.scrollbar_size_vertical

    def on_resize(self, event: events.Resize) -> None:
        if self.data is not None and self._table_width() != self.table_width:
            self.fill_classes()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The keys that mean nothing where the user is are not offered: the class table's
        keys below it, sorting in the retainers, `u` in a summary, `t` before results."""
        if action in CLASS_TABLE_ACTIONS and self.level != "classes":
            return False
        if action in SORT_ACTIONS and self.level == "retainers":
            return False
        if action == "toggle_unchanged":
            return self.mode != "summary"
        if action == "statistics":
            return self.data is not None
        return True

    def sort_by(self, key: str) -> None:
        """Sort by the column `key`; again on the same column reverses the order."""
        if key == self.options.sort_key:
            self.options = dataclasses.replace(self.options, reverse=not self.options.reverse)
        else:
            self.options = dataclasses.replace(self.options, sort_key=key,
                                               reverse=key != CLASS_COLUMN.key)
        self.fill_classes()

    def sort_objects_by(self, key: str) -> None:
        """Sort the objects by the column `key`; again on the same column reverses."""
        current, reverse = self.objects_sort
        self.objects_sort = (key, not reverse if key == current else key != "object")
        self.fill_objects()

    def action_next_sort(self) -> None:
        if self.level == "objects":
            keys = [c.key for c in OBJECT_COLUMNS]
            self.sort_objects_by(keys[(keys.index(self.objects_sort[0]) + 1) % len(keys)])
            return
        keys = [c.key for c in self.columns]
        if self.options.sort_key in keys:
            self.sort_by(keys[(keys.index(self.options.sort_key) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        if self.level == "objects":
            self.sort_objects_by(self.objects_sort[0])
        else:
            self.sort_by(self.options.sort_key)

    def action_statistics(self) -> None:
        """DevTools' Statistics, duplicated strings and largest objects of the after (or
        only) snapshot, once it is analysed."""
        path = self.diff.after.snapshot.path if self.diff is not None else self.summary_path
        analysis = self.cache.cached(path) if path is not None else None
        if analysis is None:
            return
        which = "the after snapshot" if self.diff is not None else "the snapshot"
        self.app.push_screen(HeapStatisticsScreen(analysis, f"Statistics of {which} "
                                                            f"({path.name if path else ''})"))

    def action_filter(self) -> None:
        self.show_level("classes")
        self.query_one("#diff-filter", Input).focus()

    def action_toggle_program_first(self) -> None:
        self.options = dataclasses.replace(self.options,
                                           program_first=not self.options.program_first)
        self.fill_classes()

    def action_toggle_unchanged(self) -> None:
        self.options = dataclasses.replace(self.options,
                                           hide_unchanged=not self.options.hide_unchanged)
        self.fill_classes()

    @on(ClassesTable.Expand)
    def expand_groups(self, message: ClassesTable.Expand) -> None:
        """→ shows the sub-groups of the class on the cursor's line, ← hides them (from a
        sub-group's line too, returning to its class)."""
        table = self.query_one("#diff-classes", DataTable)
        if not self.listed or self.data is None:
            return
        listed = self.listed[table.cursor_row]
        row = listed.parent or listed.row
        if not self.data.groups_of(row):
            if message.expand and listed.parent is None:
                self.say(f"{row.label} has no sub-groups: only Function, Object, "
                         "system / Context and V8's internal groups do.")
            return
        key = key_of(row)
        expanded = (self.options.expanded | {key} if message.expand
                    else self.options.expanded - {key})
        self.options = dataclasses.replace(self.options, expanded=frozenset(expanded))
        self.say("")
        self.fill_classes()
        if not message.expand:
            table.move_cursor(row=next(i for i, line in enumerate(self.listed)
                                       if line.parent is None and key_of(line.row) == key))

    @on(DataTable.HeaderSelected, "#diff-classes")
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    @on(Input.Changed, "#diff-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.options = dataclasses.replace(self.options, text=event.value)
        self.fill_classes()

    @on(Input.Submitted, "#diff-filter")
    def filter_done(self) -> None:
        self.query_one("#diff-classes", DataTable).focus()

    @on(DataTable.RowSelected, "#diff-classes")
    def class_chosen(self, event: DataTable.RowSelected) -> None:
        if self.mode == "not-comparable":
            self.say("Object ids are not comparable between these snapshots: new objects "
                     "cannot be told apart (take both in one memtui session).")
            return
        if self.listed:
            self.list_objects(self.listed[event.cursor_row])

    @work(thread=True, exclusive=True, group="analysis")
    def list_objects(self, listed: ListedRow) -> None:
        """The new objects of a compared class, or every object of a summary's class (for a
        sub-group's line, those of the sub-group): those retaining most first, then the
        farthest from the GC roots (a chain of leaked objects is best read from its far
        end), then the largest."""
        owner = listed.parent or listed.row
        path = self.diff.after.snapshot.path if self.diff is not None else self.summary_path
        analysis = self.cache.cached(path) if path is not None else None
        if analysis is None:
            return
        try:
            with self._steps(analysis):
                objects, count = self._objects_of(analysis, listed, owner)
        except AnalysisCancelled:
            return
        kind = "new objects" if self.diff is not None else "objects"
        files = self.data.files if self.data else SourceFiles({})
        name = f"{listed.row.label} in {owner.label}" if listed.parent else owner.label
        where = files.describe(listed.row.location)
        title = f"{name}{f' at {where}' if where else ''}: {count:,} {kind}"
        if len(objects) < count:
            title += f" ({len(objects):,} retaining most shown)"
        if not get_current_worker().is_cancelled:
            self.post_message(ObjectsReady(title + "; enter: what keeps one alive", objects))

    def _objects_of(self, analysis: HeapAnalysis, listed: ListedRow,
                    owner: TableRow) -> tuple[list[ListedObject], int]:
        """The first MAX_LISTED_OBJECTS objects of the line, in order, and how many it has."""
        snapshot = analysis.snapshot
        if self.diff is not None:
            found = new_objects(self.diff, owner.label, owner.location)
            nodes = np.array([item.node for item in found], dtype=np.int64)
        else:
            nodes = analysis.classes.members(owner.label, owner.location)
        if listed.parent is not None:
            group = GroupKey(listed.row.label, listed.row.location)
            members = analysis.sub_groups(owner.label, owner.location).members(group)
            nodes = nodes[np.isin(nodes, members)]
        distance = analysis.retainers.distance
        retained = analysis.retained_sizes
        sizes = analysis.classes.node_self_size
        nodes = nodes[np.lexsort((snapshot.node_id[nodes], -sizes[nodes].astype(np.int64),
                                  -distance[nodes].astype(np.int64), -retained[nodes]))]
        objects = [ListedObject(node, object_line(analysis, node), int(sizes[node]),
                                _distance(int(distance[node])), int(retained[node]))
                   for node in nodes[:MAX_LISTED_OBJECTS].tolist()]
        return objects, len(nodes)

    def on_objects_ready(self, message: ObjectsReady) -> None:
        self.set_class(False, "loading")
        self.objects = message.objects
        self.objects_sort = (OBJECTS_SORTED_BY, True)
        self.query_one("#diff-objects-title", Label).update(message.title)
        self.fill_objects()
        self.show_level("objects")

    def fill_objects(self) -> None:
        """Rebuild the objects table in the chosen order (the listed objects stay those
        retaining most, whatever the order)."""
        key, reverse = self.objects_sort
        self.listed_objects = sort_objects(self.objects, key, reverse)
        table = self.query_one("#diff-objects", DataTable)
        table.clear(columns=True)
        titles = column_titles(OBJECT_COLUMNS, key, reverse)
        for column in OBJECT_COLUMNS:
            justify: JustifyMethod = "left" if column.key == "object" else "right"
            table.add_column(Text(titles[column.key], justify=justify), key=column.key)
        for number, listed in enumerate(self.listed_objects):
            table.add_row(listed.name, *(Text(column.show(column.value(listed)),
                                              justify="right")
                                         for column in OBJECT_COLUMNS[1:]), key=str(number))

    @on(DataTable.HeaderSelected, "#diff-objects")
    def objects_header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.sort_objects_by(str(event.column_key.value))

    @on(DataTable.RowSelected, "#diff-objects")
    def object_chosen(self, event: DataTable.RowSelected) -> None:
        path = self.diff.after.snapshot.path if self.diff is not None else self.summary_path
        if path is not None and self.listed_objects:
            listed = self.listed_objects[event.cursor_row]
            self.find_retainers(path, listed.node, listed.name)

    @work(thread=True, exclusive=True, group="analysis")
    def find_retainers(self, path: Path, node: int, name: str) -> None:
        analysis = self.cache.cached(path)
        if analysis is None:
            return
        try:
            with self._steps(analysis):
                chain = analysis.retainers.chain(node)
                lines = None if chain is None else chain_lines(analysis, chain)
        except AnalysisCancelled:
            return
        if not get_current_worker().is_cancelled:
            self.post_message(RetainersReady(name, lines))

    def on_retainers_ready(self, message: RetainersReady) -> None:
        self.set_class(False, "loading")
        self.object_text = message.object_line
        self.chain = message.lines or []
        title = self.query_one("#diff-retainers-title", Label)
        if message.lines is None:
            title.update(f"Nothing reaches {message.object_line} from the GC roots: "
                         "it is garbage, collected at the next GC")
        self.fill_retainers(0)
        self.show_level("retainers")

    def fill_retainers(self, cursor: int) -> None:
        """The object, then each line of its chain; the title counts the references."""
        references = sum(len(line.references) for line in self.chain)
        if self.chain:
            folded = any(line.folded for line in self.chain)
            self.query_one("#diff-retainers-title", Label).update(
                f"What keeps {self.object_text} alive: {references:,} references up to the "
                "GC root, nearest first" + ("; enter unfolds a folded run" if folded else ""))
        table = self.query_one("#diff-retainers", DataTable)
        table.clear(columns=True)
        table.add_column("Object, then what holds it", key="line")
        table.add_row(Text(self.object_text, style="bold"), key="object")
        for number, line in enumerate(self.chain):
            table.add_row(Text(line.describe(), style="italic" if line.folded else ""),
                          key=str(number))
        table.move_cursor(row=cursor)

    @on(DataTable.RowSelected, "#diff-retainers")
    def retainer_chosen(self, event: DataTable.RowSelected) -> None:
        position = event.cursor_row - 1
        if 0 <= position < len(self.chain) and self.chain[position].folded:
            line = self.chain[position]
            self.chain[position:position + 1] = line.unfolded()
            self.fill_retainers(event.cursor_row)


def _distance(distance: int) -> int | None:
    """DevTools' distance from the GC roots; None for an object reached only through V8's
    system roots, or not at all."""
    return distance if 0 <= distance < SYSTEM_DISTANCE else None


def _taken(snapshot: SnapshotSaved) -> str:
    return f"the snapshot of {time.strftime('%H:%M:%S', time.localtime(snapshot.taken_at))}"
