"""The overview against real Node processes (issue 11.3): several processes with closed
inspectors watched at once, each opened with SIGUSR1 and closed again when memtui leaves;
a cluster primary and its workers with --children, workers forked and exiting meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memtui import attach
from memtui.attach import find_inspector_address
from memtui.monitor import Monitor
from memtui.selection import Selection
from memtui.ui import MemtuiApp, Watchlist
from memtui.ui.model import TargetState
from tests.cli_helpers import wait_until_inspector_closed
from tests.nodeproc import NodeProcess
from tests.test_attach import cluster_port, free_port, wait_for_new_worker
from tests.ui.helpers import wait_until

ATTACH_TIMEOUT_S = 30.0


def live_pids(app: MemtuiApp) -> set[int]:
    return {target.pid for target in app.listed if target.state is TargetState.LIVE
            and target.pid is not None}


def line_matching(process: NodeProcess, pattern: str) -> re.Match | None:
    """The first line of the process's output that matches, without blocking the app."""
    return next((m for line in list(process.lines) if (m := re.search(pattern, line))), None)


def rows(app: MemtuiApp) -> str:
    """Every row's state and the overview's notes, for a failure's message."""
    states = [(t.name, t.state.value, t.refusal, t.messages[-1].text if t.messages else None)
              for t in app.listed]
    return f"rows {states}; notes {notes(app)}"


def notes(app: MemtuiApp) -> list[str]:
    return [message.text for message in app.notes]


def family_overview(pid: int, snapshot_dir: Path, limit: int | None = None) -> MemtuiApp:
    """The overview of `memtui --children PID` (sampling every 0.25 s)."""
    selection = Selection(children_of=pid)
    return MemtuiApp(Watchlist(
        find=selection.find, title=selection.describe(), grows=selection.grows, limit=limit,
        new_monitor=lambda spec: Monitor(spec, interval=0.25, snapshot_dir=snapshot_dir)))


@contextlib.asynccontextmanager
async def running(app: MemtuiApp) -> AsyncIterator:
    """The app under Pilot, and every monitor closed after it however the test ends (as
    run_overview does), so that a failing test leaves no inspector open."""
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            yield pilot
    finally:
        await asyncio.gather(*(target.monitor.close() for target in app.targets
                               if target.monitor.attached))


async def quit_and_wait(pilot, app: MemtuiApp) -> None:
    await pilot.press("q")
    await wait_until(pilot, lambda: not app.is_running, timeout=20, what="detached")


@pytest.mark.parametrize("count", [2, 5])
async def test_processes_with_closed_inspectors_are_watched_at_once(spawn, tmp_path, count):
    port = free_port()
    targets = [spawn("idle.js", f"--inspect-port={port}") for _ in range(count)]
    watchlist = Watchlist(
        find=lambda: [str(target.pid) for target in targets], title="the processes given",
        new_monitor=lambda spec: Monitor(spec, interval=0.25, snapshot_dir=tmp_path),
        grows=False)
    app = MemtuiApp(watchlist)
    async with running(app) as pilot:
        started = time.monotonic()
        await wait_until(pilot, lambda: live_pids(app) == {t.pid for t in targets},
                         timeout=ATTACH_TIMEOUT_S, what=f"{count} rows live")
        print(f"{count} rows live after {time.monotonic() - started:.1f}s")
        await quit_and_wait(pilot, app)
    assert app.return_code == 0
    for target in targets:
        assert any(f"Debugger listening on ws://127.0.0.1:{port}/" in line
                   for line in target.lines), target.lines
        assert target.alive()
        assert wait_until_inspector_closed(target.pid)


