"""SVG snapshots of the main screens, with frozen time and deterministic samples."""

from __future__ import annotations

import asyncio

import pytest

from memtui.events import ConnectionLost, Responsive, SnapshotRisk, TargetExited, Unresponsive
from memtui.target_exit import ExitReason
from memtui.ui import MemtuiApp
from memtui.ui.model import Marker
from memtui.ui.screens.dialogs import ConfirmDialog
from memtui.ui.widgets.status import StatusLine
from tests.ui.fake_monitor import MIB, T0, FakeMonitor
from tests.ui.helpers import chart_drawn, wait_until

SMALL = (80, 24)
LARGE = (200, 50)


@pytest.fixture
def fake(utc) -> FakeMonitor:
    return FakeMonitor(preload=300)


@pytest.fixture
def app(fake) -> MemtuiApp:
    return MemtuiApp(fake, clock=lambda: fake.history.latest.t)


def live(fake: FakeMonitor, samples: int = 1, then=None):
    """A run_before that feeds `samples` samples, waits until they show, then runs `then`."""

    async def run_before(pilot) -> None:
        expected = len(fake.history) + samples
        fake.feed_samples(samples)
        await wait_until(pilot, lambda: len(fake.history) == expected
                         and pilot.app.monitor_screen.target_state == "live")
        if then is not None:
            await then(pilot)
        await chart_drawn(pilot)

    return run_before


class TestMonitorScreen:
    """Header, five metric rows with value, change and sparkline, GC activity, chart, footer."""

    def test_small_terminal(self, snap_compare, app, fake):
        assert snap_compare(app, terminal_size=SMALL, run_before=live(fake))

    def test_large_terminal(self, snap_compare, app, fake):
        assert snap_compare(app, terminal_size=LARGE, run_before=live(fake))

    def test_one_minute_window_of_heap_used_only(self, snap_compare, app, fake):
        async def one_minute_of_heap_used(pilot) -> None:
            await pilot.press("1", "c")

        assert snap_compare(app, terminal_size=SMALL,
                            run_before=live(fake, then=one_minute_of_heap_used))


class TestMarkers:
    """Markers are labelled vertical lines on the chart, staggered so labels do not collide."""

    def test_markers_on_the_chart(self, snap_compare, app, fake):
        async def drop_markers(pilot) -> None:
            screen = pilot.app.monitor_screen
            screen.markers.extend([Marker(T0 + 200, "deploy started", user=True),
                                   Marker(T0 + 230, "GC"), Marker(T0 + 240, "snapshot 1")])
            screen.redraw()

        assert snap_compare(app, terminal_size=LARGE, run_before=live(fake, then=drop_markers))

    def test_close_markers_at_80_columns(self, snap_compare, app, fake):
        """A GC, two snapshots and a marker within a few seconds: four labels, none on a line."""

        async def drop_markers(pilot) -> None:
            screen = pilot.app.monitor_screen
            screen.markers.extend([Marker(T0 + 290, "GC"), Marker(T0 + 291, "snapshot 1"),
                                   Marker(T0 + 295, "snapshot 2"),
                                   Marker(T0 + 297, "deploy", user=True)])
            screen.redraw()

        assert snap_compare(app, terminal_size=SMALL, run_before=live(fake, then=drop_markers))


class TestPaused:
    """Space freezes the figures at the pause instant and says PAUSED; sampling continues."""

    def test_paused_while_samples_arrive(self, snap_compare, app, fake):
        async def pause_then_sample(pilot) -> None:
            await pilot.press("space")
            fake.feed_samples(30)
            await wait_until(pilot, lambda: len(fake.history) == 331)

        assert snap_compare(app, terminal_size=SMALL,
                            run_before=live(fake, then=pause_then_sample))


class TestSnapshotCapture:
    """A capture shows a progress bar above the status line; a risky one asks first."""

    def test_progress_while_capturing(self, snap_compare, app, fake):
        fake.snapshot_release = asyncio.Event()

        async def capture(pilot) -> None:
            await pilot.press("s")
            await wait_until(pilot, lambda: pilot.app.monitor_screen.has_class("capturing"))

        assert snap_compare(app, terminal_size=SMALL, run_before=live(fake, then=capture))

    def test_confirm_a_risky_capture(self, snap_compare, app, fake):
        fake.risk = SnapshotRisk(900 * MIB, 300 * MIB, True,
                                 "Only 300.0 MiB is left below the container limit.")

        async def capture(pilot) -> None:
            await pilot.press("s")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))

        assert snap_compare(app, terminal_size=SMALL, run_before=live(fake, then=capture))


class TestOtherScreens:
    """Help lists every key; the message log every message with its time; the snapshot list
    says how to capture when there is none yet."""

    def test_help(self, snap_compare, app, fake):
        async def help_screen(pilot) -> None:
            await chart_drawn(pilot)
            await pilot.press("question_mark")

        assert snap_compare(app, terminal_size=SMALL, run_before=live(fake, then=help_screen))

    def test_message_log(self, snap_compare, app, fake):
        async def log_after_a_snapshot(pilot) -> None:
            await pilot.press("s")
            await wait_until(pilot, lambda: pilot.app.monitor_screen.monitor.snapshots)
            fake.feed(Unresponsive(T0 + 301), Responsive(T0 + 302))
            await wait_until(pilot, lambda: pilot.app.monitor_screen.target_state == "live"
                             and len(pilot.app.monitor_screen.query_one(StatusLine).messages)
                             == 7)
            await chart_drawn(pilot)
            await pilot.press("L")

        assert snap_compare(app, terminal_size=SMALL,
                            run_before=live(fake, then=log_after_a_snapshot))

    def test_snapshot_list_before_any_capture(self, snap_compare, app, fake):
        async def snapshot_list(pilot) -> None:
            await pilot.press("d")

        assert snap_compare(app, terminal_size=SMALL, run_before=live(fake, then=snapshot_list))


class TestTargetStates:
    """Losing the target keeps the picture: the history stays, the header says what happened."""

    def test_exited(self, snap_compare, app, fake):
        async def exit_target(pilot) -> None:
            fake.feed(TargetExited(T0 + 301, ExitReason(signal=9)))
            await wait_until(pilot, lambda: pilot.app.monitor_screen.exited_at is not None)

        assert snap_compare(app, terminal_size=SMALL, run_before=live(fake, then=exit_target))

    def test_connection_lost(self, snap_compare, app, fake):
        async def lose_connection(pilot) -> None:
            fake.feed(ConnectionLost(T0 + 301, "websocket closed"))
            await wait_until(pilot,
                             lambda: pilot.app.monitor_screen.target_state == "reconnecting…")

        assert snap_compare(app, terminal_size=SMALL,
                            run_before=live(fake, then=lose_connection))
