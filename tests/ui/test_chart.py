"""The chart's drawing: plotext's cells turned into strips without its ANSI text."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console
from rich.text import Text

from memtui.events import TargetExited
from memtui.target_exit import ExitReason
from memtui.ui.model import CHART_METRIC_SETS, RSS, WINDOWS, Marker, visible_samples
from memtui.ui.widgets.chart import (
    BASELINE_COLOR,
    TREND_COLORS,
    ChartRequest,
    MemoryChart,
    build_matrix,
    draw,
    seconds_to_next_column,
    to_strips,
)
from memtui.verdict import baseline_of, leak_verdict
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
    matrix = build_matrix(chart, width, height, "dark")
    parsed = Text.from_ansi(matrix.set_canvas())
    expected = console.render_lines(parsed, console.options.update_width(width), pad=False)

    strips = to_strips(matrix)

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
            fake.feed(TargetExited(T0 + 301, ExitReason(code=0)))
            await wait_until(pilot, lambda: app.monitor_screen.query_one(MemoryChart).drawn_for[0]
                             .end == T0 + 300, what="chart drawn up to the last sample")


def rows_of(chart: ChartRequest, width: int = 80, height: int = 12) -> list[str]:
    return [strip.text for strip in draw(chart, width, height, "dark")]


def unlabelled(chart: ChartRequest) -> ChartRequest:
    return replace(chart, markers=tuple(replace(m, label="") for m in chart.markers))


class TestMarkerLabels:
    """Every marker's label is readable and hides no line: labels sit on blank cells beside
    their line, staggered, cut short (`deplo…`), or named in the title (as many as fit, then
    how many more) when room runs out."""

    CLOSE = (Marker(T0 + 395, "GC"), Marker(T0 + 396, "snapshot 1"),
             Marker(T0 + 398, "snapshot 2"), Marker(T0 + 398.5, "deploy started", user=True))

    @staticmethod
    def assert_hides_nothing(chart: ChartRequest, width: int = 80, height: int = 12) -> None:
        plain, labelled = rows_of(unlabelled(chart), width, height), rows_of(chart, width, height)
        for row, (before, after) in enumerate(zip(plain[1:], labelled[1:], strict=True), 1):
            for column, cell in enumerate(before):
                if cell not in " \u2800":
                    assert after[column] == cell, f"row {row}, column {column} hidden"

    @pytest.mark.parametrize("window_index", [0, 1])
    def test_close_markers_keep_every_label_whole(self, window_index):
        chart = request(window_index, self.CLOSE)
        canvas = "\n".join(rows_of(chart)[1:])
        for marker in self.CLOSE:
            assert canvas.count(marker.label) == 1, marker.label
        self.assert_hides_nothing(chart)

    def test_the_lines_are_named_by_the_title_not_a_legend_over_them(self):
        rows = rows_of(request(1, self.CLOSE))
        assert rows[0].strip() == "heap used, heap total, RSS (MiB) — last 5 min"
        assert not any(label in row for row in rows[1:]
                       for label in ("heap used", "heap total", "RSS"))

    def test_too_many_to_place_are_named_in_the_title(self):
        crowd = tuple(Marker(T0 + 399, f"snapshot {n}") for n in range(1, 13))
        chart = request(1, crowd)
        rows = rows_of(chart)
        canvas = "\n".join(rows[1:])
        unplaced = [m.label for m in crowd if m.label not in canvas]
        assert unplaced, "12 labels beside one line cannot all fit in 7 rows"
        title = rows[0].strip()
        named = [label for label in unplaced if f" {label}," in title + ","
                 or f" {label} +" in title]
        assert named == unplaced[:len(named)] and named
        more = len(unplaced) - len(named)
        assert title.endswith("; markers: " + ", ".join(named) + (f" +{more} more" * (more > 0)))
        self.assert_hides_nothing(chart)

    def test_a_label_too_long_for_the_room_is_cut(self):
        label = "deploy of the new checkout service to every region"
        chart = request(0, (Marker(T0 + 370, label),))
        canvas = "\n".join(rows_of(chart, width=60)[1:])
        assert label not in canvas
        assert label[:12] in canvas and "…" in canvas
        self.assert_hides_nothing(chart)


class TestTitle:
    """The title names the lines in their colours, the unit and the window."""

    def test_a_chart_too_narrow_for_the_whole_title_shows_its_start(self):
        rows = rows_of(request(1), width=44, height=8)
        assert rows[0] == "heap used, heap total, RSS (MiB) — last 5 m…"
        assert rows[1].strip().startswith("┌──")


class TestBaseline:
    """With heap used on the chart, the heap after each major GC is drawn as dots, and its
    trend as a line, red when the verdict is a leak."""

    @staticmethod
    def with_baseline(metrics_index: int = 0, leaking: bool = True) -> ChartRequest:
        chart = request(1)
        run = list(chart.points)
        baseline = tuple(baseline_of(run))
        trend = leak_verdict(run).baseline
        return replace(chart, metrics=CHART_METRIC_SETS[metrics_index], baseline=baseline,
                       trend=trend, leaking=leaking)

    def test_dots_and_trend_are_drawn_and_named(self):
        chart = self.with_baseline()
        assert chart.draws_baseline and chart.trend is not None
        rows = rows_of(chart)
        assert rows[0].strip() == "heap used, heap total, RSS, • after GC, trend (MiB) — last 5 min"
        assert sum(row.count("•") for row in rows[1:]) >= 10
        matrix = build_matrix(chart, 80, 12, "dark")
        colours = {colour for row in matrix.fullground for colour in row}
        assert TREND_COLORS[True] in colours and BASELINE_COLOR in colours
        calm = build_matrix(replace(chart, leaking=False), 80, 12, "dark")
        assert TREND_COLORS[True] not in {c for row in calm.fullground for c in row}

    def test_not_drawn_without_heap_used(self):
        chart = self.with_baseline(metrics_index=CHART_METRIC_SETS.index((RSS,)))
        assert not chart.draws_baseline
        rows = rows_of(chart)
        assert "after GC" not in rows[0]
        assert not any("•" in row for row in rows[1:])
