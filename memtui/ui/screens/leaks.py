"""The leak finder's result: the classes of new objects that survived from the target to
the final snapshot, most retained first, and what keeps one of the highlighted class alive,
laid out as the diff browser's classes and retainers. The analysis runs in a thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar
from textual.worker import get_current_worker

from memtui.errors import MemtuiError
from memtui.events import SnapshotSaved
from memtui.heap.chains import ChainLine, chain_lines, object_line
from memtui.heap.leaks import LeakingClass, check_comparable, find_leaks
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.scripts import SourceFiles, SourceLocation, source_files
from memtui.ui.messages import AnalysisFailed, AnalysisProgressed, LeaksReady
from memtui.ui.model import clock_time, display_path
from memtui.ui.screens.help import QUIT_KEY, HelpPage, HelpScreen
from memtui.ui.widgets.tables import RowTable
from memtui.units import format_bytes

ROLES = ("Baseline", "target", "final")


@dataclass(frozen=True)
class LeakColumn:
    """A column of the leaking classes: its title, and the value its order sorts by."""

    title: str
    order: Callable[[LeakingClass], tuple[int | str, ...]]
    numeric: bool = True


def _location_order(row: LeakingClass) -> tuple[int, ...]:
    """Script, line, column; a class without a location first."""
    location = SourceLocation.parse(row.location) if row.location else None
    return (-1,) if location is None else (location.script_id, location.line, location.column)


COLUMNS = (
    LeakColumn("Leaking class", lambda row: (row.label.lower(),), numeric=False),
    LeakColumn("# Survived", lambda row: (row.count,)),
    LeakColumn("Self Size", lambda row: (row.self_size,)),
    LeakColumn("Retained", lambda row: (row.retained_size,)),
    LeakColumn("Location", _location_order, numeric=False),
)
DEFAULT_SORT = 3
"""Most retained first, as find_leaks ranks them."""
LEAKS_HELP = HelpPage(
    "memtui keys: the leak finder",
    (("↑ ↓", "a class; below, what keeps its object retaining most alive"),
     ("o", "sort by the next column (the same column again: r)"),
     ("r", "reverse the order"),
     ("/", "show only the classes whose name or location has the text typed"),
     ("esc", "back to the monitor"), ("?", "this help"), QUIT_KEY),
    ("Objects allocated between the baseline and the target snapshot that are still alive "
     "in the final one, by class. Retained: what the class's outermost survivors retain. "
     "Left out: what only weak references, V8's roots or V8 internals hold, and V8's own "
     "objects (code, hidden classes).",),
)


class AnalysisCancelled(Exception):
    """The screen was closed while the worker ran."""


class LeakScreen(Screen[None]):
    """Finds the leaks of three snapshots of this session and shows them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "next_sort", "sort", id="leaks.sort"),
        Binding("r", "reverse_sort", "reverse", show=False, id="leaks.reverse"),
        Binding("slash", "filter", "filter", key_display="/", id="leaks.filter"),
        Binding("escape", "app.pop_screen", "back", id="leaks.back"),
        Binding("question_mark", "help", "help", key_display="?", id="leaks.help"),
        Binding("q", "app.quit", "quit", id="leaks.quit"),
    ]

    def __init__(self, snapshots: tuple[SnapshotSaved, SnapshotSaved, SnapshotSaved]):
        super().__init__()
        self.snapshots = snapshots
        self.paths = (snapshots[0].path, snapshots[1].path, snapshots[2].path)
        self.leaking: list[LeakingClass] = []
        self.chains: list[tuple[str, list[ChainLine] | None]] = []
        self.files: SourceFiles | None = None
        self.sort_column = DEFAULT_SORT
        self.reverse = True
        self.text = ""

    def compose(self) -> ComposeResult:
        yield Label("Leak finder: new objects of the target still alive in the final "
                    "snapshot", classes="screen-title")
        with Vertical(id="diff-browser", classes="loading"):
            yield Label(" → ".join(f"{role} {clock_time(snapshot.taken_at)}" for role, snapshot
                                   in zip(ROLES, self.snapshots, strict=True))
                        + f" (in {display_path(self.paths[0].parent)})", id="diff-title")
            with Horizontal(id="diff-loading"):
                yield Label("", id="diff-step")
                yield ProgressBar(show_eta=False, id="diff-progress")
            yield Label("", id="diff-message")
            yield Label("", id="leaks-summary", classes="diff-level-title")
            yield Input(placeholder="/ filter the classes by name or location", compact=True,
                        id="leak-filter")
            yield RowTable(zebra_stripes=True, id="leak-classes")
            yield Label("", id="leak-retainers-title", classes="diff-level-title")
            yield RowTable(id="leak-retainers")
        yield Footer()

    def on_mount(self) -> None:
        self.analyse()

    @work(thread=True, exclusive=True, group="leaks")
    def analyse(self) -> None:
        worker = get_current_worker()

        def on_step(step: str) -> None:
            if worker.is_cancelled:
                raise AnalysisCancelled
            self.post_message(AnalysisProgressed(step + "…", None))

        try:
            analyses = []
            for path in self.paths:
                def on_progress(fraction: float, name: str = path.name) -> None:
                    if worker.is_cancelled:
                        raise AnalysisCancelled
                    self.post_message(AnalysisProgressed(f"parsing {name}…", fraction))
                analyses.append(HeapAnalysis.of_file(path, on_progress))
            baseline, target, final = analyses
            check_comparable(self.paths, (baseline, target, final))
            with final.steps_reported_to(on_step):
                report = find_leaks(baseline, target, final, on_step=on_step)
                chains = []
                for row in report.classes:
                    chain = final.retainers.chain(row.representative)
                    chains.append((object_line(final, row.representative),
                                   None if chain is None else chain_lines(final, chain)))
                files = source_files(self.paths[2], final.script_names)
        except AnalysisCancelled:
            return
        except MemtuiError as error:
            self.post_message(AnalysisFailed(str(error)))
            return
        self.post_message(LeaksReady(report, chains, files))

    def on_analysis_progressed(self, message: AnalysisProgressed) -> None:
        self.query_one("#diff-step", Label).update(message.step)
        bar = self.query_one("#diff-progress", ProgressBar)
        if message.fraction is None:
            bar.update(total=None)
        else:
            bar.update(total=1.0, progress=message.fraction)

    def on_analysis_failed(self, message: AnalysisFailed) -> None:
        self.query_one("#diff-browser").set_class(False, "loading")
        self.say(message.error)

    def say(self, text: str) -> None:
        self.query_one("#diff-message", Label).update(text)
        self.query_one("#diff-browser").set_class(bool(text), "has-message")

    def on_leaks_ready(self, message: LeaksReady) -> None:
        self.query_one("#diff-browser").set_class(False, "loading")
        report = message.report
        self.chains = message.chains
        left_out = sum(report.excluded.values())
        self.query_one("#leaks-summary", Label).update(
            f"{report.survivors:,} new objects survived ({left_out:,} left out as the "
            f"runtime's own); a leaking class retains {format_bytes(report.min_retained)}+")
        if not report.classes:
            self.say(f"No leak found: the survivors of no class retain "
                     f"{format_bytes(report.min_retained)} or more.")
        self.leaking = report.classes
        self.files = message.files
        self.fill_classes()
        self.query_one("#leak-classes", DataTable).focus()

    def shown_classes(self) -> list[int]:
        """The indices of the classes shown, in the order shown."""
        text = self.text.lower()
        shown = [number for number, row in enumerate(self.leaking)
                 if text in row.label.lower() or text in self.location(row).lower()]
        order = COLUMNS[self.sort_column].order
        return sorted(shown, key=lambda number: order(self.leaking[number]),
                      reverse=self.reverse)

    def fill_classes(self) -> None:
        """Rebuild the classes table from the sort and the filter; the highlighted class's
        chain follows."""
        table = self.query_one("#leak-classes", DataTable)
        table.clear(columns=True)
        for number, column in enumerate(COLUMNS):
            arrow = (" ↓" if self.reverse else " ↑") if number == self.sort_column else ""
            table.add_column(Text(column.title + arrow,
                                  justify="right" if column.numeric else "left"),
                             key=column.title)
        shown = self.shown_classes()
        for number in shown:
            row = self.leaking[number]
            table.add_row(row.label, Text(f"{row.count:,}", justify="right"),
                          Text(format_bytes(row.self_size), justify="right"),
                          Text(format_bytes(row.retained_size), justify="right"),
                          self.location(row), key=str(number))
        self.show_chain(shown[0] if shown else -1)

    def location(self, row: LeakingClass) -> str:
        """The class's location as shown: `file:line:column`."""
        return self.files.describe(row.location) if self.files is not None else ""

    def sort_by(self, column: int) -> None:
        """Sort by that column: numbers from the largest, text from A."""
        self.sort_column = column
        self.reverse = COLUMNS[column].numeric
        self.fill_classes()

    def action_next_sort(self) -> None:
        self.sort_by((self.sort_column + 1) % len(COLUMNS))

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse
        self.fill_classes()

    def action_filter(self) -> None:
        self.query_one("#leak-filter", Input).focus()

    @on(Input.Changed, "#leak-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.text = event.value
        self.fill_classes()

    @on(Input.Submitted, "#leak-filter")
    def filter_done(self) -> None:
        self.query_one("#leak-classes", DataTable).focus()

    @on(DataTable.RowHighlighted, "#leak-classes")
    def class_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_chain(int(event.row_key.value or -1))

    def show_chain(self, index: int) -> None:
        """What keeps the representative object of class `index` of the report alive."""
        table = self.query_one("#leak-retainers", DataTable)
        table.clear(columns=True)
        title = self.query_one("#leak-retainers-title", Label)
        if not 0 <= index < len(self.chains):
            title.update("")
            return
        name, lines = self.chains[index]
        title.update(f"What keeps {name} alive, nearest first" if lines is not None
                     else f"Nothing reaches {name} from the GC roots")
        table.add_column("Object, then what holds it", key="line")
        table.add_row(Text(name, style="bold"), key="object")
        for number, line in enumerate(lines or []):
            table.add_row(Text(line.describe(), style="italic" if line.folded else ""),
                          key=str(number))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(LEAKS_HELP))
