"""The timeline chart: chosen metrics over the window, with markers as labelled vertical lines.

Plotext takes tens of milliseconds to draw a large chart, so the drawing happens in a
thread worker, which also turns plotext's cells into Textual strips; the widget renders
the last finished strips as they are.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Any

from plotext._utility import (
    colors_to_ansi,
    get_matrix_data,
)
from rich.ansi import AnsiDecoder
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.strip import Strip
from textual.timer import Timer
from textual.worker import get_current_worker
from textual_plotext import Plot, PlotextPlot

from memtui.sampler import HeapAfterGc, Sample
from memtui.ui.model import HEAP_USED, Marker, Metric, TimeWindow, downsample
from memtui.verdict import Trend

MIB = 1024 * 1024
LINE_COLORS = {"heap_used": "cyan", "heap_total": "magenta", "rss": "green",
               "external": "blue+", "array_buffers": "red+"}
"""Each metric's colour, the same on every chart; the title names each in its colour."""
MARKER_COLOR = "orange"
"""plotext's name for ANSI yellow (it knows no "yellow": that name drew the default colour)."""
BASELINE_COLOR = "white"
"""The heap after each major GC, drawn as dots wherever heap used is drawn."""
TREND_COLORS = {True: "red", False: "gray"}
"""The baseline's trend line: red when the verdict is a leak."""
MAX_POINTS = 400
MIN_ABBREVIATION = 3
"""A marker label is cut to no fewer characters (and `…`) to find room beside its line."""
MAX_LABEL_GAP = 8
"""How many columns, blank or holding other markers' lines, may part a label from its line."""
BLANK_CELLS = frozenset({" ", "\u2800"})


@dataclass(frozen=True)
class ChartRequest:
    """Everything one drawing needs, frozen so a thread can use it safely."""

    points: tuple[Sample, ...]
    metrics: tuple[Metric, ...]
    markers: tuple[Marker, ...]
    window: TimeWindow
    end: float | None
    baseline: tuple[HeapAfterGc, ...] = ()
    trend: Trend | None = None
    leaking: bool = False

    @property
    def draws_baseline(self) -> bool:
        """Whether the post-GC baseline and its trend are drawn: with heap used, when known."""
        return HEAP_USED in self.metrics and bool(self.baseline)

    @property
    def span(self) -> float:
        """The seconds the x axis covers, ending at `end`."""
        if self.window.seconds is not None:
            return self.window.seconds
        if not self.points or self.end is None:
            return 1.0
        return max(self.end - self.points[0].t, 1.0)

    def markers_in_view(self) -> list[Marker]:
        """The markers within the x axis, in the order given."""
        if self.end is None:
            return []
        end = self.end
        return [m for m in self.markers if -self.span <= m.t - end <= 0]


def _tick_label(seconds_before: float) -> str:
    if seconds_before == 0:
        return "now"
    if seconds_before % 60 == 0:
        return f"-{seconds_before / 60:g}m"
    return f"-{seconds_before:g}s"