async def test_a_cluster_and_its_workers_coming_and_going(spawn, tmp_path):
    primary = spawn("cluster.js", f"--inspect-port={cluster_port(5)}", args=("4",))
    app = family_overview(primary.pid, tmp_path)
    watched: set[int] = set()
    try:
        async with running(app) as pilot:
            started = time.monotonic()
            # The primary is attached once its workers are: their inspectors open, its
            # SIGUSR1 (which makes Node's cluster signal each worker) opens no other.
            await wait_until(pilot, lambda: len(live_pids(app)) == 5,
                             timeout=ATTACH_TIMEOUT_S, what="the primary and 4 workers live",
                             state=lambda: rows(app))
            assert len(app.listed) == 5, [(t.name, t.state, t.refusal) for t in app.listed]
            print(f"5 rows live after {time.monotonic() - started:.1f}s")
            assert primary.pid in live_pids(app)
            assert len(app.overview.shown) == 5

            primary.send("fork\n")
            await wait_until(pilot, lambda: line_matching(primary, r"forked (\d+)"),
                             what="a worker forked")
            forked = int(line_matching(primary, r"forked (\d+)").group(1))
            await wait_until(pilot, lambda: forked in live_pids(app),
                             timeout=ATTACH_TIMEOUT_S, what="the forked worker live",
                             state=lambda: rows(app))
            assert f"pid {forked} started; attaching" in notes(app)
            assert len(app.overview.shown) == 6

            primary.send("exit\n")
            await wait_until(pilot, lambda: line_matching(primary, rf"exited {forked}"),
                             timeout=10, what="the forked worker exited")
            await wait_until(pilot, lambda: all(t.pid != forked for t in app.listed),
                             timeout=10, what="the exited worker gone")
            left = [text for text in notes(app) if text.startswith(f"pid {forked} exited")]
            assert left and left[0].endswith("; it left the overview"), notes(app)
            watched = {target.pid for target in app.targets if target.pid is not None}
            await quit_and_wait(pilot, app)
        assert app.exit_message() == "memtui: detached from 6 processes"
        assert len(watched) == 6
        assert primary.pid in watched
        for pid in watched - {forked}:
            assert wait_until_inspector_closed(pid), f"pid {pid}'s inspector is open"
        assert not [line for line in primary.lines if re.search("Starting inspector.*failed",
                                                                line)]
    finally:
        primary.kill()


async def test_a_primary_waits_for_a_worker_forked_while_it_waited(spawn, tmp_path,
                                                                   monkeypatch):
    """A cluster forks a worker (inspector closed) after the overview has attached to its
    first workers and before it tries the primary again, as a worker in a crash loop does:
    the primary is tried once that worker is attached too, not refused."""
    primary = spawn("cluster.js", f"--inspect-port={cluster_port(4)}", args=("2",))
    real = attach.cluster_workers
    checks = 0

    def forking_before_the_second_check(process):
        nonlocal checks
        if process.pid == primary.pid:
            checks += 1
            if checks == 2:
                known = set(real(process))
                primary.send("fork-closed\n")
                wait_for_new_worker(primary.pid, known, workers=real)
        return real(process)

    monkeypatch.setattr(attach, "cluster_workers", forking_before_the_second_check)
    app = family_overview(primary.pid, tmp_path)
    try:
        async with running(app) as pilot:
            await wait_until(pilot, lambda: len(live_pids(app)) == 4,
                             timeout=ATTACH_TIMEOUT_S, what="the primary and 3 workers live",
                             state=lambda: rows(app))
            assert checks >= 3
            assert (f"pid {primary.pid} is a cluster primary: attaching to it once its "
                    "workers are (its SIGUSR1 would open theirs)") in notes(app)
            watched = {target.pid for target in app.targets}
            await quit_and_wait(pilot, app)
        assert app.exit_message() == "memtui: detached from 4 processes"
        for pid in watched:
            assert wait_until_inspector_closed(pid), f"pid {pid}'s inspector is open"
    finally:
        primary.kill()


async def test_a_process_starting_beyond_the_limit_is_listed_and_left_alone(spawn, tmp_path):
    """--max-processes: a worker forked once the overview holds its limit is not signalled;
    its row says why."""
    primary = spawn("cluster.js", f"--inspect-port={cluster_port(3)}", args=("2",))
    app = family_overview(primary.pid, tmp_path, limit=3)
    try:
        async with running(app) as pilot:
            await wait_until(pilot, lambda: len(live_pids(app)) == 3,
                             timeout=ATTACH_TIMEOUT_S, what="the primary and 2 workers live",
                             state=lambda: rows(app))
            primary.send("fork\n")
            await wait_until(pilot, lambda: line_matching(primary, r"forked (\d+)"),
                             what="a worker forked")
            forked = int(line_matching(primary, r"forked (\d+)").group(1))
            await wait_until(pilot, lambda: any(t.pid == forked for t in app.listed),
                             timeout=10, what="the forked worker listed", state=lambda: rows(app))
            row = next(t for t in app.listed if t.pid == forked)
            reason = "the overview attaches to at most 3 processes (--max-processes)"
            assert row.state is TargetState.REFUSED and row.refusal == reason
            assert f"pid {forked} started; not attached: {reason}" in notes(app)
            assert find_inspector_address(forked) is None
            await quit_and_wait(pilot, app)
        assert app.exit_message() == "memtui: detached from 3 processes"
    finally:
        primary.kill()
