import time

import pytest

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
    """An app on a FakeMonitor preloaded with `preload` samples, its clock frozen."""

    def _make(preload: int = 300, **kwargs) -> tuple[MemtuiApp, FakeMonitor]:
        fake = FakeMonitor(preload=preload, **kwargs)
        return MemtuiApp(fake, clock=frozen_clock), fake

    return _make