def _ticks(span: float) -> list[float]:
    """Four or five round instants between -span and 0."""
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400):
        if span / step <= 5:
            break
    count = int(span // step)
    return [-(count - i) * step for i in range(count)] + [0.0]


def title_parts(request: ChartRequest) -> list[tuple[str, str | None]]:
    """The title as (text, colour) runs: each metric's name in its line's colour, then the
    unit and the window."""
    parts: list[tuple[str, str | None]] = []
    for metric in request.metrics:
        if parts:
            parts.append((", ", None))
        parts.append((metric.label, LINE_COLORS[metric.field]))
    if request.draws_baseline:
        parts.append((", ", None))
        parts.append(("• after GC", BASELINE_COLOR))
        if request.trend is not None:
            parts.append((", ", None))
            parts.append(("trend", TREND_COLORS[request.leaking]))
    window = request.window
    parts.append((" (MiB) — " + (f"last {window.label}" if window.seconds else "all"), None))
    return parts


def plot(request: ChartRequest, width: int, height: int, theme: str) -> Plot:
    """The plotext figure of the chart, `width` x `height` cells, set up but not built: the
    lines without plotext's legend (the title names them in their colours), the markers'
    lines without labels (`annotate` writes those where they hide nothing)."""
    plt = Plot()
    plt.plotsize(width, height)
    plt.theme(theme)
    plt.title("".join(text for text, _ in title_parts(request)))
    points, end = request.points, request.end
    if not points or end is None:
        return plt
    span = request.span
    xs = [s.t - end for s in points]
    lowest, highest = float("inf"), 0.0
    for metric in request.metrics:
        ys = [metric.of(s) / MIB for s in points]
        lowest, highest = min(lowest, *ys), max(highest, *ys)
        plt.plot(xs, ys, color=LINE_COLORS[metric.field], marker="braille")
    if request.draws_baseline:
        trend = request.trend
        if trend is not None:
            start = max(trend.end - trend.span_s, end - span)
            plt.plot([start - end, 0.0],
                     [(trend.at_end + trend.slope * (t - trend.end)) / MIB for t in (start, end)],
                     color=TREND_COLORS[request.leaking], marker="braille")
        shown = [p for p in request.baseline if -span <= p.t - end <= 0]
        if shown:
            ys = [p.heap_used / MIB for p in shown]
            lowest, highest = min(lowest, *ys), max(highest, *ys)
            plt.scatter([p.t - end for p in shown], ys, color=BASELINE_COLOR, marker="dot")
    for marker in request.markers_in_view():
        plt.vline(marker.t - end, MARKER_COLOR)
    plt.xlim(-span, 0)
    plt.ylim(lowest, highest)
    ticks = _ticks(span)
    plt.xticks(ticks, [_tick_label(-t) for t in ticks])
    return plt


def build_matrix(request: ChartRequest, width: int, height: int, theme: str) -> Any:
    """plotext's cell matrix of the chart, with the title and the marker labels written in."""
    figure: Any = plot(request, width, height, theme)
    figure._set_sizes()
    figure._build_matrix()
    matrix = figure.monitor.matrix
    annotate(matrix, request)
    return matrix


def annotate(matrix: Any, request: ChartRequest) -> None:
    """Label each marker's line in blank cells beside it, and write the title.

    Newest first, each label takes the highest row where it fits beside its line (right of
    it, else left) on blank cells only, so it hides no plotted line and no other label; a
    label that does not fit is cut (`deplo…`), and one that fits nowhere even cut is named
    in the title instead.
    """
    end = request.end
    in_view = request.markers_in_view()
    unplaced: set[int] = set()
    if end is not None and matrix.Cols_canvas and matrix.Rows_canvas:
        canvas_width = len(matrix.Cols_canvas)
        labelled: set[tuple[int, int]] = set()
        for index in sorted(range(len(in_view)), key=lambda i: in_view[i].t, reverse=True):
            marker = in_view[index]
            column = matrix.Cols_canvas.start + _canvas_column(marker.t - end, request.span,
                                                               canvas_width)
            if not _place_label(matrix, column, marker.label, labelled):
                unplaced.add(index)
    _write_title(matrix, title_parts(request), [in_view[i].label for i in sorted(unplaced)])


def _canvas_column(x: float, span: float, width: int) -> int:
    """The canvas column plotext draws x (in -span..0) at."""
    return int(get_matrix_data([x], [-span, 0.0], width)[0])


def _abbreviations(label: str) -> list[str]:
    """`label`, then ever shorter cuts of it ending in `…`."""
    return [label] + [label[:keep] + "…" for keep in range(len(label) - 1, MIN_ABBREVIATION - 1,
                                                             -1)]


def _place_label(matrix: Any, column: int, label: str, labelled: set[tuple[int, int]]) -> bool:
    """Write `label` beside the marker line at `column`, covering only blank cells and
    touching no other label; between the two only other markers' lines may stand (up to
    MAX_LABEL_GAP of them). The whole label anywhere comes before a cut one; nearer the line
    before higher up. False if it fits nowhere."""
    columns = matrix.Cols_canvas

    def free(row: int, cells: range, lines_allowed: bool) -> bool:
        return all((row, c) not in labelled and (
            matrix.marker[row][c] in BLANK_CELLS
            or (lines_allowed and matrix.marker[row][c] == "│"
                and matrix.fullground[row][c] == MARKER_COLOR)) for c in cells)

    for text in _abbreviations(label):
        length = len(text)
        for gap in range(MAX_LABEL_GAP + 1):
            for row in reversed(matrix.Rows_canvas):
                for start, between in ((column + 1 + gap, range(column + 1, column + 1 + gap)),
                                       (column - gap - length, range(column - gap, column))):
                    cells = range(start, start + length)
                    if (start < columns.start or cells.stop > columns.stop
                            or not free(row, cells, False) or not free(row, between, True)
                            or (row, start - 1) in labelled or (row, cells.stop) in labelled):
                        continue
                    for offset, c in enumerate(cells):
                        matrix.insert_element(c, row, text[offset], MARKER_COLOR)
                        labelled.add((row, c))
                    return True
    return False


def _write_title(matrix: Any, parts: list[tuple[str, str | None]], unplaced: list[str]) -> None:
    """Rewrite plotext's title row: the metric names in their colours, then the markers that
    found no room on the canvas (as many as fit, then how many more), centred on the canvas
    as plotext centres its title; on a chart too narrow for the whole title (plotext then
    leaves its row blank), as much of it as fits."""
    if matrix.rows < 2:
        return
    row = matrix.rows - 1
    base_color = next((matrix.fullground[r][c] for r in (row, row - 1) for c in range(matrix.cols)
                       if matrix.marker[r][c] not in BLANK_CELLS), None)
    if base_color is None:
        return
    if unplaced:
        room = matrix.cols - sum(len(text) for text, _ in parts)
        parts = [*parts, (_unplaced_note(unplaced, room), MARKER_COLOR)]
    cells = [(char, color or base_color) for text, color in parts for char in text]
    if len(cells) > matrix.cols:
        cells = [*cells[:matrix.cols - 1], ("…", base_color)]
    canvas = matrix.Cols_canvas
    centre = canvas.start + len(canvas) // 2 if canvas else matrix.cols // 2
    start = min(max(centre - len(cells) // 2, 0), matrix.cols - len(cells))
    for c in range(matrix.cols):
        matrix.insert_element(c, row, " ")
    for offset, (char, color) in enumerate(cells):
        matrix.insert_element(start + offset, row, char, color)


def _unplaced_note(labels: list[str], room: int) -> str:
    """`; markers: a, b +3 more`, naming as many of `labels` as `room` cells allow."""
    for named in range(len(labels), 0, -1):
        more = len(labels) - named
        note = "; markers: " + ", ".join(labels[:named]) + (f" +{more} more" if more else "")
        if len(note) <= room:
            return note
    return f"; {len(labels)} markers"


@lru_cache(maxsize=256)
def _cell_style(foreground: object, style: object, background: object) -> Style:
    """The Rich style of a plotext cell, as Rich reads the ANSI codes plotext writes for it."""
    line = AnsiDecoder().decode_line(colors_to_ansi(foreground, style, background) + " ")
    return line.get_style_at_offset(_STYLE_CONSOLE, 0)


_STYLE_CONSOLE = Console(color_system="truecolor", file=io.StringIO())


def to_strips(matrix: Any) -> list[Strip]:
    """plotext's cell matrix as strips, top row first.

    The same cells and styles as parsing the matrix's ANSI text (`matrix.set_canvas()`)
    with Rich, without writing and parsing that text (most of a build's time at 200 columns).
    """
    strips = []
    for row in reversed(range(matrix.rows)):
        markers = matrix.marker[row]
        segments = []
        start = 0
        for colors, run in groupby(zip(matrix.fullground[row], matrix.style[row],
                                       matrix.background[row], strict=True)):
            end = start + sum(1 for _ in run)
            segments.append(Segment("".join(markers[start:end]),
                                    _cell_style(*map(_hashable, colors))))
            start = end
        strips.append(Strip(segments, matrix.cols))
    return strips


def _hashable(color: object) -> object:
    return tuple(color) if isinstance(color, list) else color


DrawingKey = tuple[ChartRequest, int, int, str]
"""What a drawing shows: the request, the width and height in cells, the plotext theme."""


def seconds_to_next_column(drawn: DrawingKey | None, wanted: DrawingKey) -> float:
    """How long `wanted` may wait after `drawn` (0: draw now).

    Positive only when the two differ just in samples and end time, by less than the time
    one cell column of the chart's width stands for.
    """
    if drawn is None or drawn[1:] != wanted[1:]:
        return 0.0
    before, after = drawn[0], wanted[0]
    if (before.end is None or after.end is None or not after.points
            or (before.metrics, before.markers, before.window, before.leaking)
            != (after.metrics, after.markers, after.window, after.leaking)):
        return 0.0
    return max(0.0, after.span / wanted[1] - (after.end - before.end))


def draw(request: ChartRequest, width: int, height: int, theme: str) -> list[Strip]:
    """The chart as `height` strips of `width` cells."""
    return to_strips(build_matrix(request, width, height, theme))


class MemoryChart(PlotextPlot):
    """Drawn in a thread; renders the last drawing.

    When only time moved on since the last drawing, the chart waits for a sample that moves
    it by at least one cell column, so long windows and small terminals draw less often
    than once a sample. Anything else changing draws at once, and so does `flush`; if no
    such sample comes, the latest one is drawn `stale_grace` seconds after its column is due.
    """

    stale_grace = 1.0

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.request: ChartRequest | None = None
        self.drawn_for: DrawingKey | None = None
        self.strips: list[Strip] = []
        self.drawing_pending = False
        self.deferred: Timer | None = None

    def show(self, samples: Sequence[Sample], metrics: Sequence[Metric],
             markers: Sequence[Marker], window: TimeWindow, end: float | None,
             baseline: Sequence[HeapAfterGc] = (), trend: Trend | None = None,
             leaking: bool = False) -> None:
        """Plot `metrics` of `samples` (in MiB, time relative to `end`), the markers in view
        and, with heap used, the post-GC `baseline` and its `trend` (red when `leaking`)."""
        points = downsample(samples, min(MAX_POINTS, max(2, self.size.width * 2)))
        dots = baseline
        if len(baseline) > MAX_POINTS:
            step = len(baseline) / MAX_POINTS
            dots = [baseline[int(i * step)] for i in range(MAX_POINTS)]
        self.request = ChartRequest(tuple(points), tuple(metrics), tuple(markers), window, end,
                                    tuple(dots), trend, leaking)
        self.redraw()

    def on_resize(self) -> None:
        if self.request is not None:
            self.redraw()

    def drawing_key(self) -> DrawingKey | None:
        """What the chart should show now; None before its first request."""
        if self.request is None:
            return None
        return (self.request, self.size.width, self.size.height,
                self._get_plotext_theme_name(self.app.theme))

    def redraw(self) -> None:
        key = self.drawing_key()
        if key is None or key == self.drawn_for:
            self.drawing_pending = False
            return
        self.drawing_pending = True
        wait = seconds_to_next_column(self.drawn_for, key)
        if wait == 0:
            self.flush()
        elif self.deferred is None:
            self.deferred = self.set_timer(wait + self.stale_grace, self.flush)

    def flush(self) -> None:
        """Draw the latest request now unless it is already drawn or being drawn."""
        if self.deferred is not None:
            self.deferred.stop()
            self.deferred = None
        key = self.drawing_key()
        if key is not None and key != self.drawn_for:
            self.drawing_pending = True
            self.draw_in_thread(key)

    @work(thread=True, exclusive=True, group="chart")
    def draw_in_thread(self, key: DrawingKey) -> None:
        strips = draw(*key)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.drawing_done, key, strips)

    def drawing_done(self, key: DrawingKey, strips: list[Strip]) -> None:
        self.strips = strips
        self.drawn_for = key
        self.drawing_pending = key != self.drawing_key()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if y < len(self.strips):
            return self.strips[y]
        return Strip.blank(self.size.width, self.rich_style)
