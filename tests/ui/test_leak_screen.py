"""The leak finder's screen: its classes sorted by any column (`o`, `r`) and filtered by
name or location (`/`), the retainers below following the highlighted class."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import DataTable, Label

from memtui.events import SnapshotSaved
from memtui.heap.leaks import LeakingClass, LeakReport
from memtui.heap.scripts import SourceFiles
from memtui.ui.messages import LeaksReady
from memtui.ui.screens.leaks import LeakScreen
from tests.ui.fake_monitor import T0
from tests.ui.helpers import wait_until

KIB = 1024
CLASSES = [  # as find_leaks ranks them: most retained first
    LeakingClass("Gamma", "1:10:2", count=5, self_size=400, retained_size=1024 * KIB,
                 representative=3),
    LeakingClass("Alpha", "1:4:0", count=10, self_size=100, retained_size=500 * KIB,
                 representative=1),
    LeakingClass("Beta", None, count=50, self_size=5000, retained_size=200 * KIB,
                 representative=2),
]


class KnownLeaks(LeakScreen):
    """The screen with a report of three classes instead of analysing snapshot files."""

    def analyse(self) -> None:  # type: ignore[override]
        report = LeakReport(CLASSES, below_floor=0, survivors=900, excluded={},
                            min_retained=64 * KIB, final=None)  # type: ignore[arg-type]
        chains = [(f"{row.label} @{row.representative}", None) for row in CLASSES]
        self.post_message(LeaksReady(report, chains, SourceFiles({1: "/srv/app.js"}, "/srv")))


class Host(App[None]):
    def __init__(self, screen: LeakScreen):
        super().__init__()
        self.leaks = screen

    def on_mount(self) -> None:
        self.push_screen(self.leaks)


def rows(screen: LeakScreen) -> list[str]:
    table = screen.query_one("#leak-classes", DataTable)
    return [str(table.get_row_at(number)[0]) for number in range(table.row_count)]


def chain_title(screen: LeakScreen) -> str:
    return str(screen.query_one("#leak-retainers-title", Label).render())


async def test_sort_by_each_column_reverse_and_filter(tmp_path: Path):
    saved = [SnapshotSaved(tmp_path / f"{role}.heapsnapshot", 1, T0 + n, 0.1)
             for n, role in enumerate(("baseline", "target", "final"))]
    screen = KnownLeaks((saved[0], saved[1], saved[2]))
    async with Host(screen).run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: rows(screen) == ["Gamma", "Alpha", "Beta"])
        assert chain_title(screen) == "Nothing reaches Gamma @3 from the GC roots"
        await pilot.press("o")  # Location, from A: none sorts first
        assert rows(screen) == ["Beta", "Alpha", "Gamma"]
        await pilot.press("o")  # the class, from A
        assert rows(screen) == ["Alpha", "Beta", "Gamma"]
        await pilot.press("r")
        assert rows(screen) == ["Gamma", "Beta", "Alpha"]
        await pilot.press("o")  # # Survived, most first
        assert rows(screen) == ["Beta", "Alpha", "Gamma"]
        assert chain_title(screen) == "Nothing reaches Beta @2 from the GC roots"
        await pilot.press("down")
        assert chain_title(screen) == "Nothing reaches Alpha @1 from the GC roots"
        await pilot.press("slash", *"app.js:1")
        assert rows(screen) == ["Gamma"]  # app.js:11:3 only
        assert chain_title(screen) == "Nothing reaches Gamma @3 from the GC roots"
        await pilot.press("enter")
        assert isinstance(screen.focused, DataTable)
