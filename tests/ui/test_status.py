"""The status line holds results long enough to read; the message log keeps every message."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

from rich.console import Console
from rich.table import Table
from textual.widgets import Static

from memtui.errors import MemtuiError
from memtui.events import Reconnected, Responsive, Unresponsive
from memtui.ui.screens.help import HelpScreen
from memtui.ui.screens.log import MessageLogScreen
from memtui.ui.screens.monitor import MonitorScreen
from memtui.ui.widgets.status import StatusLine
from tests.ui.fake_monitor import T0
from tests.ui.helpers import status_text, wait_until
from tests.ui.test_app import SIZE, attached

SAVED = "snapshot saved (file 31.0 MiB, 1.4s): /var/tmp/memtui/memtui-4242-1.heapsnapshot"


def rendered(renderable: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def log_text(pilot) -> str:
    """The message log as drawn, its wrapped lines joined again."""
    messages = pilot.app.screen.query_one("#log-messages", Static)
    return re.sub(r"\s+", " ", rendered(messages.content, messages.size.width))


def logged(pilot) -> list[str]:
    return [m.full_text for m in pilot.app.monitor_screen.query_one(StatusLine).messages]


async def snapshot_saved(pilot, fake) -> None:
    await attached(pilot, fake)
    await pilot.press("s")
    await wait_until(pilot, lambda: status_text(pilot) == SAVED, what="snapshot saved")


class TestHeldResults:
    """A result (a saved snapshot, what a GC freed, a failure) is not replaced by the
    target's state changing; it is replaced by the reply to a key."""

    async def test_responsive_again_does_not_replace_the_saved_snapshot(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await snapshot_saved(pilot, fake)
            fake.feed(Unresponsive(T0 + 301), Responsive(T0 + 302))
            await wait_until(pilot, lambda: "target responsive again at 10:35:02" in logged(pilot),
                             what="responsive event handled")
            assert app.monitor_screen.target_state == "live"
            assert status_text(pilot) == SAVED

    async def test_the_waiting_state_message_shows_when_the_hold_ends(self, make_app,
                                                                      monkeypatch):
        monkeypatch.setattr(StatusLine, "hold_seconds", 0.2)
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await snapshot_saved(pilot, fake)
            fake.feed(Unresponsive(T0 + 301), Responsive(T0 + 302))
            await wait_until(pilot, lambda: status_text(pilot)
                             == "target responsive again at 10:35:02", what="hold ended")

    async def test_a_failure_stays_too(self, make_app):
        app, fake = make_app()
        fake.gc_error = MemtuiError("inspector closed the session")
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("g")
            await wait_until(pilot, lambda: "GC failed" in status_text(pilot))
            fake.feed(Reconnected(T0 + 302))
            await wait_until(pilot, lambda: "reconnected at 10:35:02" in logged(pilot))
            assert status_text(pilot) == "GC failed: inspector closed the session"

    async def test_a_key_reply_replaces_the_held_result_at_once(self, make_app):
        app, fake = make_app()
        fake.gc_release = asyncio.Event()
        async with app.run_test(size=SIZE) as pilot:
            await snapshot_saved(pilot, fake)
            await pilot.press("g")
            await wait_until(pilot, lambda: status_text(pilot) == "GC requested…")
            fake.gc_release.set()
            await wait_until(pilot, lambda: "GC freed" in status_text(pilot))


class TestPathOnTheStatusLine:
    """At 80 columns a long snapshot path loses its middle, never the file name's end."""

    async def test_the_file_name_stays_whole(self, make_app):
        directory = Path("/var/lib/memtui/production/api-gateway/heap-snapshots")
        app, fake = make_app(snapshot_dir=directory)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            await pilot.press("s")
            await wait_until(pilot, lambda: "snapshot saved" in status_text(pilot))
            await pilot.pause()
            drawn = app.monitor_screen.query_one(StatusLine).render_line(0).text.strip()
            assert drawn == (
                "snapshot saved (file 31.0 MiB, 1.4s): /var/lib/…/memtui-4242-1.heapsnapshot")
            assert status_text(pilot).endswith(f"{directory}/memtui-4242-1.heapsnapshot")


class TestMessageLog:
    """`L` lists every message of the session with its time, paths whole; escape leaves."""

    async def test_shift_l_shows_every_message_even_those_never_shown(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await snapshot_saved(pilot, fake)
            fake.feed(Unresponsive(T0 + 301), Responsive(T0 + 302))
            await wait_until(pilot, lambda: "target responsive again at 10:35:02" in logged(pilot))
            await pilot.press("L")
            assert isinstance(app.screen, MessageLogScreen)
            await pilot.pause()
            assert log_text(pilot).strip() == (
                "10:35:00 attaching… 10:35:00 attached; sampling"
                " 10:35:00 checking the memory a snapshot needs…"
                " 10:35:00 capturing a heap snapshot; the target pauses while V8 writes it…"
                f" 10:35:00 {SAVED}"
                " 10:35:00 target unresponsive since 10:35:01 (event loop blocked?)"
                " 10:35:00 target responsive again at 10:35:02")

            fake.feed(Reconnected(T0 + 303))
            await wait_until(pilot, lambda: log_text(pilot).endswith(
                "10:35:00 reconnected at 10:35:03 "), what="the log follows new messages")
            await pilot.press("escape")
            assert isinstance(app.screen, MonitorScreen)

    async def test_the_leak_key_is_in_the_footer_and_the_log_key_in_the_help(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, fake)
            footer = {(key.key, key.description) for key in app.screen.query("FooterKey")}
            assert ("l", "leaks") in footer  # L, the log, is in the help: 80 columns are full
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.pause()
            keys = next(s for s in app.screen.query(Static) if isinstance(s.content, Table))
            assert re.search(r"^ *L +the message log", rendered(keys.content, 70), re.M)
            assert re.search(r"^ *l +find leaks: a baseline", rendered(keys.content, 70), re.M)
