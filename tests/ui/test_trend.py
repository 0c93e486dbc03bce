"""The metric rows' trend line draws the bars Textual's Sparkline would."""

from __future__ import annotations

import pytest
from rich.console import Console
from textual.renderables.sparkline import Sparkline as SparklineRenderable

from memtui.ui.widgets.metrics import trend_bars

TRENDS = {
    "empty": (),
    "one point": (5.0,),
    "flat": (3.0,) * 50,
    "sawtooth": tuple(float(i % 7 + i // 10) for i in range(240)),
    "fewer points than cells": (1.0, 4.0, 2.0, 8.0, 3.0),
}


@pytest.mark.parametrize("name", TRENDS)
@pytest.mark.parametrize("width", [7, 40, 151])
def test_bars_match_textual_sparkline(name, width):
    trend = TRENDS[name]
    console = Console(width=width, color_system="truecolor")
    rendered = "".join(segment.text for segment in
                       console.render(SparklineRenderable(trend, width=width)))

    assert "".join(bar for bar, _ in trend_bars(trend, width)) == rendered


@pytest.mark.parametrize("name", TRENDS)
def test_a_line_not_laid_out_yet_has_no_bars(name):
    """A monitor screen opened from the overview draws its history before its first layout,
    when the trend lines are 0 cells wide."""
    assert trend_bars(TRENDS[name], 0) == ()
