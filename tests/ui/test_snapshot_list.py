"""The `d` screen's list of snapshots: both sizes, named, and paths that keep their end."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from textual.widgets import DataTable

from memtui.events import SnapshotSaved
from memtui.heap.report import compare_files, diff_json, human_bytes
from memtui.heap.snapshot import load_snapshot
from memtui.ui.screens.diff import SnapshotCache
from memtui.ui.screens.snapshots import SnapshotListScreen
from memtui.units import format_bytes
from tests.nodeproc import node_binary, node_majors
from tests.ui.fake_monitor import T0
from tests.ui.helpers import wait_until

SMALL = (80, 24)
LARGE = (200, 50)
DEEP = ("var", "lib", "memtui", "production", "api-gateway", "heap-snapshots")
NAMES = ("memtui-4242-20261201T185812.heapsnapshot", "memtui-4242-20261201T185813.heapsnapshot")


@pytest.fixture(scope="module")
def saved_pair(tmp_path_factory) -> list[SnapshotSaved]:
    """Two real snapshots of one Node process, deep in a directory tree."""
    directory = tmp_path_factory.mktemp("list").joinpath(*DEEP)
    directory.mkdir(parents=True)
    paths = [directory / name for name in NAMES]
    script = ("const v8 = require('v8'); const kept = [];"
              f" v8.writeHeapSnapshot({str(paths[0])!r});"
              " for (let i = 0; i < 20000; i++) kept.push({ i });"
              f" v8.writeHeapSnapshot({str(paths[1])!r});")
    subprocess.run([node_binary(node_majors()[0]), "-e", script], check=True, timeout=60)
    return [SnapshotSaved(path, path.stat().st_size, T0 + 100 + number, 0.4)
            for number, path in enumerate(paths)]


def cells(app) -> list[list[str]]:
    table = app.screen.query_one("#snapshot-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


async def open_list(pilot, fake, snapshots) -> None:
    fake.snapshots.extend(snapshots)
    await wait_until(pilot, lambda: pilot.app.monitor_screen.query("#status"))
    await pilot.press("d")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SnapshotListScreen))


class TestSizes:
    """The file size and the heap size (as `memtui diff` counts it), each under its name."""

    async def test_both_sizes_named_the_heap_size_once_analysed(self, make_app, saved_pair):
        release = threading.Event()

        def held_load(path, **kwargs):
            if not release.wait(30):
                raise AssertionError("parse never released")
            return load_snapshot(path, **kwargs)

        app, fake = make_app()
        app.snapshot_cache = SnapshotCache(load=held_load)
        async with app.run_test(size=LARGE) as pilot:
            await open_list(pilot, fake, saved_pair)
            table = app.screen.query_one("#snapshot-table", DataTable)
            assert [str(c.label) for c in table.ordered_columns] == [
                "#", "taken", "heap size", "file size", "took", "path"]
            assert [row[2:4] for row in cells(app)] == [
                ["—", format_bytes(s.size)] for s in saved_pair], "not analysed yet"
            release.set()
            await wait_until(pilot, lambda: "—" not in cells(app)[0], timeout=60,
                             what="heap sizes shown")
            document = diff_json(*(s.path for s in saved_pair),
                                 compare_files(*(s.path for s in saved_pair)))
            for row, snapshot, facts in zip(cells(app), saved_pair,
                                            (document["before"], document["after"]),
                                            strict=True):
                assert row[2:4] == [human_bytes(facts["self_size"]), format_bytes(snapshot.size)]

            await pilot.press("escape", "d")
            await wait_until(pilot, lambda: isinstance(app.screen, SnapshotListScreen))
            assert "—" not in cells(app)[0], "the heap sizes are kept for the session"

class TestPaths:
    """A path too long for its column loses its middle or its start, never its end (the
    capture time that tells snapshots apart)."""

    @pytest.mark.parametrize(("size", "shown"), [
        (SMALL, lambda name: "…" + name[-28:]),
        ((100, 30), lambda name: "/tmp/…/" + name),
    ])
    async def test_the_end_of_each_path_shows(self, make_app, saved_pair, size, shown):
        app, fake = make_app()
        async with app.run_test(size=size) as pilot:
            await open_list(pilot, fake, saved_pair)
            await pilot.pause()
            table = app.screen.query_one("#snapshot-table", DataTable)
            assert table.virtual_size.width <= table.size.width, "nothing cut at the right"
            assert [row[-1] for row in cells(app)] == [shown(name) for name in NAMES]

    async def test_wide_terminals_show_the_whole_path(self, make_app, saved_pair):
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_list(pilot, fake, saved_pair)
            assert [row[-1] for row in cells(app)] == [str(s.path) for s in saved_pair]

    async def test_below_the_current_directory_paths_are_relative(self, make_app, saved_pair,
                                                                   monkeypatch):
        monkeypatch.chdir(saved_pair[0].path.parents[len(DEEP)])
        app, fake = make_app()
        async with app.run_test(size=LARGE) as pilot:
            await open_list(pilot, fake, saved_pair)
            assert [row[-1] for row in cells(app)] == [str(Path(*DEEP, name)) for name in NAMES]
