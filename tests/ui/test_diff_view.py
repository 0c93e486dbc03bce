"""What the diff browser lists and how it fits, on hand-made rows (its own logic, no Node)."""

from memtui.heap.diff import ClassDiff
from memtui.heap.scripts import SourceFiles
from memtui.ui.diff_view import (
    DIFF_COLUMNS,
    MIN_CLASS_WIDTH,
    ClassData,
    ListedRow,
    ViewOptions,
    class_cell,
    fit_columns,
    list_rows,
)

FILES = SourceFiles({7: "/srv/app/lib/session.js", 3: "node:internal/timers"}, cwd="/srv/app")


def row(label: str, new: int, deleted: int = 0, size: int = 64, location: str | None = None,
        ) -> ClassDiff:
    return ClassDiff(label=label, location=location, count_before=10, count_after=10 + new
                     - deleted, size_before=640, size_after=640 + (new - deleted) * size,
                     new=new, deleted=deleted, alloc_size=new * size, freed_size=deleted * size)


ROWS = [row("(string)", 900, size=32), row("{page}", 400), row("Session", 40, location="7:8:13"),
        row("Timeout", 2, location="3:170:13"), row("Function", 300),
        row("Node / Realm", 2, 2), row("Array", 5, 5, size=8)]
GROUPS = {("Function", None): [row("LeakFunc()", 290, location="7:2:4"), row("get()", 10)]}
DATA = ClassData(ROWS, GROUPS, FILES)


def labels(options: ViewOptions) -> list[str]:
    return [listed.row.label for listed in list_rows(DATA, options, DIFF_COLUMNS).rows]


def test_the_programs_classes_first_internals_and_unchanged_hidden():
    listing = list_rows(DATA, ViewOptions(), DIFF_COLUMNS)
    assert [line.row.label for line in listing.rows] == ["Function", "Session", "{page}",
                                                         "Timeout"]
    assert (listing.hidden_internal, listing.hidden_unchanged) == (1, 2)


def test_everything_in_devtools_order_when_asked():
    assert labels(ViewOptions(program_first=False, hide_unchanged=False)) == [
        "(string)", "{page}", "Function", "Session", "Timeout", "Array", "Node / Realm"]


def test_expanded_sub_groups_follow_their_class_and_a_name_filter_finds_them():
    expanded = list_rows(DATA, ViewOptions(expanded=frozenset({("Function", None)})),
                         DIFF_COLUMNS).rows
    assert [(line.row.label, line.parent is not None) for line in expanded[:3]] == [
        ("Function", False), ("LeakFunc()", True), ("get()", True)]
    found = list_rows(DATA, ViewOptions(text="leakf"), DIFF_COLUMNS).rows
    assert [line.row.label for line in found] == ["Function", "LeakFunc()"]


def test_columns_given_up_in_order_never_the_sorted_one():
    rows = list_rows(DATA, ViewOptions(), DIFF_COLUMNS).rows
    wide = fit_columns(DIFF_COLUMNS, rows, 200, "size_delta", True)
    assert (len(wide.columns), wide.dropped) == (8, [])
    narrow = fit_columns(DIFF_COLUMNS, rows, 78, "size_delta", True)
    assert [c.title for c in narrow.dropped] == ["Freed Size", "Alloc. Size", "Retained"]
    assert narrow.widths["class"] >= MIN_CLASS_WIDTH
    by_alloc = fit_columns(DIFF_COLUMNS, rows, 78, "alloc_size", False)
    assert [c.title for c in by_alloc.dropped] == ["Freed Size", "Size Delta", "Retained"]
    used = sum(width + 2 for width in narrow.widths.values())
    assert used <= 78
    wider = fit_columns(DIFF_COLUMNS, rows, 90, "size_delta", True)
    assert [c.title for c in wider.dropped] == ["Freed Size", "Alloc. Size"]
    by_retained = fit_columns(DIFF_COLUMNS, rows, 66, "retained", True)
    assert [c.title for c in by_retained.dropped] == ["Freed Size", "Alloc. Size",
                                                      "Size Delta"]


def test_the_class_cell_names_sub_groups_and_shortens_the_location():
    function, session = ListedRow(ROWS[4]), ListedRow(ROWS[2])
    assert class_cell(function, DATA, False, 40).plain == "▸ Function · LeakFunc(), get()"
    assert class_cell(function, DATA, True, 40).plain == "▾ Function"
    assert class_cell(session, DATA, False, 40).plain == "  Session  lib/session.js:9:14"
    assert class_cell(session, DATA, False, 22).plain == "  Session  …on.js:9:14"
    assert class_cell(session, DATA, False, 17).plain == "  Session"
    group = ListedRow(GROUPS[("Function", None)][0], parent=ROWS[4])
    assert class_cell(group, DATA, False, 40).plain == "    LeakFunc()  lib/session.js:3:5"
