"""The threads panel: worker threads as sub-rows of the target, and the thread s and g act on."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console

from memtui.events import WorkerLeft, WorkersSampled, WorkerView
from memtui.node_worker import WorkerInfo
from memtui.sampler import History
from memtui.ui.widgets.status import StatusLine
from memtui.ui.widgets.threads import ThreadsPanel
from tests.ui.fake_monitor import MIB, make_sample
from tests.ui.helpers import status_text, wait_until
from tests.ui.test_app import SIZE, attached

RESIZER = WorkerInfo(session_id="1", worker_id="2", name="resizer", url="")


def leaking_worker(samples: int) -> tuple[WorkerView, History]:
    """Worker 2, whose heap grows 1 MiB a sample."""
    history = History(100)
    for i in range(samples):
        history.append(replace(make_sample(i), heap_used=10 * MIB + i * MIB,
                               heap_total=40 * MIB))
    return WorkerView(RESIZER, "live", history.latest, None, None), history


def panel_lines(panel: ThreadsPanel) -> list[str]:
    console = Console(width=panel.content_region.width, record=True, file=io.StringIO())
    console.print(panel.content)
    return console.export_text().splitlines()


def messages(pilot) -> list[str]:
    return [message.text for message in pilot.app.monitor_screen.query_one(StatusLine).messages]


class TestThreadsPanel:
    async def test_hidden_without_worker_threads(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake, 3)
            assert not pilot.app.screen.query_one(ThreadsPanel).display

    async def test_a_worker_is_a_row_under_the_main_thread_with_its_own_heap(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake, 3)
            view, history = leaking_worker(3)
            fake.workers = [(view, history)]
            fake.feed(WorkersSampled(history.latest.t, (view,)))
            panel = pilot.app.screen.query_one(ThreadsPanel)
            await wait_until(pilot, lambda: panel.display, what="the threads panel")
            lines = panel_lines(panel)
            assert lines[0].split()[:3] == ["thread", "heap", "used"], lines
            assert lines[1].split()[:2] == ["▸", "main"], lines
            assert lines[2].split()[:8] == ["w2", "resizer", "12.0", "MiB", "+2.0", "MiB",
                                            "40.0", "MiB"], lines

    async def test_w_selects_a_worker_for_s_and_g_until_it_exits(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake, 3)
            view, history = leaking_worker(3)
            fake.workers = [(view, history)]
            fake.feed(WorkersSampled(history.latest.t, (view,)))
            await pilot.press("w")
            assert "s and g act on worker 2" in status_text(pilot)
            await pilot.press("s")
            await wait_until(pilot, lambda: len(fake.snapshots) == 1, what="the snapshot")
            await pilot.press("g")
            await wait_until(pilot, lambda: len(fake.acted_on) == 2, what="the GC")
            fake.workers = []
            fake.feed(WorkerLeft(history.latest.t + 1, RESIZER))
            await wait_until(pilot, lambda: any("worker 2 (resizer) exited" in text
                                                for text in messages(pilot)),
                             what="the worker's exit")
            assert messages(pilot)[-1].endswith("; s and g act on the main thread again")
            await pilot.press("s")
            await wait_until(pilot, lambda: len(fake.snapshots) == 2, what="the snapshot")
        assert fake.acted_on == ["2", "2", None]

    async def test_w_without_workers_says_so(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("w")
            assert "the target has no worker threads" in status_text(pilot)
