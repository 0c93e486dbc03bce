"""The diff browser of the `d` screen, on real snapshots of real Node programs."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import threading
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from textual.widgets import DataTable, Input, Label, Static

from memtui.demo import start_demo, stop_demo
from memtui.events import SnapshotSaved
from memtui.heap.capture_record import record_path
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.snapshot import load_snapshot
from memtui.monitor import Monitor
from memtui.ui.model import TargetState
from memtui.ui.screens.diff import AnalysisCancelled, DiffBrowser, SnapshotCache
from memtui.ui.screens.heap_statistics import HeapStatisticsScreen
from memtui.ui.screens.help import HelpScreen
from memtui.ui.screens.snapshots import SnapshotListScreen
from memtui.ui.widgets.tables import ClassesTable, RowTable
from memtui.units import format_bytes
from tests.leaks import capture_leak
from tests.nodeproc import SCRIPTS, node_binary, node_majors
from tests.ui.fake_monitor import MIB, T0
from tests.ui.helpers import wait_until

SMALL = (80, 24)
LARGE = (200, 50)
WIDTHS = (80, 100, 120, 140, 200)


def fixed_names(raw: list[SnapshotSaved], directory: Path, cwd: Path) -> list[SnapshotSaved]:
    """The snapshots under fixed names and times, their capture records naming `cwd` as the
    target's working directory, for screens that do not change from run to run."""
    saved = []
    for number, (snapshot, name) in enumerate(zip(raw, ("before", "after"), strict=True)):
        path = directory / f"{name}.heapsnapshot"
        shutil.move(snapshot.path, path)
        record = json.loads(record_path(snapshot.path).read_text())
        record_path(snapshot.path).unlink()
        record_path(path).write_text(json.dumps({**record, "cwd": str(cwd)}))
        saved.append(SnapshotSaved(path=path, size=(5 + number) * MIB,
                                   taken_at=T0 + 100 + 60 * number, duration_s=0.4))
    return saved


@pytest.fixture(scope="module")
def snapshot_pair(tmp_path_factory) -> list[SnapshotSaved]:
    """Two snapshots of diff_orders.js in one inspector session, 500 Orders apart, under fixed
    names, times and sizes for stable screens."""
    directory = tmp_path_factory.mktemp("diff")
    pair = capture_leak(node_binary(node_majors()[0]), "orders", directory)
    return fixed_names([pair.before, pair.after], directory, SCRIPTS)


def browser(app) -> DiffBrowser:
    return app.screen.query_one(DiffBrowser)


def class_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#diff-classes", DataTable)
    return [[str(cell).strip(" ▸▾") for cell in table.get_row_at(i)]
            for i in range(table.row_count)]


def labels(app) -> list[str]:
    return [listed.row.label for listed in browser(app).listed]


def row_of(app, label: str) -> int:
    return labels(app).index(label)


def column_titles(app, table_id: str = "#diff-classes") -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    return [str(column.label).rstrip(" ▲▼") for column in table.columns.values()]


def lines(app, table_id: str) -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def view_state(app) -> str:
    return str(app.screen.query_one("#diff-view-state", Label).content)


async def open_diff(pilot, fake, snapshots) -> None:
    fake.snapshots.extend(snapshots)
    await wait_until(pilot, lambda: pilot.app.monitor_screen.query("#status"))
    await pilot.press("d")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SnapshotListScreen))
    await wait_until(pilot, lambda: browser(pilot.app).listed, timeout=60,
                     what="classes listed")
    await wait_until(pilot, lambda: getattr(pilot.app.focused, "id", None) == "diff-classes",
                     what="the class table focused")


