"""The overview of several processes, driven by Pilot against FakeMonitors (issue 11.3)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from textual.widgets import DataTable

from memtui.errors import UsageError
from memtui.events import InspectorState, TargetExited
from memtui.target_exit import ExitReason
from memtui.ui import MemtuiApp, Watchlist
from memtui.ui.model import TargetState
from memtui.ui.screens.monitor import MonitorScreen
from memtui.ui.screens.overview import OverviewScreen, short_command
from memtui.ui.widgets.status import StatusLine
from tests.ui.conftest import frozen_clock
from tests.ui.fake_monitor import INFO, T0, FakeMonitor
from tests.ui.helpers import wait_until
from tests.ui.test_status import log_text

SMALL = (80, 24)
PRELOADS = {"101": 10, "102": 300, "103": 0}
"""Samples each fake process starts with: the more, the larger its RSS."""


class Fleet:
    """FakeMonitors by target, made on demand as the overview finds their targets."""

    def __init__(self, targets: list[str], grows: bool = False):
        self.targets = targets
        self.grows = grows
        self.monitors: dict[str, FakeMonitor] = {}
        self.refused: dict[str, str] = {}
        self.held: set[str] = set()
        """Targets whose attach waits until the test sets their monitor's start_release."""

    def new_monitor(self, target: str) -> FakeMonitor:
        info = replace(INFO, pid=int(target), command=f"node /srv/app{target}/server.js",
                       inspector=InspectorState.ALREADY_OPEN if target == "103"
                       else InspectorState.OPENED_BY_MEMTUI)
        monitor = FakeMonitor(preload=PRELOADS.get(target, 5), info=info)
        if target in self.refused:
            monitor.start_error = UsageError(self.refused[target])
        if target in self.held:
            monitor.start_release = asyncio.Event()
        self.monitors[target] = monitor
        return monitor

    def watchlist(self) -> Watchlist:
        return Watchlist(find=lambda: list(self.targets), new_monitor=self.new_monitor,
                         title="the processes given", grows=self.grows)

    def feed_all(self) -> None:
        for monitor in self.monitors.values():
            if monitor.start_error is None:
                monitor.feed_samples(1)


@pytest.fixture
def fleet(utc) -> Fleet:
    fleet = Fleet(["101", "102", "103"])
    fleet.refused["103"] = ("pid 103 does not catch SIGUSR1: the signal would kill it "
                            "(start it with --inspect)")
    return fleet


def overview(app: MemtuiApp) -> OverviewScreen:
    assert app.overview is not None
    return app.overview


def table_rows(app: MemtuiApp) -> list[list[str]]:
    table = overview(app).query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def pids(app: MemtuiApp) -> list[str]:
    return [row[0] for row in table_rows(app)]


def note(app: MemtuiApp) -> str:
    return overview(app).query_one(StatusLine).message


async def settled(pilot, fleet: Fleet, live: int) -> None:
    """Wait until `live` rows are live (each fake fed a sample) and the table shows them."""
    await wait_until(pilot, lambda: len(fleet.monitors) == len(fleet.targets))
    fleet.feed_all()
    app = pilot.app
    await wait_until(pilot, lambda: sum(t.state is TargetState.LIVE for t in app.listed) == live,
                     what=f"{live} live rows")
    overview(app).fill()
    await pilot.pause()


