"""What a snapshot holds beyond classes: DevTools' Statistics view, the duplicated strings and
the largest objects by retained size. Computed in a thread worker."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static
from textual.worker import get_current_worker

from memtui.heap.pipeline import HeapAnalysis
from memtui.ui.messages import AnalysisProgressed, StatisticsReady
from memtui.ui.screens.help import QUIT_KEY, HelpPage, HelpScreen
from memtui.units import format_bytes

LISTED = 20
MAX_STRING_SHOWN = 60

STATISTICS_HELP = HelpPage(
    "memtui keys: the statistics of a snapshot",
    (
        ("↑ ↓", "scroll a line; PgUp PgDn: a page, Home End: top / bottom"),
        ("esc t", "back to the diff browser"),
        ("?", "this help"),
        QUIT_KEY,
    ),
    ("Statistics: the snapshot's shallow sizes by kind, as DevTools' Statistics view "
     "counts them.",
     "Duplicated strings: one text held by several string objects; Wasted is what all "
     "copies but one retain.",
     "Largest objects: those retaining most, what freeing each alone would free."),
)


class HeapStatisticsScreen(Screen[None]):
    """The statistics of one analysed snapshot; escape or t goes back, ? lists the keys,
    q quits memtui."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,t", "app.pop_screen", "back", id="statistics.close"),
        Binding("question_mark", "help", "help", key_display="?", id="statistics.help"),
        Binding("q", "app.quit", "quit", id="statistics.quit"),
    ]

    def __init__(self, analysis: HeapAnalysis, title: str):
        super().__init__()
        self.analysis = analysis
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Label(self.title_text, id="statistics-title", classes="screen-title")
        yield Label("", id="statistics-step")
        with VerticalScroll(id="statistics-scroll"):
            yield Static(id="statistics-categories")
            yield Static(id="statistics-strings")
            yield Static(id="statistics-largest")
        yield Footer()

    def on_mount(self) -> None:
        self.compute()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(STATISTICS_HELP))

    @work(thread=True, exclusive=True)
    def compute(self) -> None:
        worker = get_current_worker()

        def on_step(step: str) -> None:
            if not worker.is_cancelled:
                self.post_message(AnalysisProgressed(f"{step}…", None))

        with self.analysis.steps_reported_to(on_step):
            ready = StatisticsReady(self.analysis.statistics,
                                    self.analysis.duplicate_strings[:LISTED],
                                    self.analysis.largest_objects(LISTED))
        if not worker.is_cancelled:
            self.post_message(ready)

    def on_analysis_progressed(self, message: AnalysisProgressed) -> None:
        self.query_one("#statistics-step", Label).update(message.step)

    def on_statistics_ready(self, message: StatisticsReady) -> None:
        self.query_one("#statistics-step", Label).update("")
        stats = message.statistics
        categories = _table("Statistics", "Size", "Share")
        for name, size in [*stats.rows(), ("Total", stats.total)]:
            share = 100 * size / stats.total if stats.total else 0.0
            categories.add_row(Text(name), format_bytes(size), f"{share:.1f}%")
        self.query_one("#statistics-categories", Static).update(categories)
        strings = _table(f"Duplicated strings ({len(message.strings)} wasting most)", "Count",
                         "Wasted", "Retained")
        for duplicate in message.strings:
            strings.add_row(Text(_quoted(duplicate.value)), f"{duplicate.count:,}",
                            format_bytes(duplicate.wasted_size),
                            format_bytes(duplicate.retained_size))
        self.query_one("#statistics-strings", Static).update(strings)
        largest = _table("Largest objects", "Shallow", "Retained")
        for item in message.largest:
            largest.add_row(Text(item.label), format_bytes(item.self_size),
                            format_bytes(item.retained_size))
        self.query_one("#statistics-largest", Static).update(largest)


def _table(first: str, *numbers: str) -> Table:
    table = Table(box=None, padding=(0, 2), header_style="bold", pad_edge=False)
    table.add_column(first, overflow="ellipsis", no_wrap=True, ratio=1)
    for title in numbers:
        table.add_column(title, justify="right", no_wrap=True)
    return table


def _quoted(value: str) -> str:
    shown = value if len(value) <= MAX_STRING_SHOWN else value[:MAX_STRING_SHOWN - 1] + "…"
    return '"' + shown.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'