class TestComparison:
    """`d` compares the last two snapshots: the leaking class first, with DevTools' columns."""

    async def test_leaking_class_first_with_its_new_objects_and_retainers(self, make_app,
                                                                          snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            assert column_titles(app) == ["Class", "# New", "# Deleted", "# Delta",
                                          "Alloc. Size", "Freed Size", "Retained",
                                          "Size Delta"]
            top = class_rows(app)[0]
            assert top[:4] == ["Order  diff_orders.js:4:14", "500", "0", "+500"]
            after = HeapAnalysis(load_snapshot(snapshot_pair[1].path))
            (order,) = [r for r in after.class_rows() if r.label == "Order"]
            assert top[6] == format_bytes(order.retained_size)
            assert order.retained_size >= order.self_size
            assert app.screen.query_one("#diff-title", Label).content == (
                "Comparing the snapshot of 10:31:40 (before) → the snapshot of 10:32:40 (after)")

            await pilot.press("i", "o")
            assert browser(app).options.sort_key == "class"
            names = [label.lower() for label in labels(app)]
            assert len(names) > 5 and names == sorted(names)
            await pilot.press("r")
            assert [label.lower() for label in labels(app)] == sorted(names, reverse=True)

            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await pilot.press(*"orde")
            assert labels(app) == ["Order"]
            await pilot.press("enter")
            assert app.focused.id == "diff-classes"

            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "objects")
            objects = app.screen.query_one("#diff-objects", DataTable)
            assert objects.row_count == 500
            assert str(objects.get_row_at(0)[0]).startswith("Order @")
            title = str(app.screen.query_one("#diff-objects-title", Label).content)
            assert title.startswith("Order at diff_orders.js:4:14: 500 new objects")
            assert [str(c.label) for c in objects.ordered_columns] == [
                "Object", "Distance", "Self Size", "Retained Size ▼"]
            listed = browser(app).listed_objects
            retained = [o.retained for o in listed]
            assert retained == sorted(retained, reverse=True)
            assert all(o.retained >= o.size for o in listed)
            tree = after.retained_sizes
            assert all(tree[o.node] == o.retained for o in listed)
            assert str(objects.get_row_at(0)[3]) == format_bytes(retained[0])
            await pilot.press("r")
            assert [o.retained for o in browser(app).listed_objects] == sorted(retained)
            x = sum(column.get_render_width(objects) for column in objects.ordered_columns[:2])
            await pilot.click(objects, offset=(x + 2, 0))
            await wait_until(pilot, lambda: browser(app).objects_sort[0] == "self_size")
            sizes = [o.size for o in browser(app).listed_objects]
            assert sizes == sorted(sizes, reverse=True)
            await pilot.press("o")
            assert browser(app).objects_sort == ("retained", True)
            objects.move_cursor(row=0)

            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "retainers", timeout=30)
            chain = lines(app, "#diff-retainers")
            assert chain[0].startswith("Order @")
            assert chain[1].startswith("[") and " in Array @" in chain[1]
            assert chain[2].startswith("orders in system / Context @")
            assert chain[-1].endswith("in (root) @1")

            await pilot.press("escape")
            assert browser(app).level == "objects"
            await pilot.press("escape")
            assert browser(app).level == "classes"
            await pilot.press("escape")
            assert app.screen is app.monitor_screen

    async def test_clicking_a_header_sorts_by_it(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("i")  # all classes, in one order
            table = app.screen.query_one("#diff-classes", DataTable)
            x = sum(column.get_render_width(table) for column in table.ordered_columns[:2])
            await pilot.click(table, offset=(x + 2, 0))
            await wait_until(pilot, lambda: browser(app).options.sort_key == "deleted")
            deleted = [int(row[2].replace(",", "")) for row in class_rows(app)]
            assert deleted == sorted(deleted, reverse=True)
            assert str(table.ordered_columns[2].label) == "# Deleted ▼"

    async def test_retained_sizes_stay_longer_than_alloc_and_freed(self, make_app,
                                                                   snapshot_pair):
        """Retained is given up after Freed Size, Alloc. Size and Size Delta: at 90 and
        110 columns it shows, and the class keeps room for where it is defined. (The widest
        class label is the probe's own objects', `Object · {}, {space_name} …`.)"""
        app, fake = make_app()
        async with app.run_test(size=(110, 40)) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            assert column_titles(app) == ["Class", "# New", "# Deleted", "# Delta",
                                          "Alloc. Size", "Retained", "Size Delta"]
            assert class_rows(app)[0][0] == "Order  diff_orders.js:4:14"
            await pilot.resize_terminal(90, 40)
            await wait_until(pilot, lambda: "Alloc. Size" not in column_titles(app))
            assert column_titles(app) == ["Class", "# New", "# Deleted", "# Delta",
                                          "Retained", "Size Delta"]

    async def test_reopening_reuses_the_parsed_snapshots(self, make_app, snapshot_pair):
        loads = []

        def counting_load(path, **kwargs):
            loads.append(path)
            return load_snapshot(path, **kwargs)

        app, fake = make_app()
        app.snapshot_cache = SnapshotCache(load=counting_load)
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("escape")
            await pilot.press("d")
            await wait_until(pilot, lambda: browser(app).listed)
            assert labels(app)[0] == "Order"
        assert loads == [snapshot_pair[0].path, snapshot_pair[1].path]


class TestPicking:
    """`p` goes to the snapshot list; `b` and `a` pick its highlighted snapshot, and the focus
    stays there, where the keys act (issue 14.1)."""

    async def test_picking_the_pair_the_other_way_round_keeps_the_focus(self, make_app,
                                                                        snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            assert app.focused.id == "diff-classes"
            await pilot.press("p")
            picker = app.screen.query_one("#snapshot-table", DataTable)
            assert app.focused is picker
            await pilot.press("up")
            await pilot.press("a")
            assert app.screen.picked == [1, 0]
            assert [str(row.label) for row in picker.rows.values()] == ["after", "before"]
            await wait_until(pilot, lambda: browser(app).listed, timeout=60)
            assert app.focused is picker
            order = next(row for row in browser(app).listed if row.row.label == "Order").row
            assert (order.new, order.deleted, order.count_delta) == (0, 500, -500)

            await pilot.press("down")
            await pilot.press("a")
            assert app.screen.picked == [0, 1]
            await wait_until(pilot, lambda: browser(app).listed, timeout=60)
            assert app.focused is picker
            assert len(app.snapshot_cache.entries) == 2

    async def test_picking_the_snapshot_already_picked_says_so(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("p", "a")
            await pilot.press("up", "b")
            assert app.screen.picked == [0, 1]
            said = [str(n.message) for n in app._notifications]
            assert said == ["snapshot 2 is already the after one",
                            "snapshot 1 is already the before one"]


class TestColumns:
    """At every width from 80 columns up the sorted column, the class names and the counts
    are visible; what does not fit is given up in a stated order, never cut (issue 10.1)."""

    @pytest.mark.parametrize("width", WIDTHS)
    @pytest.mark.parametrize("sort", ["size_delta", "alloc_size"])
    async def test_the_sorted_column_and_the_classes_fit(self, make_app, snapshot_pair, width,
                                                         sort):
        app, fake = make_app()
        async with app.run_test(size=(width, 40)) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            while browser(app).options.sort_key != sort:
                await pilot.press("o")
            titles = column_titles(app)
            assert {"Class", "# New", "# Deleted", "# Delta"} <= set(titles)
            wanted = {"size_delta": "Size Delta", "alloc_size": "Alloc. Size"}[sort]
            assert wanted in titles
            table = app.screen.query_one("#diff-classes", DataTable)
            needed = sum(column.get_render_width(table) for column in table.columns.values())
            assert needed <= table.scrollable_content_region.width
            assert class_rows(app)[row_of(app, "Order")][0].startswith("Order")
            dropped = [c.title for c in browser(app).fit.dropped]
            if dropped:
                assert "no room for " + ", ".join(dropped) in view_state(app)
            assert dropped == [t for t in ("Freed Size", "Alloc. Size", "Size Delta",
                                           "Retained") if t not in titles]

    async def test_widening_the_terminal_brings_the_columns_back(self, make_app,
                                                                 snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            assert "Freed Size" not in column_titles(app)
            await pilot.resize_terminal(160, 40)
            await wait_until(pilot, lambda: "Freed Size" in column_titles(app))
            assert "no room" not in view_state(app)


class TestViewOptions:
    """The live view hides V8's internal groups and unchanged classes, says so, and `i` and
    `u` bring them back (issues 10.5 and 14.7)."""

    async def test_internal_groups_and_unchanged_classes_come_back_with_i_and_u(
            self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            shown = labels(app)
            assert not [label for label in shown if label.startswith("(")]
            assert not [row for row in browser(app).listed
                        if row.row.count_delta == 0 and row.row.size_delta == 0]
            state = view_state(app)
            assert state.startswith("Your classes first; hidden: ")
            assert "V8 internal (i)" in state and "unchanged (u)" in state

            await pilot.press("i")
            assert "(string)" in labels(app)
            assert view_state(app).startswith("All classes")
            await pilot.press("u")
            assert any(row.row.count_delta == 0 and row.row.size_delta == 0
                       for row in browser(app).listed)
            assert "hidden" not in view_state(app)
            await pilot.press("i", "u")
            assert labels(app) == shown


@pytest.fixture(scope="module")
def leaks(tmp_path_factory):
    """The five leak programs' snapshots, captured once when first asked for."""
    captured = {}

    def get(kind: str) -> list[SnapshotSaved]:
        if kind not in captured:
            directory = tmp_path_factory.mktemp(f"leak-{kind}")
            pair = capture_leak(node_binary(node_majors()[0]), kind, directory)
            captured[kind] = fixed_names([pair.before, pair.after], directory, SCRIPTS)
        return captured[kind]

    return get


class TestLeaks:
    """Tried as a user would on five kinds of leak: the leaking code is the first row."""

    @pytest.mark.parametrize(("kind", "label", "named"), [
        ("class", "LeakyRecord", "LeakyRecord  leak_class.js:5:14"),
        ("listener", "Function", "Function · LeakFunc()"),
        ("closure", "Function", "Function · someMethod(), unused()"),
        ("cache", "{sku}", "{sku}"),
        ("timers", "Function", "Function · pollJob()"),
    ])
    async def test_the_leak_is_the_first_row(self, make_app, leaks, kind, label, named):
        app, fake = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await open_diff(pilot, fake, leaks(kind))
            assert labels(app)[0] == label
            assert class_rows(app)[0][0].startswith(named)

    async def test_a_listener_leak_names_its_function_file_and_line(self, make_app, leaks):
        app, fake = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await open_diff(pilot, fake, leaks("listener"))
            assert labels(app)[0] == "Function"
            function = browser(app).listed[0].row
            await pilot.press("right")
            group = browser(app).listed[1]
            assert group.parent is function
            assert class_rows(app)[1][0] == "LeakFunc()  leak_listener.js:8:41"
            assert group.row.new == 500
            assert group.row.retained_after >= group.row.size_delta > 0
            groups = [line.row for line in browser(app).listed if line.parent is function]
            assert sum(g.new for g in groups) == function.new
            assert sum(g.size_delta for g in groups) == function.size_delta

            await pilot.press("down", "enter")
            await wait_until(pilot, lambda: browser(app).level == "objects")
            title = str(app.screen.query_one("#diff-objects-title", Label).content)
            assert title.startswith("LeakFunc() in Function at leak_listener.js:8:41: "
                                    "500 new objects")
            assert all(line.startswith("LeakFunc() @") for line in lines(app, "#diff-objects"))

            await pilot.press("escape", "left")
            assert browser(app).listed[1].parent is None
            assert app.screen.query_one("#diff-classes", DataTable).cursor_row == 0

            await pilot.press("slash", *"leakf", "enter")
            assert [(line.row.label, line.parent is not None) for line in browser(app).listed
                    ] == [("Function", False), ("LeakFunc()", True)]

    async def test_a_closure_leak_reads_from_the_object_to_the_root(self, make_app, leaks):
        app, fake = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await open_diff(pilot, fake, leaks("closure"))
            await pilot.press("slash", *"longStr", "enter", "enter")
            await wait_until(pilot, lambda: browser(app).level == "objects")
            assert column_titles(app, "#diff-objects") == ["Object", "Distance", "Self Size",
                                                           "Retained Size"]
            objects = browser(app).objects
            assert {o.size for o in objects} == {objects[0].size}
            assert objects[0].retained == max(o.retained for o in objects)
            assert objects[0].distance == min(o.distance for o in objects)
            while browser(app).objects_sort != ("distance", True):
                await pilot.press("o")
            farthest = browser(app).listed_objects[0]
            assert farthest.distance == max(o.distance for o in objects) > 2000
            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "retainers", timeout=30)
            chain = lines(app, "#diff-retainers")
            assert chain[0].startswith("{longStr, someMethod} @")
            assert chain[1].endswith(" times: originalThing in system / Context → {context} in "
                                     "someMethod() → someMethod in {longStr, someMethod}")
            assert chain[2].startswith("theThing in system / Context @")
            assert len(chain) < 20
            references = sum(len(line.references) for line in browser(app).chain)
            assert references > 2000
            table = app.screen.query_one("#diff-retainers", DataTable)
            await pilot.press("end")
            assert table.cursor_row == table.row_count - 1
            assert chain[-1].endswith("in (root) @1")
            await pilot.press("home")
            assert table.cursor_row == 0

            repeats = browser(app).chain[0].repeats
            await pilot.press("down", "enter")
            unfolded = lines(app, "#diff-retainers")
            assert len(unfolded) == len(chain) - 1 + 3 * repeats
            assert unfolded[1].startswith("originalThing in system / Context @")
            assert unfolded[2].startswith("{context} in someMethod() @")
            assert table.cursor_row == 1
            await pilot.press("end")
            assert table.cursor_row == table.row_count - 1


class TestDemo:
    """In the demo's diff, the leaking SessionRecord is the first row (issue 10.5), with its
    retained size and that of each new record (issue 13.3)."""

    async def test_session_records_lead_the_demo_diff(self, make_app, tmp_path, system_node):
        process = start_demo(system_node)
        try:
            monitor = Monitor(str(process.pid), interval=5, snapshot_dir=tmp_path)
            await monitor.start()
            first = await monitor.take_snapshot()
            await asyncio.sleep(2)  # the demo leaks ~20 SessionRecords a second
            second = await monitor.take_snapshot()
            await monitor.close()
        finally:
            stop_demo(process)
        app, fake = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await open_diff(pilot, fake, [first, second])
            assert labels(app)[0] == "SessionRecord"
            assert class_rows(app)[0][0].startswith("SessionRecord  ")
            assert "leaky_app.js:9:14" in class_rows(app)[0][0]
            assert view_state(app).startswith("Your classes first")

            await pilot.resize_terminal(120, 40)
            await wait_until(pilot, lambda: "Retained" in column_titles(app))
            record = browser(app).listed[0].row
            after = HeapAnalysis.of_file(second.path)
            (expected,) = [row for row in after.class_rows() if row.label == "SessionRecord"]
            assert record.retained_after == expected.retained_size >= record.size_delta > 0
            retained = class_rows(app)[0][column_titles(app).index("Retained")]
            assert retained == format_bytes(expected.retained_size)
            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "objects")
            objects = browser(app).listed_objects
            assert column_titles(app, "#diff-objects")[-1] == "Retained Size"
            assert [o.retained for o in objects] == sorted((o.retained for o in objects),
                                                           reverse=True)
            assert all(o.retained >= o.size for o in objects)


class TestNotComparable:
    """Snapshots of two inspector sessions show count and size deltas, and say so."""

    async def test_other_session(self, make_app, snapshot_pair, tmp_path):
        copies = []
        for saved, session in zip(snapshot_pair, ("one", "two"), strict=True):
            path = tmp_path / saved.path.name
            shutil.copy(saved.path, path)
            record_path(path).write_text(json.dumps({"pid": 4242, "session": session}))
            copies.append(SnapshotSaved(path, saved.size, saved.taken_at, saved.duration_s))
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, copies)
            assert "not comparable" in str(
                app.screen.query_one("#diff-message", Label).content)
            assert column_titles(app) == ["Class", "# Delta", "Retained", "Size Delta"]
            assert labels(app)[0] == "Order"
            assert class_rows(app)[0][1] == "+500"
            assert "enter" not in app.screen.query_one("#diff-filter", Input).placeholder
            await pilot.press("enter")
            assert browser(app).level == "classes"
            assert "cannot be told apart" in str(
                app.screen.query_one("#diff-message", Label).content)


class TestStatistics:
    """`t` shows DevTools' Statistics, duplicated strings and largest objects of the after
    snapshot, computed off the event loop."""

    async def test_statistics_of_the_after_snapshot(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, HeapStatisticsScreen)
                             and app.screen.query_one("#statistics-step", Label).content == ""
                             and rendered(app, "#statistics-largest"), timeout=30)
            after = HeapAnalysis(load_snapshot(snapshot_pair[1].path))
            stats = after.statistics
            categories = rendered(app, "#statistics-categories")
            for name, size in stats.rows():
                assert any(line.split("  ")[0].strip() == name and format_bytes(size) in line
                           for line in categories.splitlines()), name
            assert f"Total {format_bytes(stats.total)}" in " ".join(categories.split())
            largest = rendered(app, "#statistics-largest").splitlines()
            top = after.largest_objects(1)[0]
            assert largest[1].startswith(top.label)
            strings = rendered(app, "#statistics-strings")
            assert strings.startswith("Duplicated strings")
            await pilot.press("escape")
            assert isinstance(app.screen, SnapshotListScreen)
            await pilot.press("t")
            assert isinstance(app.screen, HeapStatisticsScreen)
            await pilot.press("t")
            assert isinstance(app.screen, SnapshotListScreen)
            await pilot.press("t", "q")
            await wait_until(pilot, lambda: not app.is_running, what="app exited")
        assert fake.closed


    async def test_help_lists_the_statistics_keys_and_fits_80x24(self, make_app,
                                                                 snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("t")
            screen = app.screen
            assert isinstance(screen, HeapStatisticsScreen)
            await pilot.press("question_mark")
            help_screen = app.screen
            assert isinstance(help_screen, HelpScreen)
            assert help_screen.page.title == "memtui keys: the statistics of a snapshot"
            listed = " ".join(key for key, _ in help_screen.page.keys).split()
            for binding in HeapStatisticsScreen.BINDINGS:
                for key in binding.key.split(","):
                    assert KEY_NAMES.get(key, key) in listed, binding
            await assert_fits(pilot, help_screen)
            await pilot.press("escape")
            assert app.screen is screen
            await pilot.press("escape")
            assert isinstance(app.screen, SnapshotListScreen)


def rendered(app, selector: str) -> str:
    """The text of a Static holding a Rich table, as a 200-column terminal shows it."""
    content = app.screen.query_one(selector, Static).content
    if not isinstance(content, Table):
        return ""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


class TestFewerThanTwo:
    """With one snapshot the view shows its class summary, asks for a second one, and its
    hints and keys are those of a summary (issue 14.9)."""

    async def test_one_snapshot_shows_its_summary_and_its_objects(self, make_app,
                                                                  snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair[1:])
            assert column_titles(app) == ["Class", "Count", "Self Size", "Retained Size"]
            assert "take two snapshots with `s` to compare them" in str(
                app.screen.query_one("#diff-message", Label).content)
            placeholder = app.screen.query_one("#diff-filter", Input).placeholder
            assert "enter lists a class's objects" in placeholder and "new" not in placeholder
            order = class_rows(app)[row_of(app, "Order")]
            assert order[:2] == ["Order  diff_orders.js:4:14", "1,000"]
            for action in ("focus_picker", "pick"):
                assert not app.screen.check_action(action, ())
            assert not browser(app).check_action("toggle_unchanged", ())

            app.screen.query_one("#diff-classes", DataTable).move_cursor(
                row=row_of(app, "Order"))
            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "objects")
            assert app.screen.query_one("#diff-objects", DataTable).row_count == 1000
            assert str(app.screen.query_one("#diff-objects-title", Label).content).startswith(
                "Order at diff_orders.js:4:14: 1,000 objects")
            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "retainers", timeout=30)
            assert lines(app, "#diff-retainers")[0].startswith("Order @")

            await pilot.press("question_mark")
            keys = dict(app.screen.page.keys)
            assert keys["enter"] == "a class's objects, then what keeps one alive"
            assert "u" not in keys and "p b a" not in keys

    async def test_none_asks_for_two(self, make_app):
        app, _ = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await wait_until(pilot, lambda: app.monitor_screen.query("#status"))
            await pilot.press("d")
            label = app.screen.query_one("#no-snapshots", Label)
            assert "take two snapshots with `s` to compare them" in str(label.content)