class TestRows:
    async def test_one_row_per_process_and_one_saying_why_it_cannot_be_attached(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=(120, 24)) as pilot:
            await settled(pilot, fleet, live=2)
            rows = {row[0]: row for row in table_rows(app)}
            assert set(rows) == {"101", "102", "103"}
            assert rows["102"][1:4] == ["live", "128.8 MiB", "45.9 MiB   1%"]
            assert rows["102"][6:] == ["by memtui", "server.js"]
            assert rows["103"][1] == "refused"
            assert rows["103"][-1].startswith("pid 103 does not catch SIGUSR1")

    async def test_the_detail_line_says_in_full_why_a_process_is_refused(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            await pilot.press("end")
            detail = str(overview(app).query_one("#overview-detail").render())
            assert detail.startswith("pid 103: cannot attach: pid 103 does not catch SIGUSR1")

    async def test_attaching_many_does_not_hold_up_the_others(self, fleet):
        """Each process attaches in a worker of its own: one slow attach leaves the view
        running and the other rows filling in."""
        fleet.refused.clear()
        fleet.held.add("102")
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await wait_until(pilot, lambda: len(fleet.monitors) == 3)
            fleet.feed_all()
            await wait_until(pilot, lambda: [t.state for t in app.listed].count(
                TargetState.LIVE) == 2)
            slow = next(t for t in app.listed if t.name == "pid 102")
            assert slow.state is TargetState.ATTACHING
            await pilot.press("o")
            assert app.is_running
            fleet.monitors["102"].start_release.set()
            fleet.monitors["102"].feed_samples(1)
            await wait_until(pilot, lambda: slow.state is TargetState.LIVE)


class TestSorting:
    async def test_o_picks_the_sort_column_and_r_reverses_it(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            assert pids(app) == ["102", "101", "103"]
            assert "sorted by RSS, largest first" in str(
                overview(app).query_one("#overview-title").render())
            await pilot.press("r")
            assert pids(app) == ["101", "102", "103"]
            for _ in range(4):
                await pilot.press("o")
            assert overview(app).sort_column.title == "pid"
            assert pids(app) == ["101", "102", "103"]
            await pilot.press("r")
            assert pids(app) == ["103", "102", "101"]

    async def test_the_cursor_stays_on_its_process_when_the_order_changes(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            await pilot.press("home", "down")
            assert overview(app).highlighted.name == "pid 101"
            await pilot.press("r")
            assert overview(app).highlighted.name == "pid 101"


class TestOpening:
    async def test_enter_opens_that_process_and_esc_returns(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            await pilot.press("home", "down", "enter")
            assert isinstance(app.screen, MonitorScreen)
            assert app.screen.monitor is fleet.monitors["101"]
            assert "pid 101" in str(app.screen.query_one("#header").render())
            await pilot.press("escape")
            assert isinstance(app.screen, OverviewScreen)

    async def test_markers_and_snapshots_belong_to_their_process(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            await pilot.press("home", "enter", "s")
            await wait_until(pilot, lambda: fleet.monitors["102"].snapshots)
            assert [m.label for m in app.screen.markers] == ["snapshot 1"]
            await pilot.press("escape", "home", "down", "enter")
            assert app.screen.monitor is fleet.monitors["101"]
            assert app.screen.markers == [] and fleet.monitors["101"].snapshots == []
            await pilot.press("d")
            assert app.screen.query("#no-snapshots")

    async def test_a_refused_process_opens_saying_why(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            await pilot.press("end", "enter")
            assert app.screen.query_one(StatusLine).message.startswith(
                "cannot attach: pid 103 does not catch SIGUSR1")
            await pilot.press("g")
            assert app.screen.query_one(StatusLine).message == (
                "cannot force a GC: memtui could not attach to it")


class TestComingAndGoing:
    async def test_a_process_that_starts_joins_and_one_that_exits_leaves(self, utc):
        fleet = Fleet(["101", "102"], grows=True)
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            fleet.targets.append("104")
            await wait_until(pilot, lambda: "104" in fleet.monitors, what="104 found")
            assert fleet.monitors["104"].retry_for > 0
            await wait_until(pilot, lambda: "104" in pids(app))
            assert note(app) == "pid 104 started; attaching"
            fleet.monitors["104"].feed_samples(1)
            await wait_until(pilot, lambda: app.listed[-1].state is TargetState.LIVE)

            fleet.monitors["101"].feed(TargetExited(T0 + 301, ExitReason(code=3)))
            fleet.targets.remove("101")
            await wait_until(pilot, lambda: "101" not in pids(app))
            assert note(app) == "pid 101 exited with code 3; it left the overview"
            await pilot.press("L")
            log = log_text(pilot)
            assert "pid 104 started" in log and "pid 101 exited" in log

    async def test_an_exited_process_with_snapshots_stays(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            await pilot.press("home", "enter", "s")
            await wait_until(pilot, lambda: fleet.monitors["102"].snapshots)
            await pilot.press("escape")
            fleet.monitors["102"].feed(TargetExited(T0 + 301, ExitReason(code=0)))
            await wait_until(pilot, lambda: "stays listed" in note(app))
            assert "102" in pids(app)
            assert table_rows(app)[pids(app).index("102")][1] == "exited"


class TestQuitting:
    async def test_q_detaches_from_every_process(self, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await settled(pilot, fleet, live=2)
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running)
        assert all(m.closed for m in fleet.monitors.values())
        assert app.exit_message() == "memtui: detached from 2 processes"

    async def test_quitting_while_attaching_waits_for_the_attach(self, fleet):
        fleet.refused.clear()
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)
        async with app.run_test(size=SMALL) as pilot:
            await wait_until(pilot, lambda: "101" in fleet.monitors)
            fleet.monitors["101"].close_release = asyncio.Event()
            await pilot.press("q")
            await wait_until(pilot, lambda: fleet.monitors["101"].close_calls == 1)
            assert app.is_running
            fleet.monitors["101"].close_release.set()
            await wait_until(pilot, lambda: not app.is_running)
        assert all(m.close_calls == 1 for m in fleet.monitors.values())


def test_the_command_column_shows_the_script_and_its_arguments():
    assert short_command("/usr/bin/node --inspect-port=0 /srv/app/server.js --port 8080") == (
        "server.js --port 8080")
    assert short_command("PM2 v5.3.0: God Daemon (/root/.pm2)") == (
        "PM2 v5.3.0: God Daemon (/root/.pm2)")
    assert short_command("node") == "node"


class TestRendering:
    """The overview at 80x24: every process's figures and sparkline, the inspector column
    given up for the command."""

    def test_small_terminal(self, snap_compare, fleet):
        app = MemtuiApp(fleet.watchlist(), clock=frozen_clock)

        async def run_before(pilot) -> None:
            await settled(pilot, fleet, live=2)

        assert snap_compare(app, terminal_size=SMALL, run_before=run_before)
