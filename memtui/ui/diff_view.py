"""What the diff browser lists and how it fits the terminal, as pure functions (no Textual):
which rows (filters, the program's classes first, sub-groups), in which order, which
columns at which width, and the text of the class cell."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from memtui.heap.diff import ClassDiff
from memtui.heap.pipeline import ClassRow
from memtui.heap.scripts import SourceFiles
from memtui.ui.model import shorten_path
from memtui.units import format_bytes, format_change

TableRow = ClassDiff | ClassRow
ClassKey = tuple[str, str | None]

CELL_PADDING = 2
MIN_CLASS_WIDTH = 32
"""Room for a class name and where it is defined (`SessionRecord  leaky_app.js:9:14`)."""
MAX_CLASS_WIDTH = 120
NAMED_GROUPS = 2
MIN_LOCATION_WIDTH = 10
GROUP_INDENT = "    "
EXPANDED, COLLAPSED, LEAF = "▾ ", "▸ ", "  "
SORT_ARROWS = (" ▲", " ▼")
DROP_ORDER = ("freed_size", "alloc_size", "size_delta", "retained", "self_size")
"""The columns given up, in this order, when the table is too narrow for them: never the
class, the counts, nor the column the table is sorted by. Retained sizes stay longer than
Alloc. Size, Freed Size and Size Delta, which tell one story (Size Delta = Alloc. - Freed)."""


def _count(value: int) -> str:
    return f"{value:,}"


def _count_change(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _size(value: int | None) -> str:
    return "-" if value is None else format_bytes(value)


def _distance(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


@dataclass(frozen=True)
class Column:
    """A table column: its title, how to read a row's value, how to show it."""

    key: str
    title: str
    value: Callable[[Any], Any]
    show: Callable[[Any], str]
    needs_ids: bool = False


CLASS_COLUMN = Column("class", "Class", lambda row: row.label, str)
DIFF_COLUMNS = (
    CLASS_COLUMN,
    Column("new", "# New", lambda row: row.new, _count, needs_ids=True),
    Column("deleted", "# Deleted", lambda row: row.deleted, _count, needs_ids=True),
    Column("count_delta", "# Delta", lambda row: row.count_delta, _count_change),
    Column("alloc_size", "Alloc. Size", lambda row: row.alloc_size, format_bytes,
           needs_ids=True),
    Column("freed_size", "Freed Size", lambda row: row.freed_size, format_bytes,
           needs_ids=True),
    Column("retained", "Retained", lambda row: row.retained_after, _size),
    Column("size_delta", "Size Delta", lambda row: row.size_delta, format_change),
)
"""The Comparison view's columns, and the class's retained size in the after snapshot."""
SUMMARY_COLUMNS = (
    CLASS_COLUMN,
    Column("count", "Count", lambda row: row.count, _count),
    Column("self_size", "Self Size", lambda row: row.self_size, format_bytes),
    Column("retained", "Retained Size", lambda row: row.retained_size, format_bytes),
)
OBJECT_COLUMNS = (
    Column("object", "Object", lambda listed: listed.name, str),
    Column("distance", "Distance", lambda listed: listed.distance, _distance),
    Column("self_size", "Self Size", lambda listed: listed.size, format_bytes),
    Column("retained", "Retained Size", lambda listed: listed.retained, format_bytes),
)
OBJECTS_SORTED_BY = "retained"


def key_of(row: TableRow) -> ClassKey:
    return (row.label, row.location)


def is_internal(row: TableRow) -> bool:
    """V8's internal groups: the parenthesised labels, `(compiled code)`, `(string)`, …"""
    return row.label.startswith("(") and row.label.endswith(")")


def is_unchanged(row: TableRow) -> bool:
    """A compared class whose count and size did not change (a summary row never is)."""
    return isinstance(row, ClassDiff) and row.count_delta == 0 and row.size_delta == 0


def magnitude(row: TableRow) -> int:
    """How much a row weighs: the size change of a compared class, the size of a summary's."""
    return abs(row.size_delta) if isinstance(row, ClassDiff) else row.self_size


@dataclass(frozen=True)
class ViewOptions:
    """What the user chose to see. `program_first` hides V8's internal groups and lists
    the classes defined in the program's scripts first."""

    text: str = ""
    program_first: bool = True
    hide_unchanged: bool = True
    sort_key: str = "size_delta"
    reverse: bool = True
    expanded: frozenset[ClassKey] = frozenset()


@dataclass(frozen=True)
class ListedRow:
    """A line of the classes table: a class, or (with `parent`) one of its sub-groups."""

    row: TableRow
    parent: TableRow | None = None


@dataclass(frozen=True)
class ListedObject:
    """A line of the objects table: the node, how it is named, its self size, its distance
    from the GC roots (None when reached only through V8's system roots) and its retained
    size."""

    node: int
    name: str
    size: int
    distance: int | None
    retained: int


@dataclass(frozen=True)
class Listing:
    """The lines to show, and how many classes the internal and unchanged filters hid."""

    rows: list[ListedRow]
    hidden_internal: int = 0
    hidden_unchanged: int = 0


@dataclass
class ClassData:
    """A comparison's or a summary's rows, each class's sub-groups, and its script names."""

    rows: Sequence[TableRow]
    groups: Mapping[ClassKey, Sequence[TableRow]] = field(default_factory=dict)
    files: SourceFiles = field(default_factory=lambda: SourceFiles({}))

    def groups_of(self, row: TableRow) -> Sequence[TableRow]:
        return self.groups.get(key_of(row), ())

    def is_program(self, row: TableRow) -> bool:
        """Defined in the program's scripts: the class, or for a grouped label its heaviest
        sub-group (the `Function` row of leaking `LeakFunc` closures)."""
        if self.files.is_program(row.location):
            return True
        groups = self.groups_of(row)
        return bool(groups) and self.files.is_program(max(groups, key=magnitude).location)