class TestKeys:
    """`q` quits from anywhere, `esc` goes back, `?` shows the keys of the screen the user is
    on and fits 80x24 (issue 10.6)."""

    async def test_q_quits_from_the_diff_browser(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "objects")
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running, what="app exited")
        assert fake.closed

    async def test_q_quits_from_the_help(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running, what="app exited")
        assert fake.closed

    async def test_help_lists_every_key_of_the_screen_and_fits_80x24(self, make_app,
                                                                     snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            screen = app.screen
            bindings = [binding for node in (screen, browser(app), ClassesTable, RowTable)
                        for binding in node.BINDINGS]
            await pilot.press("question_mark")
            help_screen = app.screen
            assert isinstance(help_screen, HelpScreen)
            assert help_screen.page.title == "memtui keys: snapshots and their diff"
            listed = " ".join(key for key, _ in help_screen.page.keys).split()
            for binding in bindings:
                for key in binding.key.split(","):
                    assert KEY_NAMES.get(key, key) in listed, binding
            await assert_fits(pilot, help_screen)
            await pilot.press("escape")
            assert app.screen is screen

    async def test_monitor_help_fits_80x24(self, make_app):
        app, _ = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert app.screen.page.title == "memtui keys: the monitor"
            await assert_fits(pilot, app.screen)


KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "right": "→", "left": "←",
             "home": "Home", "end": "End"}


