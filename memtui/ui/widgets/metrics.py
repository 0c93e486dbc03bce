"""One row per memory metric: current value, change over the window, and a sparkline."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from memtui.ui.model import METRICS, Metric, MetricSummary
from memtui.units import format_bytes, format_change


class MetricRow(Horizontal):
    """A metric's label, value, change and trend on one line."""

    def __init__(self, metric: Metric):
        super().__init__(id=f"metric-{metric.field.replace('_', '-')}", classes="metric-row")
        self.metric = metric

    def compose(self) -> ComposeResult:
        yield Label(self.metric.label, classes="metric-label")
        yield Label("—", classes="metric-value")
        yield Label("", classes="metric-change")
        yield Sparkline([], classes="metric-trend")

    def show(self, summary: MetricSummary) -> None:
        self.query_one(".metric-value", Label).update(format_bytes(summary.current))
        change = self.query_one(".metric-change", Label)
        change.update(format_change(summary.change))
        change.set_class(summary.change > 0, "rising")
        change.set_class(summary.change < 0, "falling")
        self.query_one(Sparkline).data = list(summary.trend)


class MetricsPanel(Vertical):
    """A heading naming the window, then one MetricRow per metric."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="metric-row metrics-heading"):
            yield Label("", classes="metric-label")
            yield Label("now", classes="metric-value")
            yield Label("", id="change-heading", classes="metric-change")
            yield Label("", id="trend-heading", classes="metric-trend-heading")
        for metric in METRICS:
            yield MetricRow(metric)

    def show(self, summaries: tuple[MetricSummary, ...], window_label: str) -> None:
        """Show the summaries, computed over the window named `window_label`."""
        self.query_one("#change-heading", Label).update(f"Δ {window_label}")
        self.query_one("#trend-heading", Label).update(f"trend, last {window_label}")
        for summary in summaries:
            self.query_one(f"#metric-{summary.metric.field.replace('_', '-')}", MetricRow).show(
                summary
            )
