"""One row per memory metric: current value, trend per minute over the window, a sparkline
and what its full height stands for."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import groupby

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.strip import Strip
from textual.widgets import Label, Sparkline

from memtui.ui.model import METRICS, Metric, MetricSummary
from memtui.units import format_bytes, format_change

TREND_BARS = "▁▂▃▄▅▆▇█"


def trend_bars(trend: Sequence[float], width: int) -> tuple[tuple[str, float], ...]:
    """One (bar, height ratio) per cell, bucketed and scaled as Textual's Sparkline does."""
    if not trend:
        return (("▁", 0.0),) * width
    if len(trend) == 1:
        return (("█", 1.0),) * width
    minimum, maximum = min(trend), max(trend)
    extent = maximum - minimum or 1
    count = len(trend)
    bucket_maxima = [max(trend[count * b // width:count * (b + 1) // width])
                     for b in range(width) if count * b // width < count * (b + 1) // width]
    step = len(bucket_maxima) / width
    bars = []
    bucket_index = 0.0
    for _ in range(width):
        ratio = (bucket_maxima[int(bucket_index)] - minimum) / extent
        bars.append((TREND_BARS[int(ratio * (len(TREND_BARS) - 1))], ratio))
        bucket_index += step
    return tuple(bars)


class TrendLine(Sparkline):
    """A one-line Sparkline drawn straight into a strip, refreshed only when its bars change."""

    def __init__(self, *, classes: str | None = None):
        super().__init__([], classes=classes)
        self.trend: tuple[float, ...] = ()
        self.bars: tuple[tuple[str, float], ...] = ()

    def show(self, trend: tuple[float, ...]) -> None:
        """Plot `trend`, scaled to its own minimum and maximum."""
        self.trend = trend
        bars = trend_bars(trend, self.size.width)
        if bars != self.bars:
            self.bars = bars
            self.refresh()

    def on_resize(self) -> None:
        self.bars = trend_bars(self.trend, self.size.width)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        _, background = self.background_colors
        low = (background + self.get_component_styles("sparkline--min-color").color).rich_color
        high = (background + self.get_component_styles("sparkline--max-color").color).rich_color
        base = self.visual_style.rich_style
        if low.triplet is None or high.triplet is None:
            styles = [base + Style(color=high)] * len(self.bars)
        else:
            (r1, g1, b1), (r2, g2, b2) = low.triplet, high.triplet
            styles = [_bar_style(base, int(r1 + (r2 - r1) * ratio), int(g1 + (g2 - g1) * ratio),
                                 int(b1 + (b2 - b1) * ratio))
                      for _, ratio in self.bars]
        segments = []
        start = 0
        for style, run in groupby(styles):
            end = start + sum(1 for _ in run)
            segments.append(Segment("".join(bar for bar, _ in self.bars[start:end]), style))
            start = end
        return Strip(segments, len(self.bars))


@lru_cache(maxsize=4096)
def _bar_style(base: Style, red: int, green: int, blue: int) -> Style:
    return base + Style(color=Color.from_rgb(red, green, blue))


def update_text(label: Label, text: str, layout: bool = False) -> None:
    """Show `text` in `label` unless it already does; `layout` if its width may change."""
    if label.content != text:
        label.update(text, layout=layout)


def per_minute(summary: MetricSummary) -> str:
    """The trend as shown: `+1.2 MiB/min`, `±0 B/min`; `—` without one."""
    if summary.trend is None:
        return "—"
    return f"{format_change(round(summary.trend.per_minute))}/min"


class MetricRow(Horizontal):
    """A metric's label, value, trend per minute, sparkline and the sparkline's range."""

    def __init__(self, metric: Metric):
        super().__init__(id=f"metric-{metric.field.replace('_', '-')}", classes="metric-row")
        self.metric = metric

    def compose(self) -> ComposeResult:
        yield Label(self.metric.label, classes="metric-label")
        yield Label("—", classes="metric-value")
        yield Label("", classes="metric-change")
        yield TrendLine(classes="metric-trend")
        yield Label("", classes="metric-range")

    def show(self, summary: MetricSummary) -> None:
        update_text(self.query_one(".metric-value", Label), format_bytes(summary.current))
        change = self.query_one(".metric-change", Label)
        update_text(change, per_minute(summary))
        change.set_class(summary.direction == "rising", "rising")
        change.set_class(summary.direction == "falling", "falling")
        self.query_one(TrendLine).show(summary.points)
        update_text(self.query_one(".metric-range", Label), f"↕{format_bytes(summary.extent)}")


class MetricsPanel(Vertical):
    """A heading naming the window, then one MetricRow per metric."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="metric-row metrics-heading"):
            yield Label("", classes="metric-label")
            yield Label("now", classes="metric-value")
            yield Label("trend", classes="metric-change")
            yield Label("", id="trend-heading", classes="metric-trend-heading")
            yield Label("height", classes="metric-range")
        for metric in METRICS:
            yield MetricRow(metric)

    def show(self, summaries: tuple[MetricSummary, ...], window_label: str) -> None:
        """Show the summaries, computed over the window named `window_label`."""
        update_text(self.query_one("#trend-heading", Label), f"last {window_label}",
                    layout=True)
        for summary in summaries:
            self.query_one(f"#metric-{summary.metric.field.replace('_', '-')}", MetricRow).show(
                summary
            )
