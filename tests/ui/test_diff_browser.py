"""The diff browser of the `d` screen, on real snapshots of a real Node program."""

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

from memtui.events import SnapshotSaved
from memtui.heap.capture import sidecar_path
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.snapshot import load_snapshot
from memtui.monitor import Monitor
from memtui.ui.screens.diff import AnalysisCancelled, DiffBrowser, SnapshotCache
from memtui.ui.screens.heap_statistics import HeapStatisticsScreen
from memtui.ui.screens.snapshots import SnapshotListScreen
from memtui.units import format_bytes
from tests.nodeproc import node_binary, node_majors, start_node
from tests.ui.fake_monitor import MIB, T0
from tests.ui.helpers import wait_until

SMALL = (80, 24)
LARGE = (200, 50)


async def capture_pair(directory) -> list:
    """Two snapshots of diff_orders.js in one inspector session, 500 Orders apart."""
    target = start_node(node_binary(node_majors()[0]), "diff_orders.js",
                        "--inspect=127.0.0.1:0")
    monitor = Monitor(str(target.pid), interval=5, snapshot_dir=directory)
    try:
        await monitor.start()
        first = await monitor.take_snapshot(path=directory / "raw-before.heapsnapshot")
        target.send("more\n")
        target.wait_for_line("grown 1000")
        second = await monitor.take_snapshot(path=directory / "raw-after.heapsnapshot")
        await monitor.close()
    finally:
        target.kill()
    return [first, second]


@pytest.fixture(scope="module")
def snapshot_pair(tmp_path_factory) -> list[SnapshotSaved]:
    """Real snapshots under fixed names, with fixed times and sizes for stable screens."""
    directory = tmp_path_factory.mktemp("diff")
    raw = asyncio.run(capture_pair(directory))
    saved = []
    for number, (snapshot, name) in enumerate(zip(raw, ("before", "after"), strict=True)):
        path = directory / f"{name}.heapsnapshot"
        shutil.move(snapshot.path, path)
        shutil.move(sidecar_path(snapshot.path), sidecar_path(path))
        saved.append(SnapshotSaved(path=path, size=(5 + number) * MIB,
                                   taken_at=T0 + 100 + 60 * number, duration_s=0.4))
    return saved


def browser(app) -> DiffBrowser:
    return app.screen.query_one(DiffBrowser)


def class_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#diff-classes", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def column_titles(app, table_id: str = "#diff-classes") -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    return [str(column.label).rstrip(" ▲▼") for column in table.columns.values()]


