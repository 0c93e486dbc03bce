"""Regenerate the README screenshots from a real run of memtui against the bundled demo app.

    python screenshots/generate.py [--seconds 150] [--interval 0.5] [--node node]

Starts `memtui demo`'s leaky app, lets the live monitor sample it for `--seconds`, then
saves monitor.svg, help.svg, snapshot-progress.svg, snapshots.svg (two snapshots ten
seconds apart), retainers.svg (what keeps the first new SessionRecord alive) and leaks.svg
(the leak finder, its target ten seconds after its baseline) beside this script.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from memtui.demo import start_demo, stop_demo
from memtui.monitor import Monitor
from memtui.ui import MemtuiApp
from memtui.ui.screens.dialogs import ConfirmDialog
from memtui.ui.screens.diff import DiffBrowser
from memtui.ui.screens.leaks import LeakScreen
from memtui.ui.widgets.status import StatusLine

SCREENSHOTS = Path(__file__).parent
SIZE = (120, 36)
CAPTURE_ATTEMPTS = 5


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout:.0f}s waiting for the app")
        await pilot.pause(0.01)


def save(app: MemtuiApp, name: str) -> None:
    app.save_screenshot(name, str(SCREENSHOTS))
    print(f"wrote {SCREENSHOTS / name}")


async def snapshot_in_progress(app: MemtuiApp, pilot: Pilot) -> bool:
    """Start a capture and screenshot it while it streams; False if it finished first."""
    screen = app.monitor_screen
    count = len(app.monitor.snapshots)
    await pilot.press("s")
    await wait_until(pilot, lambda: screen.has_class("capturing")
                     or isinstance(app.screen, ConfirmDialog), 30)
    if isinstance(app.screen, ConfirmDialog):
        await pilot.press("y")
    bar = screen.query_one("#snapshot-bar")
    await wait_until(pilot, lambda: (bar.percentage or 0) > 0.2
                     or len(app.monitor.snapshots) > count, 60)
    captured = screen.has_class("capturing")
    if captured:
        save(app, "snapshot-progress.svg")
    await wait_until(pilot, lambda: len(app.monitor.snapshots) > count
                     and not screen.snapshot_running, 60)
    return captured


def diff_shown(app: MemtuiApp) -> bool:
    """True once the snapshot screen has analysed the snapshots and lists classes."""
    classes = app.screen.query("#diff-classes")
    browser = app.screen.query("#diff-browser")
    return bool(classes and classes.first().row_count
                and not browser.first().has_class("loading"))


async def show_retainers(app: MemtuiApp, pilot: Pilot) -> None:
    """From the diff's first class, its new objects, then what keeps the first alive."""
    browser = app.screen.query_one(DiffBrowser)
    await pilot.press("enter")
    await wait_until(pilot, lambda: browser.level == "objects", 60)
    await pilot.press("enter")
    await wait_until(pilot, lambda: browser.level == "retainers"
                     and not browser.has_class("loading"), 60)


async def compare_later(app: MemtuiApp, pilot: Pilot, seconds: float) -> None:
    """Let the demo leak for `seconds` more, then take the snapshot to compare against."""
    samples = len(app.monitor.history) + seconds / app.monitor.interval
    await wait_until(pilot, lambda: len(app.monitor.history) >= samples, seconds * 3)
    count = len(app.monitor.snapshots)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog)
                     or len(app.monitor.snapshots) > count, 60)
    if isinstance(app.screen, ConfirmDialog):
        await pilot.press("y")
    await wait_until(pilot, lambda: len(app.monitor.snapshots) > count
                     and not app.monitor_screen.snapshot_running, 60)


async def find_leaks(app: MemtuiApp, pilot: Pilot, seconds: float) -> None:
    """Back to the monitor, `l`, `seconds` of the demo leaking, `l` again, and wait for the
    leak screen's classes."""
    while app.screen is not app.monitor_screen:
        await pilot.press("escape")
    for taken in (1, 2):
        if taken == 2:
            samples = len(app.monitor.history) + seconds / app.monitor.interval
            await wait_until(pilot, lambda n=samples: len(app.monitor.history) >= n,
                             seconds * 3)
        expected = len(app.monitor.snapshots) + taken
        await pilot.press("l")
        while len(app.monitor.snapshots) < expected:
            await wait_until(pilot, lambda n=expected: isinstance(app.screen, ConfirmDialog)
                             or len(app.monitor.snapshots) >= n, 60)
            if isinstance(app.screen, ConfirmDialog):
                await pilot.press("y")
    await wait_until(pilot, lambda: isinstance(app.screen, LeakScreen) and any(
        table.row_count for table in app.screen.query("#leak-classes")), 120)
    await pilot.pause(0.5)


async def generate(seconds: float, interval: float, node: str) -> None:
    process = start_demo(node)
    try:
        with tempfile.TemporaryDirectory(prefix="memtui-screens-") as snapshot_dir:
            monitor = Monitor(str(process.pid), interval=interval,
                              snapshot_dir=Path(snapshot_dir))
            app = MemtuiApp(monitor)
            async with app.run_test(size=SIZE) as pilot:
                await wait_until(pilot, lambda: len(monitor.history) * interval >= seconds,
                                 seconds * 2 + 30)
                await pilot.press("2" if seconds > 60 else "1")
                await pilot.press("m", *"load test", "enter")
                await wait_until(pilot, lambda: app.monitor_screen.markers, 10)
                save(app, "monitor.svg")
                await pilot.press("question_mark")
                save(app, "help.svg")
                await pilot.press("escape", "g")
                status = app.monitor_screen.query_one(StatusLine)
                await wait_until(pilot, lambda: "GC freed" in status.message, 60)
                for _ in range(CAPTURE_ATTEMPTS):
                    if await snapshot_in_progress(app, pilot):
                        break
                else:
                    raise SystemExit("every capture finished before it could be screenshot")
                await compare_later(app, pilot, seconds=10)
                await pilot.press("d")
                await wait_until(pilot, lambda: diff_shown(app), 120)
                save(app, "snapshots.svg")
                await show_retainers(app, pilot)
                save(app, "retainers.svg")
                await find_leaks(app, pilot, seconds=10)
                save(app, "leaks.svg")
                await pilot.press("q")
                await wait_until(pilot, lambda: not app.is_running, 15)
    finally:
        stop_demo(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="how long to sample first")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds per sample")
    parser.add_argument("--node", default="node", help="the node binary to run the demo with")
    args = parser.parse_args()
    asyncio.run(generate(args.seconds, args.interval, args.node))


if __name__ == "__main__":
    main()
