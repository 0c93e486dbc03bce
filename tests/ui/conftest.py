import time

import pytest

from memtui.auto_capture import DEFAULT_COOLDOWN_S, DEFAULT_MAX_COUNT, AutoCapture
from memtui.capture_conditions import parse_condition
from memtui.ui import MemtuiApp
from tests.ui.fake_monitor import T0, FakeMonitor


@pytest.fixture
def utc(monkeypatch):
    """Render clock times in UTC, so screens do not depend on the machine's time zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def frozen_clock() -> float:
    return T0 + 300


@pytest.fixture
def make_app(utc):
    """An app on a FakeMonitor preloaded with `preload` samples, its clock frozen, taking
    automatic snapshots when a condition of `snapshot_on` holds."""

    def _make(preload: int = 300, snapshot_on: tuple[str, ...] = (),
              **kwargs) -> tuple[MemtuiApp, FakeMonitor]:
        fake = FakeMonitor(preload=preload, **kwargs)
        auto_capture = AutoCapture(fake, [parse_condition(c) for c in snapshot_on],
                                   DEFAULT_COOLDOWN_S, DEFAULT_MAX_COUNT)
        return MemtuiApp(fake, clock=frozen_clock, auto_capture=auto_capture), fake

    return _make