async def open_diff(pilot, fake, snapshots) -> None:
    fake.snapshots.extend(snapshots)
    await wait_until(pilot, lambda: pilot.app.monitor_screen.query("#status"))
    await pilot.press("d")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SnapshotListScreen))
    await wait_until(pilot, lambda: browser(pilot.app).listed, timeout=60,
                     what="classes listed")


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
            assert top[:4] == ["Order", "500", "0", "+500"]
            after = HeapAnalysis(load_snapshot(snapshot_pair[1].path))
            (order,) = [r for r in after.class_rows() if r.label == "Order"]
            assert top[6] == format_bytes(order.retained_size)
            assert order.retained_size >= order.self_size
            assert app.screen.query_one("#diff-title", Label).content == (
                "Comparing the snapshot of 10:31:40 (before) → the snapshot of 10:32:40 (after)")

            await pilot.press("o")
            assert browser(app).sort_key == "class"
            labels = [row[0].lower() for row in class_rows(app)]
            assert labels == sorted(labels)
            await pilot.press("r")
            assert [row[0].lower() for row in class_rows(app)] == sorted(labels, reverse=True)

            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await pilot.press(*"orde")
            assert {row[0] for row in class_rows(app)} >= {"Order"}
            assert all("orde" in row[0].lower() for row in class_rows(app))
            await pilot.press("enter")
            assert app.focused.id == "diff-classes"
            table = app.screen.query_one("#diff-classes", DataTable)
            table.move_cursor(row=[row[0] for row in class_rows(app)].index("Order"))

            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "diff-objects-view")
            objects = app.screen.query_one("#diff-objects", DataTable)
            assert objects.row_count == 500
            assert str(objects.get_row_at(0)[0]).startswith("Order @")
            assert "500 new objects" in str(
                app.screen.query_one("#diff-objects-title", Label).content)
            assert [str(c.label) for c in objects.ordered_columns] == [
                "Object", "Self Size", "Retained Size ▼"]
            listed = browser(app).listed_objects
            retained = [o.retained_size for o in listed]
            assert retained == sorted(retained, reverse=True)
            assert all(o.retained_size >= o.self_size for o in listed)
            tree = after.retained_sizes
            assert all(tree[o.node] == o.retained_size for o in listed)
            assert str(objects.get_row_at(0)[2]) == format_bytes(retained[0])
            await pilot.press("r")
            assert [o.retained_size for o in browser(app).listed_objects] == sorted(retained)
            x = objects.ordered_columns[0].get_render_width(objects)
            await pilot.click(objects, offset=(x + 2, 0))
            await wait_until(pilot, lambda: browser(app).objects_sort_key == "self_size")
            selfs = [o.self_size for o in browser(app).listed_objects]
            assert selfs == sorted(selfs, reverse=True)
            await pilot.press("o")
            assert browser(app).objects_sort_key == "retained"
            objects.move_cursor(row=0)

            await pilot.press("enter")
            await wait_until(pilot, lambda: browser(app).level == "diff-retainers-view",
                             timeout=30)
            chain = app.screen.query_one("#diff-retainers", DataTable)
            edges = [str(chain.get_row_at(i)[1]) for i in range(chain.row_count)]
            assert "orders" in edges
            assert str(chain.get_row_at(chain.row_count - 1)[0]).startswith("Order @")
            assert str(chain.get_row_at(0)[0]).startswith("(")

            await pilot.press("escape")
            assert browser(app).level == "diff-objects-view"
            await pilot.press("escape")
            assert browser(app).level == "diff-classes-view"
            await pilot.press("escape")
            assert app.screen is app.monitor_screen

    async def test_clicking_a_header_sorts_by_it(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            table = app.screen.query_one("#diff-classes", DataTable)
            x = sum(column.get_render_width(table) for column in table.ordered_columns[:2])
            await pilot.click(table, offset=(x + 2, 0))
            await wait_until(pilot, lambda: browser(app).sort_key == "deleted")
            deleted = [int(row[2].replace(",", "")) for row in class_rows(app)]
            assert deleted == sorted(deleted, reverse=True)
            assert str(table.ordered_columns[2].label) == "# Deleted ▼"

    async def test_small_terminal_hides_the_size_columns(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            assert column_titles(app) == ["Class", "# New", "# Deleted", "# Delta",
                                          "Retained", "Size Delta"]
            assert class_rows(app)[0][0] == "Order"

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
            assert class_rows(app)[0][0] == "Order"
        assert loads == [snapshot_pair[0].path, snapshot_pair[1].path]

    async def test_picking_the_pair_the_other_way_round(self, make_app, snapshot_pair):
        """`b` and `a` pick the highlighted snapshot; picking the other one's swaps them."""
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("p")
            picker = app.screen.query_one("#snapshot-table", DataTable)
            assert app.focused is picker
            picker.move_cursor(row=0)
            await pilot.press("a")
            assert app.screen.picked == [1, 0]
            assert [str(row.label) for row in picker.rows.values()] == ["after", "before"]
            await wait_until(pilot, lambda: browser(app).listed, timeout=60)
            order = next(row for row in class_rows(app) if row[0] == "Order")
            assert order[1:4] == ["0", "500", "-500"]
            assert len(app.snapshot_cache.entries) == 2


class TestNotComparable:
    """Snapshots of two inspector sessions show count and size deltas, and say so."""

    async def test_other_session(self, make_app, snapshot_pair, tmp_path):
        copies = []
        for saved, session in zip(snapshot_pair, ("one", "two"), strict=True):
            path = tmp_path / saved.path.name
            shutil.copy(saved.path, path)
            sidecar_path(path).write_text(json.dumps({"pid": 4242, "session": session}))
            copies.append(SnapshotSaved(path, saved.size, saved.taken_at, saved.duration_s))
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, copies)
            assert "not comparable" in str(
                app.screen.query_one("#diff-message", Label).content)
            assert column_titles(app) == ["Class", "# Delta", "Retained", "Size Delta"]
            assert class_rows(app)[0][:2] == ["Order", "+500"]
            await pilot.press("enter")
            assert browser(app).level == "diff-classes-view"
            assert "cannot be told apart" in str(
                app.screen.query_one("#diff-message", Label).content)


class TestStatistics:
    """`i` shows DevTools' Statistics, duplicated strings and largest objects of the after
    snapshot, computed off the event loop."""

    async def test_statistics_of_the_after_snapshot(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair)
            await pilot.press("i")
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


def rendered(app, selector: str) -> str:
    """The text of a Static holding a Rich table, as a 200-column terminal shows it."""
    content = app.screen.query_one(selector, Static).content
    if not isinstance(content, Table):
        return ""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


class TestFewerThanTwo:
    """With one snapshot the view shows its class summary and asks for a second one."""

    async def test_one_snapshot_shows_its_summary(self, make_app, snapshot_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_diff(pilot, fake, snapshot_pair[1:])
            assert column_titles(app) == ["Class", "Count", "Self Size", "Retained Size"]
            assert "take two snapshots with `s` to compare them" in str(
                app.screen.query_one("#diff-message", Label).content)
            assert any(row[0] == "Order" and row[1] == "1,000" for row in class_rows(app))

    async def test_none_asks_for_two(self, make_app):
        app, _ = make_app()
        async with app.run_test(size=SMALL) as pilot:
            await wait_until(pilot, lambda: app.monitor_screen.query("#status"))
            await pilot.press("d")
            label = app.screen.query_one("#no-snapshots", Label)
            assert "take two snapshots with `s` to compare them" in str(label.content)


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
                             and app.monitor_screen.target_state == "live",
                             what="samples taken during the parse")
            assert not browser(app).listed
            release.set()
            await wait_until(pilot, lambda: browser(app).listed, timeout=60)
            assert not browser(app).has_class("loading")
            assert class_rows(app)[0][0] == "Order"


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
            await pilot.press("slash", *"Order", "enter")
            await pilot.pause()

        assert snap_compare(app, terminal_size=SMALL, run_before=open_filtered)

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