def list_rows(data: ClassData, options: ViewOptions, columns: Sequence[Column]) -> Listing:
    """The classes to show under `options`, sorted, each expanded class followed by its
    sub-groups (sorted the same way). A text filter matches class labels and sub-group
    names; a class listed only for matching sub-groups shows just those."""
    wanted = options.text.strip().lower()
    sort_column = next((c for c in columns if c.key == options.sort_key), columns[-1])
    hidden_internal = hidden_unchanged = 0
    shown: list[tuple[TableRow, list[TableRow]]] = []
    for row in data.rows:
        groups = list(data.groups_of(row))
        if options.program_first and is_internal(row):
            hidden_internal += 1
            continue
        if options.hide_unchanged and is_unchanged(row):
            hidden_unchanged += 1
            continue
        if options.hide_unchanged:
            groups = [group for group in groups if not is_unchanged(group)]
        if wanted and wanted not in row.label.lower():
            groups = [group for group in groups if wanted in group.label.lower()]
            if not groups:
                continue
            shown.append((row, groups))
        elif key_of(row) in options.expanded:
            shown.append((row, groups))
        else:
            shown.append((row, []))

    def order(rows: list[TableRow]) -> list[TableRow]:
        rows = sorted(rows, key=lambda row: (row.label.lower(), row.location or ""))
        rows.sort(key=lambda row: _sort_value(sort_column.value(row)), reverse=options.reverse)
        return rows

    by_row = {id(row): groups for row, groups in shown}
    classes = order([row for row, _ in shown])
    if options.program_first:
        classes.sort(key=lambda row: not data.is_program(row))
    listed = []
    for row in classes:
        listed.append(ListedRow(row))
        listed.extend(ListedRow(group, parent=row) for group in order(by_row[id(row)]))
    return Listing(listed, hidden_internal, hidden_unchanged)


def _sort_value(value: Any) -> tuple[int, Any]:
    """Names case-insensitive, numbers as they are, missing values last."""
    if value is None:
        return (0, 0)
    return (1, value.lower()) if isinstance(value, str) else (1, value)


def sort_objects(objects: Sequence[ListedObject], key: str,
                 reverse: bool) -> list[ListedObject]:
    """The objects by the column `key` (stable: ties keep the given order)."""
    column = next(c for c in OBJECT_COLUMNS if c.key == key)
    return sorted(objects, key=lambda listed: _sort_value(column.value(listed)),
                  reverse=reverse)


@dataclass(frozen=True)
class ColumnFit:
    """The columns that fit, their content widths, and the ones given up for room."""

    columns: list[Column]
    widths: dict[str, int]
    dropped: list[Column]


def column_titles(columns: Sequence[Column], sort_key: str, reverse: bool) -> dict[str, str]:
    return {column.key: column.title + (SORT_ARROWS[reverse] if column.key == sort_key else "")
            for column in columns}


def fit_columns(columns: Sequence[Column], rows: Sequence[ListedRow], available: int,
                sort_key: str, reverse: bool) -> ColumnFit:
    """The columns for a table `available` cells wide: every number column as wide as its
    widest cell or title, the class column the rest (at least MIN_CLASS_WIDTH when columns
    can be given up for it, in DROP_ORDER)."""
    titles = column_titles(columns, sort_key, reverse)
    widths = {}
    for column in columns:
        if column.key == CLASS_COLUMN.key:
            continue
        cells = (len(column.show(column.value(listed.row))) for listed in rows)
        widths[column.key] = max(len(titles[column.key]), *cells, 1)
    kept = list(columns)
    dropped = []

    def class_room() -> int:
        return available - sum(widths[c.key] + CELL_PADDING for c in kept
                               if c.key != CLASS_COLUMN.key) - CELL_PADDING

    for key in DROP_ORDER:
        if class_room() >= MIN_CLASS_WIDTH:
            break
        given_up = next((c for c in kept if c.key == key), None)
        if given_up is not None and key != sort_key:
            kept.remove(given_up)
            dropped.append(given_up)
    widths[CLASS_COLUMN.key] = max(min(class_room(), MAX_CLASS_WIDTH), len(CLASS_COLUMN.title))
    return ColumnFit(kept, {c.key: widths[c.key] for c in kept}, dropped)


def class_cell(listed: ListedRow, data: ClassData, expanded: bool, width: int) -> Text:
    """The class column of a line: an expansion marker, the label, for a collapsed grouped
    class its largest sub-groups, and where the class (or the sub-group's function) is
    defined; shortened to `width` from the location's directories, then the label's end."""
    row = listed.row
    location = data.files.describe(row.location)
    if listed.parent is not None:
        prefix, label, named = GROUP_INDENT, row.label, ""
    else:
        groups = data.groups_of(row)
        prefix = (EXPANDED if expanded else COLLAPSED) if groups else LEAF
        label, named = row.label, "" if expanded else _named_groups(groups)
    text = Text(prefix + label)
    if named:
        text.append(named, style="italic")
    room = width - len(text) - 2
    if location and room >= MIN_LOCATION_WIDTH:
        text.append("  " + shorten_path(location, room), style="dim")
    text.truncate(width, overflow="ellipsis")
    return text


def _named_groups(groups: Sequence[TableRow]) -> str:
    """` · LeakFunc(), onData() …`: the heaviest sub-groups of a class."""
    if not groups:
        return ""
    heaviest = sorted(groups, key=magnitude, reverse=True)
    names = ", ".join(group.label for group in heaviest[:NAMED_GROUPS])
    return f" · {names}" + (" …" if len(groups) > NAMED_GROUPS else "")
