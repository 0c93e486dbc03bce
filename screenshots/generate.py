"""Regenerate the README screenshots from a real run of memtui against the bundled demo app.

    python screenshots/generate.py [--seconds 150] [--interval 0.5] [--node node]
                                   [--only demo|threads]

Starts `memtui demo`'s leaky app, lets the live monitor sample it for `--seconds` (forcing a
GC every 20 s, so that the leak verdict has the major GCs it needs), then
saves monitor.svg, help.svg, snapshot-progress.svg, snapshots.svg (two snapshots ten
seconds apart), retainers.svg (what keeps the first new SessionRecord alive) and leaks.svg
(the leak finder, its target ten seconds after its baseline) beside this script. Then
threads.svg: the monitor of tests/node/workers.js with a leaking worker thread and an idle
one, the leaking one selected with w; then overview.svg, the overview of three demo apps
after a fifth of `--seconds` (`--only` makes one kind only).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from memtui.demo import start_demo, stop_demo
from memtui.monitor import Monitor
from memtui.ui import MemtuiApp, Watchlist
from memtui.ui.screens.dialogs import ConfirmDialog
from memtui.ui.screens.diff import DiffBrowser
from memtui.ui.screens.leaks import LeakScreen
from memtui.ui.widgets.status import StatusLine

SCREENSHOTS = Path(__file__).parent
WORKERS_APP = SCREENSHOTS.parent / "tests" / "node" / "workers.js"
THREADS_SECONDS = 20.0
SIZE = (120, 36)
CAPTURE_ATTEMPTS = 5
FORCED_GC_EVERY_S = 20.0


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout:.0f}s waiting for the app")
        await pilot.pause(0.01)


def monitor_of(app: MemtuiApp) -> Monitor:
    """The monitor of the app's one process."""
    return app.monitor_screen.monitor


def save(app: MemtuiApp, name: str) -> None:
    app.save_screenshot(name, str(SCREENSHOTS))
    print(f"wrote {SCREENSHOTS / name}")


async def snapshot_in_progress(app: MemtuiApp, pilot: Pilot) -> bool:
    """Start a capture and screenshot it while it streams; False if it finished first."""
    screen = app.monitor_screen
    count = len(monitor_of(app).snapshots)
    await pilot.press("s")
    await wait_until(pilot, lambda: screen.has_class("capturing")
                     or isinstance(app.screen, ConfirmDialog), 30)
    if isinstance(app.screen, ConfirmDialog):
        await pilot.press("y")
    bar = screen.query_one("#snapshot-bar")
    await wait_until(pilot, lambda: (bar.percentage or 0) > 0.2
                     or len(monitor_of(app).snapshots) > count, 60)
    captured = screen.has_class("capturing")
    if captured:
        save(app, "snapshot-progress.svg")
    await wait_until(pilot, lambda: len(monitor_of(app).snapshots) > count
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


def sampled_for(monitor: Monitor, seconds: float) -> bool:
    return len(monitor.history) * monitor.interval >= seconds


async def sample_with_forced_gcs(app: MemtuiApp, pilot: Pilot, seconds: float) -> None:
    """Sample for `seconds`, pressing `g` every FORCED_GC_EVERY_S as a user waiting for the
    leak verdict does: the demo's large heap has too few major GCs of its own to judge."""
    monitor = monitor_of(app)
    forced = 0
    while len(monitor.history) * monitor.interval < seconds:
        due = (forced + 1) * FORCED_GC_EVERY_S
        await wait_until(pilot, functools.partial(sampled_for, monitor, min(due, seconds)),
                         seconds * 2 + 30)
        if due <= seconds - FORCED_GC_EVERY_S / 2:
            await pilot.press("g")
            await wait_until(pilot, lambda: not app.monitor_screen.gc_running, 60)
            forced += 1


async def compare_later(app: MemtuiApp, pilot: Pilot, seconds: float) -> None:
    """Let the demo leak for `seconds` more, then take the snapshot to compare against."""
    samples = len(monitor_of(app).history) + seconds / monitor_of(app).interval
    await wait_until(pilot, lambda: len(monitor_of(app).history) >= samples, seconds * 3)
    count = len(monitor_of(app).snapshots)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog)
                     or len(monitor_of(app).snapshots) > count, 60)
    if isinstance(app.screen, ConfirmDialog):
        await pilot.press("y")
    await wait_until(pilot, lambda: len(monitor_of(app).snapshots) > count
                     and not app.monitor_screen.snapshot_running, 60)


