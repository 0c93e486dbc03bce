"""The timeline chart: chosen metrics over the window, with markers as labelled vertical lines."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

from memtui.sampler import Sample
from memtui.ui.model import Marker, Metric, TimeWindow, downsample

MIB = 1024 * 1024
LINE_COLORS = ("cyan", "magenta", "green")
MAX_POINTS = 400
MARKER_LEVELS = 3
CHART_FRAME_ROWS = 5


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


class MemoryChart(PlotextPlot):
    """Draws once per call to `show`; the widget renders the last drawing on resize."""

    def show(self, samples: Sequence[Sample], metrics: Sequence[Metric],
             markers: Sequence[Marker], window: TimeWindow, end: float | None) -> None:
        """Plot `metrics` of `samples` (in MiB, time relative to `end`) and the markers in view."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        names = ", ".join(m.label for m in metrics)
        span_label = f"last {window.label}" if window.seconds else "all"
        plt.title(f"{names} (MiB) — {span_label}")
        if not samples or end is None:
            self.refresh()
            return
        span = window.seconds if window.seconds is not None else max(end - samples[0].t, 1.0)
        points = downsample(samples, min(MAX_POINTS, max(2, self.size.width * 2)))
        xs = [s.t - end for s in points]
        lowest, highest = float("inf"), 0.0
        for metric, color in zip(metrics, LINE_COLORS, strict=False):
            ys = [metric.of(s) / MIB for s in points]
            lowest, highest = min(lowest, *ys), max(highest, *ys)
            plt.plot(xs, ys, label=metric.label, color=color, marker="braille")
        plot_rows = max(self.size.height - CHART_FRAME_ROWS, 1)
        label_step = 1.5 * (highest - lowest) / plot_rows
        in_view = [m for m in markers if -span <= m.t - end <= 0]
        for level, marker in enumerate(in_view):
            x = marker.t - end
            plt.vline(x, "yellow")
            plt.text(marker.label, x=x, y=highest - (level % MARKER_LEVELS) * label_step,
                     color="yellow", alignment="right")
        plt.xlim(-span, 0)
        plt.ylim(lowest, highest)
        ticks = _ticks(span)
        plt.xticks(ticks, [_tick_label(-t) for t in ticks])
        self.refresh()
