"""Pilot tests: the monitor app driven key by key against a fed FakeMonitor."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace

from textual.widgets import DataTable, Input, Label

from memtui.container import Container
from memtui.errors import MemtuiError, UsageError
from memtui.events import (
    ConnectionLost,
    Reconnected,
    Responsive,
    SnapshotRisk,
    TargetExited,
    Unresponsive,
)
from memtui.sampler import Sample
from memtui.target_exit import ExitReason
from memtui.ui.model import CHART_METRIC_SETS, TargetState
from memtui.ui.screens.dialogs import ConfirmDialog, MarkerPrompt
from memtui.ui.screens.help import HelpScreen
from memtui.ui.screens.monitor import MonitorScreen
from memtui.ui.screens.snapshots import SnapshotListScreen
from memtui.ui.widgets.gc import GcPanel
from memtui.ui.widgets.verdict import VerdictPanel
from memtui.units import format_bytes
from tests.ui.fake_monitor import INFO, MIB, T0, make_sample
from tests.ui.helpers import header_text, metric_change, metric_value, status_text, wait_until

SIZE = (80, 24)


async def attached(pilot, fake, samples: int = 1) -> None:
    """Wait for the app to attach and show `samples` more fed samples."""
    expected = len(fake.history) + samples
    fake.feed_samples(samples)
    await wait_until(pilot, lambda: len(fake.history) == expected
                     and pilot.app.monitor_screen.target_state is not TargetState.ATTACHING,
                     what="samples")
    await pilot.pause()


def heap_used(i: int) -> str:
    return format_bytes(make_sample(i).heap_used)


class TestFigures:
    async def test_header_names_the_target_and_its_limits(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            assert "attaching…" in header_text(pilot)
            await attached(pilot, fake)
            header = header_text(pilot)
            for part in ("live", "pid 4242", "node v20.19.5", "up 1h 17m",
                         "heap limit 4.0 GiB", "container 512.0 MiB", "127.0.0.1:40123"):
                assert part in header

    async def test_header_explains_the_inspector_when_wide_enough(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=(200, 50)) as pilot:
            await attached(pilot, fake)
            assert "inspector 127.0.0.1:40123 (opened by memtui)" in header_text(pilot)
            assert "container limit 512.0 MiB" in header_text(pilot)

    async def test_header_says_when_there_is_no_container_limit(self, make_app):
        app, fake = make_app(info=replace(INFO, container_limit=None))
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            assert "no container  inspector 127.0.0.1:40123" in header_text(pilot)

    async def test_header_names_the_container_of_a_containerized_target(self, make_app):
        docker = Container("3f2a1b9c0d1e" + "ab" * 26, "docker")
        app, fake = make_app(info=replace(INFO, container=docker, netns_inode=4026532177))
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            assert "pid 4242  container docker 3f2a1b9c0d1e  node v20" in header_text(pilot)

    async def test_header_names_a_network_namespace_of_no_known_container(self, make_app):
        app, fake = make_app(info=replace(INFO, netns_inode=4026532177))
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            assert "pid 4242  netns 4026532177  node v20" in header_text(pilot)

    async def test_each_sample_updates_value_and_trend(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            assert metric_value(pilot, "heap_used") == heap_used(300)
            assert metric_change(pilot, "heap_used") == "+1.2 MiB/min"  # 20 KiB/s
            await attached(pilot, fake)
            assert metric_value(pilot, "heap_used") == heap_used(301)

    async def test_gc_panel_shows_rates_and_pause_share(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            text = str(app.monitor_screen.query_one(GcPanel).content)
            assert "minor 2.0" in text
            assert "in GC 1.5%" in text
            assert "event loop 25.0%" in text
            assert "CPU 12.5%" in text


    async def test_verdict_panel_is_one_line_at_80x24_and_one_a_verdict_when_tall(
            self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            panel = app.monitor_screen.query_one(VerdictPanel)
            assert panel.size.height == 1
            assert str(panel.content) == (" LEAK  heap leak +1.2 MiB/min after GC (15 GCs)"
                                          " · container limit in ~3h 38m")
            await pilot.resize_terminal(120, 40)
            await wait_until(pilot, lambda: panel.size.height == 4, what="four lines")
            lines = str(panel.content).splitlines()
            assert lines[0].startswith(" LEAK  heap leak: heap after GC +1.2 MiB/min (15 major")
            assert lines[1].strip().startswith("heap limit in about 2d 10h, container limit")
            assert lines[2].strip().startswith("GC: 2% of the time in GC")
            assert lines[3].strip().startswith("event loop ok")

    async def test_too_early_says_what_it_waits_for_and_that_g_forces_a_gc(self, make_app):
        app, fake = make_app(preload=30)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            panel = app.monitor_screen.query_one(VerdictPanel)
            assert str(panel.content) == (" WAIT  too early to say: 1/6 major GCs"
                                          " (g forces a major GC)")

    async def test_gc_share_and_busy_loop_past_their_thresholds_are_coloured(self, make_app):
        def busy(i: int) -> Sample:
            return replace(make_sample(i), gc_pause_ms=150.0 * i, elu=0.97)

        app, fake = make_app(preload=0)
        for i in range(300):
            fake.history.append(busy(i))
        counter = itertools.count(300)
        fake.new_sample = lambda: busy(next(counter))
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            text = app.monitor_screen.query_one(GcPanel).content
            share, elu = (next(span for span in text.spans
                               if str(text)[span.start:span.end] == figure)
                          for figure in ("15.0%", "97.0%"))
            assert str(share.style) == "bold yellow" and str(elu.style) == "bold yellow"


class TestViewControls:
    async def test_window_keys_change_the_span_of_deltas(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("1")
            assert app.monitor_screen.window.label == "1 min"
            assert metric_change(pilot, "heap_used") == "+1.7 MiB/min"  # the sawtooth
            heading = app.monitor_screen.query_one("#trend-heading", Label)
            assert str(heading.content) == "last 1 min"
            await pilot.press("4")
            assert app.monitor_screen.window.label == "all"
            await pilot.press("3")
            assert app.monitor_screen.window.label == "15 min"

    async def test_space_freezes_the_display_while_sampling_continues(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("space")
            assert "PAUSED" in header_text(pilot)
            await attached(pilot, fake, samples=5)
            assert len(fake.history) == 306
            assert metric_value(pilot, "heap_used") == heap_used(300)
            await pilot.press("1")
            assert metric_value(pilot, "heap_used") == heap_used(300)
            await pilot.press("space")
            assert "PAUSED" not in header_text(pilot)
            assert metric_value(pilot, "heap_used") == heap_used(305)

    async def test_c_cycles_the_chart_metrics(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            for expected in [*range(1, len(CHART_METRIC_SETS)), 0]:
                await pilot.press("c")
                assert app.monitor_screen.chart_metrics == expected

    async def test_help_lists_the_keys_and_closes(self, make_app):
        app, _fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert isinstance(app.screen, MonitorScreen)


class TestActions:
    async def test_g_reports_what_the_gc_freed(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("g")
            await wait_until(pilot, lambda: "freed" in status_text(pilot))
            assert status_text(pilot) == (
                "GC freed 12.0 MiB: heap used 52.0 MiB → 40.0 MiB (0.12s)")
            assert [m.label for m in app.monitor_screen.markers] == ["GC"]

    async def test_a_slow_gc_says_it_waits_for_the_event_loop(self, make_app, monkeypatch):
        monkeypatch.setattr(MonitorScreen, "gc_notice_delay", 0.01)
        app, fake = make_app()
        fake.gc_release = asyncio.Event()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("g")
            await wait_until(pilot, lambda: "waiting for the event loop" in status_text(pilot))
            await pilot.press("g")
            assert status_text(pilot) == "a forced GC is already running"
            fake.gc_release.set()
            await wait_until(pilot, lambda: "GC freed" in status_text(pilot))

    async def test_a_failed_gc_is_shown_not_raised(self, make_app):
        app, fake = make_app()
        fake.gc_error = MemtuiError("inspector closed the session", "press g to retry")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("g")
            await wait_until(pilot, lambda: "failed" in status_text(pilot))
            assert status_text(pilot) == (
                "GC failed: inspector closed the session (press g to retry)")
            assert app.is_running

    async def test_s_shows_progress_while_samples_keep_coming(self, make_app):
        app, fake = make_app()
        fake.snapshot_release = asyncio.Event()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("s")
            screen = app.monitor_screen
            label = screen.query_one("#snapshot-label", Label)
            await wait_until(pilot, lambda: "3.0 MiB written" in str(label.content))
            assert screen.has_class("capturing")
            assert screen.query_one("#snapshot-bar").percentage == 0.4
            await attached(pilot, fake)
            assert metric_value(pilot, "heap_used") == heap_used(301)
            fake.snapshot_release.set()
            await wait_until(pilot, lambda: "saved" in status_text(pilot))
            assert status_text(pilot) == (
                "snapshot saved (file 31.0 MiB, 1.4s):"
                " /var/tmp/memtui/memtui-4242-1.heapsnapshot")
            assert not screen.has_class("capturing")
            assert [m.label for m in screen.markers] == ["snapshot 1"]

    async def test_a_risky_snapshot_asks_first(self, make_app):
        app, fake = make_app()
        fake.risk = SnapshotRisk(900 * MIB, 300 * MIB, True, "the container limit is near.")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "900.0 MiB" in app.screen.detail
            await pilot.press("n")
            await wait_until(pilot, lambda: status_text(pilot) == "snapshot cancelled")
            assert fake.snapshot_calls == 0
            await pilot.press("s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: "snapshot saved" in status_text(pilot))
            assert fake.snapshot_calls == 1

    async def test_a_failed_snapshot_is_shown_not_raised(self, make_app):
        app, fake = make_app()
        fake.snapshot_error = MemtuiError("target exited during the capture")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("s")
            await wait_until(pilot, lambda: "failed" in status_text(pilot))
            assert status_text(pilot) == "snapshot failed: target exited during the capture"
            assert not app.monitor_screen.has_class("capturing")

    async def test_m_drops_markers_with_default_or_typed_labels(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("m")
            await wait_until(pilot, lambda: isinstance(app.screen, MarkerPrompt))
            assert app.screen.query_one(Input).placeholder == "marker 1"
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(app.monitor_screen.markers) == 1)
            await pilot.press("m")
            await wait_until(pilot, lambda: isinstance(app.screen, MarkerPrompt))
            await pilot.press(*"deploy started", "enter")
            await wait_until(pilot, lambda: len(app.monitor_screen.markers) == 2)
            assert [(m.label, m.t) for m in app.monitor_screen.markers] == [
                ("marker 1", T0 + 300), ("deploy started", T0 + 300)]
            assert status_text(pilot) == "marker “deploy started” dropped at 10:35:00"
            await pilot.press("m")
            await wait_until(pilot, lambda: isinstance(app.screen, MarkerPrompt))
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen))
            assert len(app.monitor_screen.markers) == 2

    async def test_d_lists_the_session_snapshots(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("d")
            assert isinstance(app.screen, SnapshotListScreen)
            assert app.screen.query("#no-snapshots")
            await pilot.press("escape")
            await pilot.press("s")
            await wait_until(pilot, lambda: "snapshot saved" in status_text(pilot))
            await pilot.press("d")
            table = app.screen.query_one(DataTable)
            assert table.row_count == 1
            assert [str(cell) for cell in table.get_row_at(0)] == [
                "1", "10:35:00", "—", "31.0 MiB", "1.4s",
                "/var/tmp/…/memtui-4242-1.heapsnapshot"]

    async def test_q_detaches_and_exits(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running)
        assert fake.closed
        assert app.return_code == 0
        assert app.exit_message() == "memtui: detached from pid 4242"

    async def test_a_second_quit_while_detaching_lets_the_first_finish(self, make_app):
        app, fake = make_app()
        fake.close_release = asyncio.Event()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("q")
            await wait_until(pilot, lambda: fake.close_calls == 1)
            await pilot.press("ctrl+c")
            await pilot.press("q")
            assert app.is_running and not fake.closed
            fake.close_release.set()
            await wait_until(pilot, lambda: not app.is_running)
        assert fake.closed and fake.close_calls == 1
        assert app.return_code == 0


    async def test_quitting_during_a_snapshot_waits_for_it_and_says_so(self, make_app):
        """Dropping the connection while the target sends a snapshot can crash Node: q
        waits for the stream to end before detaching, and the status line says why."""
        app, fake = make_app()
        fake.stream_release = asyncio.Event()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("q")
            await wait_until(pilot, lambda: "waiting for the snapshot" in status_text(pilot))
            assert status_text(pilot) == (
                "waiting for the snapshot under way to end before detaching (leaving while "
                "the target sends it can crash Node)")
            assert app.is_running and fake.close_calls == 0
            fake.stream_release.set()
            await wait_until(pilot, lambda: not app.is_running)
        assert fake.closed and fake.close_calls == 1
        assert app.return_code == 0


class TestAutomaticCapture:
    """`--snapshot-on`: a condition that holds after a sample captures as `s` does, without
    asking, and says so on the status line and the timeline."""

    async def test_a_condition_that_holds_captures_once_with_progress_and_a_marker(
            self, make_app):
        app, fake = make_app(snapshot_on=("heap_used>47MiB",))
        fake.snapshot_release = asyncio.Event()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake, samples=4)  # up to 46.8 MiB
            assert fake.snapshot_calls == 0
            await attached(pilot, fake)  # 47.1 MiB
            screen = app.monitor_screen
            await wait_until(pilot, lambda: screen.has_class("capturing"))
            assert status_text(pilot) == (
                "heap_used>47MiB holds (heap used 47.1 MiB > 47.0 MiB): capturing a heap "
                "snapshot; the target pauses while V8 writes it…")
            await pilot.press("s")
            await wait_until(pilot, lambda: "already" in status_text(pilot))
            await attached(pilot, fake, samples=2)
            fake.snapshot_release.set()
            await wait_until(pilot, lambda: "saved" in status_text(pilot))
            assert status_text(pilot) == (
                "automatic snapshot (heap_used>47MiB) saved (file 31.0 MiB, 1.4s):"
                " /var/tmp/memtui/memtui-4242-1.heapsnapshot")
            assert not screen.has_class("capturing")
            assert [m.label for m in screen.markers] == ["snapshot 1 (auto)"]
            await attached(pilot, fake, samples=3)  # still above: the cooldown holds it
            assert fake.snapshot_calls == 1

    async def test_a_risky_automatic_capture_is_refused_without_asking(self, make_app):
        app, fake = make_app(snapshot_on=("rss>20%limit",))
        fake.risk = SnapshotRisk(900 * MIB, 300 * MIB, True, "the snapshot may need up to "
                                 "900 MiB more in the target, 300 MiB left: may run out")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await wait_until(pilot, lambda: "refused" in status_text(pilot))
            assert status_text(pilot) == (
                "automatic snapshot (rss>20%limit) refused: the snapshot may need up to "
                "900 MiB more in the target, 300 MiB left: may run out")
            assert not isinstance(app.screen, ConfirmDialog)
            assert fake.snapshot_calls == 0
            assert [m.label for m in app.monitor_screen.markers] == ["auto snapshot refused"]


class TestTargetStates:
    async def test_exit_keeps_the_history_on_screen(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            fake.feed(TargetExited(T0 + 301, ExitReason(code=3)))
            fake.end()
            await wait_until(pilot, lambda: "exited" in header_text(pilot))
            assert "exit code 3 at 10:35:01" in header_text(pilot)
            assert "inspector" not in header_text(pilot)
            assert status_text(pilot) == (
                "the target exited with code 3 at 10:35:01; its history stays on screen")
            assert metric_value(pilot, "heap_used") == heap_used(300)
            await pilot.press("g")
            assert status_text(pilot) == "cannot force a GC: the target is exited"

    async def test_an_oom_kill_is_named_in_the_header(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            fake.feed(TargetExited(T0 + 301, ExitReason(signal=9, oom_killed=True,
                                                        memory_limit=512 * 2**20)))
            await wait_until(pilot, lambda: "exited" in header_text(pilot))
            assert "OOM-killed at 10:35:01" in header_text(pilot)
            assert status_text(pilot).startswith(
                "the target was OOM-killed by the kernel at its cgroup's memory limit of "
                "512.0 MiB at 10:35:01")

    async def test_connection_lost_then_reconnected(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            fake.feed(ConnectionLost(T0 + 301, "websocket closed"))
            await wait_until(pilot, lambda: "reconnecting" in header_text(pilot))
            assert status_text(pilot) == "connection lost — reconnecting… (websocket closed)"
            fake.feed(Reconnected(T0 + 303))
            await wait_until(pilot, lambda: "reconnected" in status_text(pilot))
            assert status_text(pilot) == "reconnected at 10:35:03"
            assert "live" in header_text(pilot)

    async def test_unresponsive_then_responsive(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            fake.feed(Unresponsive(T0 + 301))
            await wait_until(pilot, lambda: "unresponsive" in header_text(pilot))
            assert status_text(pilot) == (
                "target unresponsive since 10:35:01 (event loop blocked?)")
            fake.feed(Responsive(T0 + 309))
            await wait_until(pilot, lambda: "live" in header_text(pilot))

    async def test_a_failing_event_stream_is_shown(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            fake.end(MemtuiError("could not reconnect", "is the target still running?"))
            await wait_until(pilot, lambda: "detached" in header_text(pilot))
            assert status_text(pilot) == (
                "monitoring stopped: could not reconnect (is the target still running?)")
            assert app.is_running

    async def test_attach_failure_exits_with_its_code(self, make_app):
        app, fake = make_app()
        fake.start_error = UsageError("no process with PID 4242", "check the PID with memtui ps")
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: not app.is_running)
        assert app.return_code == 2
        assert app.failure is fake.start_error
