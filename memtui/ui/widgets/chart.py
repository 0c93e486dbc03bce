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

from plotext._utility import colors_to_ansi
from rich.ansi import AnsiDecoder
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.strip import Strip
from textual.timer import Timer
from textual.worker import get_current_worker
from textual_plotext import Plot, PlotextPlot

from memtui.sampler import Sample
from memtui.ui.model import Marker, Metric, TimeWindow, downsample

MIB = 1024 * 1024
LINE_COLORS = ("cyan", "magenta", "green")
MAX_POINTS = 400
MARKER_LEVELS = 3
CHART_FRAME_ROWS = 5


@dataclass(frozen=True)
class ChartRequest:
    """Everything one drawing needs, frozen so a thread can use it safely."""

    points: tuple[Sample, ...]
    metrics: tuple[Metric, ...]
    markers: tuple[Marker, ...]
    window: TimeWindow
    end: float | None


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


def plot(request: ChartRequest, width: int, height: int, theme: str) -> Plot:
    """The plotext figure of the chart, `width` x `height` cells, set up but not built."""
    plt = Plot()
    plt.plotsize(width, height)
    plt.theme(theme)
    names = ", ".join(m.label for m in request.metrics)
    window = request.window
    plt.title(f"{names} (MiB) — " + (f"last {window.label}" if window.seconds else "all"))
    points, end = request.points, request.end
    if not points or end is None:
        return plt
    span = window.seconds if window.seconds is not None else max(end - points[0].t, 1.0)
    xs = [s.t - end for s in points]
    lowest, highest = float("inf"), 0.0
    for metric, color in zip(request.metrics, LINE_COLORS, strict=False):
        ys = [metric.of(s) / MIB for s in points]
        lowest, highest = min(lowest, *ys), max(highest, *ys)
        plt.plot(xs, ys, label=metric.label, color=color, marker="braille")
    label_step = 1.5 * (highest - lowest) / max(height - CHART_FRAME_ROWS, 1)
    in_view = [m for m in request.markers if -span <= m.t - end <= 0]
    for marker in in_view:
        plt.vline(marker.t - end, "yellow")
    for level, marker in enumerate(in_view):
        plt.text(marker.label, x=marker.t - end,
                 y=highest - (level % MARKER_LEVELS) * label_step,
                 color="yellow", alignment="right")
    plt.xlim(-span, 0)
    plt.ylim(lowest, highest)
    ticks = _ticks(span)
    plt.xticks(ticks, [_tick_label(-t) for t in ticks])
    return plt


@lru_cache(maxsize=256)
def _cell_style(foreground: object, style: object, background: object) -> Style:
    """The Rich style of a plotext cell, as Rich reads the ANSI codes plotext writes for it."""
    line = AnsiDecoder().decode_line(colors_to_ansi(foreground, style, background) + " ")
    return line.get_style_at_offset(_STYLE_CONSOLE, 0)


_STYLE_CONSOLE = Console(color_system="truecolor", file=io.StringIO())


def to_strips(plt: Plot) -> list[Strip]:
    """Build the figure and turn its cell matrix into strips, top row first.

    The same cells and styles as parsing `plt.build()`'s ANSI text with Rich, without
    writing and parsing that text (most of a build's time at 200 columns).
    """
    plt._set_sizes()
    plt._build_matrix()
    matrix = plt.monitor.matrix
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
            or (before.metrics, before.markers, before.window)
            != (after.metrics, after.markers, after.window)):
        return 0.0
    window = after.window
    span = window.seconds if window.seconds is not None else max(after.end - after.points[0].t,
                                                                 1.0)
    return max(0.0, span / wanted[1] - (after.end - before.end))


def draw(request: ChartRequest, width: int, height: int, theme: str) -> list[Strip]:
    """The chart as `height` strips of `width` cells."""
    return to_strips(plot(request, width, height, theme))


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
             markers: Sequence[Marker], window: TimeWindow, end: float | None) -> None:
        """Plot `metrics` of `samples` (in MiB, time relative to `end`) and the markers in view."""
        points = downsample(samples, min(MAX_POINTS, max(2, self.size.width * 2)))
        self.request = ChartRequest(tuple(points), tuple(metrics), tuple(markers), window, end)
        self.redraw()

    def on_resize(self) -> None:
        if self.request is not None:
            self.redraw()

    def drawing_key(self) -> DrawingKey:
        return (self.request, self.size.width, self.size.height,
                self._get_plotext_theme_name(self.app.theme))

    def redraw(self) -> None:
        key = self.drawing_key()
        if key == self.drawn_for:
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
        if key != self.drawn_for:
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