async def find_leaks(app: MemtuiApp, pilot: Pilot, seconds: float) -> None:
    """Back to the monitor, `l`, `seconds` of the demo leaking, `l` again, and wait for the
    leak screen's classes."""
    while app.screen is not app.monitor_screen:
        await pilot.press("escape")
    for taken in (1, 2):
        if taken == 2:
            samples = len(monitor_of(app).history) + seconds / monitor_of(app).interval
            await wait_until(pilot, lambda n=samples: len(monitor_of(app).history) >= n,
                             seconds * 3)
        expected = len(monitor_of(app).snapshots) + taken
        await pilot.press("l")
        while len(monitor_of(app).snapshots) < expected:
            await wait_until(pilot, lambda n=expected: isinstance(app.screen, ConfirmDialog)
                             or len(monitor_of(app).snapshots) >= n, 60)
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
                await sample_with_forced_gcs(app, pilot, seconds)
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


async def threads(interval: float, node: str) -> None:
    """threads.svg: a worker thread that leaks beside one that idles, the leaking one
    selected; its heap grows while the main thread's stays flat."""
    app_process = subprocess.Popen([node, str(WORKERS_APP)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
    try:
        assert app_process.stdin is not None and app_process.stdout is not None
        assert app_process.stdout.readline().strip() == "ready"

        def command(line: str) -> str:
            app_process.stdin.write(line + "\n")
            app_process.stdin.flush()
            return app_process.stdout.readline().split()[-1]

        leaking = command("leak")
        command("idle")
        monitor = Monitor(str(app_process.pid), interval=interval, workers=True)
        app = MemtuiApp(monitor)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(int(THREADS_SECONDS)):
                await wait_until(pilot, lambda: monitor.worker_samples(), 30)
                await pilot.pause(1.0)
                app_process.stdin.write(f"grow {leaking}\n")
                app_process.stdin.flush()
            await pilot.press("1", "w")
            save(app, "threads.svg")
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running, 15)
    finally:
        app_process.kill()
        app_process.wait()


async def generate_overview(seconds: float, interval: float, node: str) -> None:
    processes = [start_demo(node) for _ in range(3)]
    try:
        with tempfile.TemporaryDirectory(prefix="memtui-screens-") as snapshot_dir:
            watchlist = Watchlist(
                find=lambda: [str(process.pid) for process in processes],
                new_monitor=lambda target: Monitor(target, interval=interval,
                                                   snapshot_dir=Path(snapshot_dir)),
                title="the processes given", grows=False)
            app = MemtuiApp(watchlist)
            async with app.run_test(size=SIZE) as pilot:
                await wait_until(pilot, lambda: app.targets and all(
                    len(target.monitor.history) * interval >= seconds / 5
                    for target in app.targets), seconds + 30)
                await pilot.press("home")
                save(app, "overview.svg")
                await pilot.press("q")
                await wait_until(pilot, lambda: not app.is_running, 15)
    finally:
        for process in processes:
            stop_demo(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="how long to sample first")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds per sample")
    parser.add_argument("--node", default="node", help="the node binary to run the demo with")
    parser.add_argument("--only", choices=("demo", "threads", "overview"), default=None,
                        help="make only the demo's screenshots, threads.svg or overview.svg")
    args = parser.parse_args()
    if args.only in (None, "demo"):
        asyncio.run(generate(args.seconds, args.interval, args.node))
    if args.only in (None, "threads"):
        asyncio.run(threads(args.interval, args.node))
    if args.only in (None, "overview"):
        asyncio.run(generate_overview(args.seconds, args.interval, args.node))


if __name__ == "__main__":
    main()
