"""Helpers for driving the app in pilot tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Label

from memtui.ui.widgets.chart import MemoryChart
from memtui.ui.widgets.header import TargetHeader
from memtui.ui.widgets.status import StatusLine


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float = 5.0,
                     what: str = "condition", state: Callable[[], str] | None = None) -> None:
    """Let the app run until `condition()` is truthy; fail the test at the deadline, with
    `state()` in the message when given."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            seen = f"; {state()}" if state is not None else ""
            raise AssertionError(f"{what} not met within {timeout}s{seen}")
        await pilot.pause(0.02)


def status_text(pilot: Pilot) -> str:
    return pilot.app.monitor_screen.query_one(StatusLine).message


def header_text(pilot: Pilot) -> str:
    header = pilot.app.monitor_screen.query_one(TargetHeader)
    return str(header.render())


def metric_value(pilot: Pilot, field: str) -> str:
    row = pilot.app.monitor_screen.query_one(f"#metric-{field.replace('_', '-')}")
    return str(row.query_one(".metric-value", Label).content)


def metric_change(pilot: Pilot, field: str) -> str:
    row = pilot.app.monitor_screen.query_one(f"#metric-{field.replace('_', '-')}")
    return str(row.query_one(".metric-change", Label).content)


async def chart_drawn(pilot: Pilot) -> None:
    """Draw the chart's latest request now, as a state change does, and wait until it shows.

    Without the flush, a chart that only moved by less than a cell column waits up to a
    column's time (seconds) for the next sample.
    """
    chart = pilot.app.monitor_screen.query_one(MemoryChart)
    chart.flush()
    await wait_until(pilot, lambda: not chart.drawing_pending, what="chart drawn")
    await pilot.pause()
