"""The leak finder's result: the classes of new objects that survived from the target to
the final snapshot, most retained first, and what keeps one of the highlighted class alive,
laid out as the diff browser's classes and retainers. The analysis runs in a thread."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar
from textual.worker import get_current_worker

from memtui.errors import MemtuiError
from memtui.events import SnapshotSaved
from memtui.heap.chains import ChainLine, chain_lines, object_line
from memtui.heap.leaks import check_comparable, find_leaks
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.scripts import source_files
from memtui.ui.messages import AnalysisFailed, AnalysisProgressed, LeaksReady
from memtui.ui.model import clock_time, display_path
from memtui.ui.screens.help import QUIT_KEY, HelpPage, HelpScreen
from memtui.ui.widgets.tables import RowTable
from memtui.units import format_bytes

ROLES = ("Baseline", "target", "final")
COLUMNS = ("Leaking class", "# Survived", "Self Size", "Retained", "Location")
LEAKS_HELP = HelpPage(
    "memtui keys: the leak finder",
    (("↑ ↓", "a class; below, what keeps its object retaining most alive"),
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
        Binding("escape", "app.pop_screen", "back", id="leaks.back"),
        Binding("question_mark", "help", "help", key_display="?", id="leaks.help"),
        Binding("q", "app.quit", "quit", id="leaks.quit"),
    ]

    def __init__(self, snapshots: tuple[SnapshotSaved, SnapshotSaved, SnapshotSaved]):
        super().__init__()
        self.snapshots = snapshots
        self.paths = (snapshots[0].path, snapshots[1].path, snapshots[2].path)
        self.chains: list[tuple[str, list[ChainLine] | None]] = []

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
        files = message.files
        table = self.query_one("#leak-classes", DataTable)
        table.clear(columns=True)
        for title in COLUMNS:
            table.add_column(Text(title, justify="left" if title in (COLUMNS[0], COLUMNS[-1])
                                  else "right"), key=title)
        for number, row in enumerate(report.classes):
            table.add_row(row.label, Text(f"{row.count:,}", justify="right"),
                          Text(format_bytes(row.self_size), justify="right"),
                          Text(format_bytes(row.retained_size), justify="right"),
                          files.describe(row.location), key=str(number))
        table.focus()
        self.show_chain(0)

    @on(DataTable.RowHighlighted, "#leak-classes")
    def class_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_chain(event.cursor_row)

    def show_chain(self, index: int) -> None:
        """What keeps the representative object of the class on line `index` alive."""
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
