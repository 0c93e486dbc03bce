"""The chart's drawing: plotext's cells turned into strips without its ANSI text."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.text import Text

from memtui.events import TargetExited
from memtui.ui.model import CHART_METRIC_SETS, WINDOWS, Marker, visible_samples
from memtui.ui.widgets.chart import (
    ChartRequest,
    MemoryChart,
    plot,
    seconds_to_next_column,
    to_strips,
)
from tests.ui.fake_monitor import T0, FakeMonitor
from tests.ui.helpers import wait_until


def request(window_index: int, markers: tuple[Marker, ...] = ()) -> ChartRequest:
    samples = visible_samples(FakeMonitor(preload=400).history, WINDOWS[window_index], None)
    return ChartRequest(tuple(samples), CHART_METRIC_SETS[0], markers, WINDOWS[window_index],
                        samples[-1].t)


@pytest.mark.parametrize(("width", "height"), [(78, 12), (60, 20)])
@pytest.mark.parametrize("window_index", [0, 3])
def test_strips_match_rich_reading_of_plotext_text(width, height, window_index):
    """Every cell has the character and style Rich gives it when parsing plotext's output."""
    chart = request(window_index, (Marker(T0 + 390, "GC"),))
    console = Console(width=width, color_system="truecolor", legacy_windows=False)
    parsed = Text.from_ansi(plot(chart, width, height, "dark").build())
    expected = console.render_lines(parsed, console.options.update_width(width), pad=False)

    strips = to_strips(plot(chart, width, height, "dark"))

    assert len(strips) == height
    assert [strip.text for strip in strips] == ["".join(s.text for s in line)
                                                for line in expected[:height]]
    for strip, line in zip(strips, expected, strict=False):
        assert [(char, s.style) for s in strip for char in s.text] == \
            [(char, s.style) for s in line for char in s.text]


class TestWhenToDraw:
    """A chart whose only change is time waits until it has moved by one cell column."""

    @staticmethod
    def key(end_offset: float = 0.0, window_index: int = 1, width: int = 80,
            markers: tuple[Marker, ...] = ()) -> tuple[ChartRequest, int, int, str]:
        base = request(window_index, markers)
        moved = ChartRequest(base.points, base.metrics, base.markers, base.window,
                             base.end + end_offset)
        return moved, width, 20, "dark"

    def test_a_second_later_waits_for_the_rest_of_a_column(self):
        # 5 min over 80 cells: one column is 3.75 s
        assert seconds_to_next_column(self.key(), self.key(1.0)) == pytest.approx(2.75)

    def test_a_column_later_draws_at_once(self):
        assert seconds_to_next_column(self.key(), self.key(3.75)) == 0

    def test_a_wide_chart_of_a_short_window_draws_every_second(self):
        assert seconds_to_next_column(self.key(width=200, window_index=0),
                                      self.key(1.0, width=200, window_index=0)) == 0

    @pytest.mark.parametrize("changed", [
        {"window_index": 2}, {"width": 81}, {"markers": (Marker(T0 + 390, "GC"),)},
    ])
    def test_any_other_change_draws_at_once(self, changed):
        assert seconds_to_next_column(self.key(), self.key(1.0, **changed)) == 0

    def test_the_first_drawing_is_immediate(self):
        assert seconds_to_next_column(None, self.key()) == 0


class TestChartOnScreen:
    """At 80 columns a 5-minute chart moves a column every 3.75 s of samples."""

    @staticmethod
    async def drawn_end(pilot) -> float:
        chart = pilot.app.monitor_screen.query_one(MemoryChart)
        await wait_until(pilot, lambda: (chart.drawn_for is not None
                         and chart.drawn_for == chart.drawing_key())
                         or chart.deferred is not None, what="chart drawn or deferred")
        return chart.drawn_for[0].end

    async def test_a_sample_within_the_column_waits_and_a_later_one_draws(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            first_end = await self.drawn_end(pilot)
            fake.feed_samples(1)
            await wait_until(pilot, lambda: len(fake.history) == 301)
            assert await self.drawn_end(pilot) == first_end
            fake.feed_samples(3)
            await wait_until(pilot, lambda: len(fake.history) == 304)
            await wait_until(pilot, lambda: app.monitor_screen.query_one(MemoryChart).drawn_for[0]
                             .end == fake.history.latest.t, what="chart drawn up to date")

    async def test_the_target_exiting_draws_the_waiting_samples(self, make_app):
        app, fake = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await self.drawn_end(pilot)
            fake.feed_samples(1)
            fake.feed(TargetExited(T0 + 301, 0))
            await wait_until(pilot, lambda: app.monitor_screen.query_one(MemoryChart).drawn_for[0]
                             .end == T0 + 300, what="chart drawn up to the last sample")
