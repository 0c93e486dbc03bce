"""The pure aggregation behind the monitor screen."""

from __future__ import annotations

from dataclasses import replace

import pytest

from memtui.sampler import History
from memtui.ui.model import (
    ARRAY_BUFFERS,
    CHART_METRIC_SETS,
    EXTERNAL,
    HEAP_USED,
    METRICS,
    RSS,
    WINDOWS,
    chart_metrics,
    covered_label,
    downsample,
    gc_activity,
    shorten_path,
    summarize,
    visible_samples,
)
from tests.ui.fake_monitor import MIB, T0, make_sample


def history_of(count: int) -> History:
    history = History(1000)
    for i in range(count):
        history.append(make_sample(i))
    return history


def test_visible_samples_cover_the_window_ending_at_the_latest_or_the_pause():
    history = history_of(200)
    one_minute = WINDOWS[0]
    assert [s.t for s in visible_samples(history, one_minute, None)] == [
        T0 + i for i in range(139, 200)]
    assert [s.t for s in visible_samples(history, one_minute, T0 + 100)] == [
        T0 + i for i in range(40, 101)]
    assert len(visible_samples(history, WINDOWS[3], None)) == 200
    assert visible_samples(History(), one_minute, None) == []


def test_covered_label_names_the_window_only_when_history_reaches_past_its_start():
    one_minute, five_minutes, everything = WINDOWS[0], WINDOWS[1], WINDOWS[3]
    young = history_of(8)
    assert covered_label(visible_samples(young, five_minutes, None), five_minutes, T0) == "7s"
    old = history_of(200)
    assert covered_label(visible_samples(old, one_minute, None), one_minute, T0) == "1 min"
    assert covered_label(visible_samples(old, five_minutes, None), five_minutes, T0) == "3m 19s"
    assert covered_label(visible_samples(old, everything, None), everything, T0) == "3m 19s"
    full = history_of(301)
    assert covered_label(visible_samples(full, five_minutes, None), five_minutes, T0) == "5 min"
    assert covered_label([], five_minutes, T0) == "5 min"


def test_downsample_keeps_first_and_last_and_caps_the_count():
    samples = [make_sample(i) for i in range(1000)]
    points = downsample(samples, 50)
    assert len(points) == 50
    assert points[0] is samples[0] and points[-1] is samples[-1]
    assert downsample(samples[:10], 50) == samples[:10]


def test_summarize_gives_current_value_trend_and_capped_points():
    samples = [make_sample(i) for i in range(600)]
    summaries = summarize(samples, max_points=100)
    assert [s.metric for s in summaries] == list(METRICS)
    heap_used = summaries[METRICS.index(HEAP_USED)]
    assert heap_used.current == samples[-1].heap_used
    assert heap_used.trend is not None
    assert heap_used.trend.per_minute == pytest.approx(20 * 1024 * 60, rel=0.05)
    assert heap_used.direction == "rising"
    assert len(heap_used.points) == 100
    assert heap_used.extent == max(heap_used.points) - min(heap_used.points)
    assert summarize([]) == ()


def test_a_warm_up_at_the_start_is_no_trend():
    """RSS that rose 17.5 MiB in the first 20 s, then held: last minus first says +17.5 MiB,
    the trend says flat."""
    samples = [replace(make_sample(i), rss=int(120 * MIB + min(i, 20) * 17.5 / 20 * MIB
                                               + (i % 3) * 64 * 1024))
               for i in range(300)]
    rss = summarize(samples)[METRICS.index(RSS)]
    assert samples[-1].rss - samples[0].rss > 17 * MIB
    assert rss.trend is not None and abs(rss.trend.per_minute) < 0.1 * MIB
    assert rss.direction == "flat"
    assert rss.extent > 17 * MIB


def test_gc_activity_over_the_last_ten_seconds():
    samples = [make_sample(i) for i in range(100)]
    activity = gc_activity(samples)
    assert activity.per_second["minor"] == pytest.approx(2.0)
    assert activity.per_second["incremental"] == pytest.approx(0.1)
    assert activity.pause_share == pytest.approx(0.015)
    assert activity.elu == 0.25 and activity.cpu_percent == 12.5
    assert gc_activity(samples[:1]) is None


def test_gc_pause_share_is_capped_at_one():
    last = replace(make_sample(1), gc_pause_ms=5000.0)
    assert gc_activity([make_sample(0), last]).pause_share == 1.0


def off_heap_leak(seconds: int, per_second: int, field: str = "external") -> list:
    """Fake samples whose `field` (and external with it) grows `per_second` bytes a second."""
    samples = []
    for i in range(seconds):
        sample = make_sample(i)
        grown = {"external": sample.external + i * per_second}
        if field == "array_buffers":
            grown["array_buffers"] = sample.array_buffers + i * per_second * 2
        samples.append(replace(sample, **grown))
    return samples


class TestChartMetrics:
    """The default chart adds the off-heap figure that grows most, when it outgrows the heap."""

    def test_an_off_heap_leak_adds_external_to_the_default_chart(self):
        samples = off_heap_leak(120, 64 * 1024)
        assert chart_metrics(0, samples) == (*CHART_METRIC_SETS[0], EXTERNAL)

    def test_array_buffers_when_they_grow_most(self):
        samples = off_heap_leak(120, 64 * 1024, "array_buffers")
        assert chart_metrics(0, samples) == (*CHART_METRIC_SETS[0], ARRAY_BUFFERS)

    def test_not_when_the_heap_grows_more(self):
        samples = [make_sample(i) for i in range(300)]
        heap_growth = samples[-1].heap_used - samples[0].heap_used
        leak = off_heap_leak(300, heap_growth // 400)
        assert chart_metrics(0, leak) == CHART_METRIC_SETS[0]

    def test_not_for_a_small_change(self):
        samples = [replace(s, heap_used=40 * MIB, heap_total=60 * MIB)
                   for s in off_heap_leak(60, 10 * 1024)]
        assert chart_metrics(0, samples) == CHART_METRIC_SETS[0]

    @pytest.mark.parametrize("chosen", range(1, len(CHART_METRIC_SETS)))
    def test_the_sets_picked_with_c_stay_as_chosen(self, chosen):
        assert chart_metrics(chosen, off_heap_leak(120, 64 * 1024)) == CHART_METRIC_SETS[chosen]


class TestShortenPath:
    """Paths lose their middle directories, then their start; never the file name's end."""

    PATH = "/var/tmp/memtui/memtui-32268-20261201T185812.heapsnapshot"

    @pytest.mark.parametrize(("width", "shown"), [
        (80, PATH),
        (55, "/var/tmp/…/memtui-32268-20261201T185812.heapsnapshot"),
        (50, "/var/…/memtui-32268-20261201T185812.heapsnapshot"),
        (45, "/…/memtui-32268-20261201T185812.heapsnapshot"),
        (43, "…/memtui-32268-20261201T185812.heapsnapshot"),
        (30, "…-20261201T185812.heapsnapshot"),
        (1, "…"),
        (0, ""),
    ])
    def test_widths(self, width, shown):
        assert shorten_path(self.PATH, width) == shown
        assert len(shown) <= width

    def test_relative_paths_and_bare_names(self):
        assert shorten_path("snapshots/prod/memtui-1.heapsnapshot", 34) == (
            "snapshots/…/memtui-1.heapsnapshot")
        assert shorten_path("memtui-32268-20261201T185812.heapsnapshot", 20) == (
            "…185812.heapsnapshot")
