"""The real app on the real Monitor, attached to a real leaking Node process."""

from __future__ import annotations

import re

import pytest

from memtui.monitor import Monitor
from memtui.ui import MemtuiApp
from memtui.ui.model import EXTERNAL, HEAP_TOTAL, HEAP_USED, RSS, TargetState
from memtui.ui.screens.dialogs import ConfirmDialog
from memtui.ui.widgets.chart import MemoryChart
from tests.ui.fake_monitor import MIB
from tests.ui.helpers import chart_drawn, metric_value, status_text, wait_until


async def test_live_numbers_gc_and_snapshot_against_node(spawn, tmp_path):
    target = spawn("leaky.js", "--inspect=127.0.0.1:0")
    monitor = Monitor(str(target.pid), interval=0.25, snapshot_dir=tmp_path)
    app = MemtuiApp(monitor)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.monitor_screen.target_state is TargetState.LIVE,
                         timeout=20, what="attached and sampling")
        assert f"pid {target.pid}" in str(app.monitor_screen.query_one("#header").render())
        first_rss = metric_value(pilot, "rss")
        first_heap_used = metric_value(pilot, "heap_used")
        await wait_until(pilot, lambda: metric_value(pilot, "heap_used") != first_heap_used
                         and metric_value(pilot, "rss") != first_rss,
                         timeout=20, what="heap used and RSS changing")

        await pilot.press("g")
        await wait_until(pilot, lambda: "GC freed" in status_text(pilot), timeout=30,
                         what="forced GC reported")

        await pilot.press("s")
        await wait_until(pilot, lambda: "snapshot saved" in status_text(pilot)
                         or isinstance(app.screen, ConfirmDialog), timeout=30)
        if isinstance(app.screen, ConfirmDialog):
            await pilot.press("y")
        await wait_until(pilot, lambda: "snapshot saved" in status_text(pilot), timeout=60,
                         what="snapshot saved")
        files = list(tmp_path.glob("*.heapsnapshot"))
        assert files == [monitor.snapshots[0].path]
        assert files[0].stat().st_size == monitor.snapshots[0].size > 100_000
        assert files[0].name in status_text(pilot)

        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, timeout=15, what="detached")
    assert app.return_code == 0
    assert target.alive()


@pytest.mark.parametrize(("program", "grows", "drawn"), [
    ("buffer_leak.js", "external", (HEAP_USED, HEAP_TOTAL, RSS, EXTERNAL)),
    ("leaky.js", "heap_used", (HEAP_USED, HEAP_TOTAL, RSS)),
])
async def test_the_default_chart_draws_off_heap_memory_when_it_grows_most(spawn, tmp_path,
                                                                         program, grows, drawn):
    """In an off-heap leak (Buffers kept) the heap lines lie flat while RSS climbs: the
    default chart adds external memory; in a heap leak it does not."""
    target = spawn(program, "--inspect=127.0.0.1:0")
    monitor = Monitor(str(target.pid), interval=0.25, snapshot_dir=tmp_path)
    app = MemtuiApp(monitor)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(monitor.history) > 1, timeout=20, what="sampling")
        first = monitor.history.latest

        def grown() -> int:
            return getattr(monitor.history.latest, grows) - getattr(first, grows)

        await wait_until(pilot, lambda: grown() > 4 * MIB, timeout=20, what=f"{grows} growing")
        await chart_drawn(pilot)
        chart = app.monitor_screen.query_one(MemoryChart)
        assert chart.request.metrics == drawn
        # A major GC of the target's own, under load, adds its post-GC points to the title.
        names = ", ".join(metric.label for metric in drawn)
        assert re.fullmatch(re.escape(names) + r"(, • after GC(, trend)?)? \(MiB\) — last 5 min",
                            chart.strips[0].text.strip()), chart.strips[0].text
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, timeout=15, what="detached")
    assert target.alive()


async def test_l_finds_the_leak_in_three_snapshots_of_the_session(spawn, tmp_path):
    """`l` takes the baseline and says what to do next; `l` again takes the target and the
    final snapshot and shows the leaking class with what keeps one alive."""
    from memtui.ui.screens.leaks import LeakScreen

    target = spawn("buffer_leak.js", "--inspect=127.0.0.1:0")
    monitor = Monitor(str(target.pid), interval=0.25, snapshot_dir=tmp_path)
    app = MemtuiApp(monitor)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.monitor_screen.target_state is TargetState.LIVE,
                         timeout=20, what="attached and sampling")


        def confirmed(condition):
            """`condition`, answering y when the memory check asks first."""
            def check() -> bool:
                if isinstance(app.screen, ConfirmDialog):
                    app.screen.dismiss(True)
                return bool(condition())
            return check

        await pilot.press("l")
        await wait_until(pilot, confirmed(lambda: "press l again" in status_text(pilot)),
                         timeout=60, what="baseline taken")
        assert len(monitor.snapshots) == 1
        at_baseline = monitor.history.latest.array_buffers
        await wait_until(pilot, lambda: monitor.history.latest.array_buffers
                         > at_baseline + 2 * MIB, timeout=20, what="Buffers kept since")
        await pilot.press("l")
        await wait_until(pilot, confirmed(lambda: isinstance(app.screen, LeakScreen)
                                          and app.screen.chains), timeout=90,
                         what="leaks found")
        screen = app.screen
        assert len(monitor.snapshots) == 3
        classes = screen.query_one("#leak-classes")
        assert classes.get_row_at(0)[0] == "Buffer"
        retainers = screen.query_one("#leak-retainers")
        assert str(retainers.get_row_at(0)[0]).startswith("Buffer @")
        assert any(str(retainers.get_row_at(i)[0]).startswith("kept in system / Context")
                   for i in range(retainers.row_count))
        await pilot.press("escape")
        assert app.screen is app.monitor_screen
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, timeout=15, what="detached")
    assert target.alive()