async def assert_fits(pilot, help_screen: HelpScreen) -> None:
    """The help's box lies inside the terminal and shows all of its lines without scrolling."""
    await pilot.pause()
    box = help_screen.query_one(".help")
    assert box.max_scroll_y == 0
    region = box.region
    assert region.y >= 0 and region.bottom <= pilot.app.size.height
    assert region.x >= 0 and region.right <= pilot.app.size.width


class TestOffTheEventLoop:
    """The monitor keeps taking samples while the analysis runs in its thread."""

    async def test_samples_arrive_while_parsing(self, make_app, snapshot_pair):
        release = threading.Event()
        started = threading.Event()

        def held_load(path, **kwargs):
            started.set()
            if not release.wait(30):
                raise AssertionError("parse never released")
            return load_snapshot(path, **kwargs)

        app, fake = make_app(preload=10)
        app.snapshot_cache = SnapshotCache(load=held_load)
        async with app.run_test(size=LARGE) as pilot:
            fake.snapshots.extend(snapshot_pair)
            await wait_until(pilot, lambda: app.monitor_screen.query("#status"))
            await pilot.press("d")
            await wait_until(pilot, started.is_set, what="parse started")
            assert browser(app).has_class("loading")
            assert "before.heapsnapshot" in str(
                app.screen.query_one("#diff-step", Label).content)
            before = len(fake.history)
            fake.feed_samples(5)
            await wait_until(pilot, lambda: len(fake.history) == before + 5
                             and app.monitor_screen.target_state is TargetState.LIVE,
                             what="samples taken during the parse")
            assert not browser(app).listed
            release.set()
            await wait_until(pilot, lambda: browser(app).listed, timeout=60)
            assert not browser(app).has_class("loading")
            assert labels(app)[0] == "Order"

    async def test_leaving_cancels_the_parse(self, make_app, snapshot_pair):
        release = threading.Event()
        finished = threading.Event()
        outcomes = []

        def held_load(path, **kwargs):
            release.wait(30)
            try:
                snapshot = load_snapshot(path, **kwargs)
            except AnalysisCancelled:
                outcomes.append("cancelled")
                raise
            finally:
                finished.set()
            outcomes.append("loaded")
            return snapshot

        app, fake = make_app(preload=10)
        app.snapshot_cache = SnapshotCache(load=held_load)
        async with app.run_test(size=LARGE) as pilot:
            fake.snapshots.extend(snapshot_pair)
            await wait_until(pilot, lambda: app.monitor_screen.query("#status"))
            await pilot.press("d")
            await wait_until(pilot, lambda: browser(app).has_class("loading"))
            await pilot.press("escape")
            assert app.screen is app.monitor_screen
            release.set()
            await wait_until(pilot, finished.is_set, what="parse thread done")
        assert outcomes == ["cancelled"]
        assert app.snapshot_cache.entries == {}


class TestDiffScreen:
    """The `d` screen at 80x24: the picked pair, the filter, DevTools' columns that fit."""

    def test_filtered_to_the_leaking_class(self, snap_compare, make_app, snapshot_pair,
                                           monkeypatch):
        monkeypatch.chdir(snapshot_pair[0].path.parent)
        app, fake = make_app()
        fake.snapshots.extend(SnapshotSaved(Path(s.path.name), s.size, s.taken_at, s.duration_s)
                              for s in snapshot_pair)

        async def open_filtered(pilot) -> None:
            await wait_until(pilot, lambda: app.monitor_screen.query("#status"))
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, SnapshotListScreen)
                             and browser(app).listed, timeout=60)
            await pilot.press("i", "u")  # every class, so the screen is the same every run
            await pilot.press("slash", *"Order", "enter")
            await pilot.pause()

        assert snap_compare(app, terminal_size=SMALL, run_before=open_filtered)
