"""Automatic heap snapshots (`--snapshot-on`): when a condition holds, capture one, unless the
capture itself might exhaust the target's memory; at most `max_count` a run, `cooldown_s`
apart."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from memtui.capture_conditions import Condition, LeakCondition, Reading
from memtui.errors import MemtuiError, UsageError
from memtui.events import SnapshotProgress, SnapshotSaved, TargetInfo
from memtui.monitor import Monitor
from memtui.units import format_bytes
from memtui.verdict import VERDICT_WINDOW_S, current_run, leak_verdict

DEFAULT_COOLDOWN_S = 300.0
DEFAULT_MAX_COUNT = 3

CaptureOutcome = Literal["saved", "refused", "failed"]


@dataclass(frozen=True)
class Trigger:
    """A condition that held, when, and the figures that made it hold."""

    condition: str
    evidence: str
    at: float
    pid: int


@dataclass(frozen=True)
class AutoCaptureResult:
    """What became of a triggered capture: the snapshot saved, or why there is none."""

    trigger: Trigger
    outcome: CaptureOutcome
    saved: SnapshotSaved | None = None
    reason: str | None = None

    def record(self) -> dict[str, Any]:
        """The `record --format jsonl` line of this capture (its `event` key tells it from a
        sample)."""
        saved = self.saved
        return {
            "t": self.trigger.at, "pid": self.trigger.pid, "event": "auto_snapshot",
            "condition": self.trigger.condition, "evidence": self.trigger.evidence,
            "outcome": self.outcome, "path": None if saved is None else str(saved.path),
            "size": None if saved is None else saved.size,
            "duration_s": None if saved is None else round(saved.duration_s, 3),
            "rss_before": None if saved is None else saved.rss_before,
            "rss_peak": None if saved is None else saved.rss_peak,
            "rss_after": None if saved is None else saved.rss_after,
            "reason": self.reason,
        }

    def describe(self) -> str:
        """One line: `automatic snapshot (heap_used>1GiB) saved: PATH (file 12.0 MiB; ...)`."""
        what = f"automatic snapshot ({self.trigger.condition})"
        if self.saved is not None:
            return (f"{what} saved: {self.saved.path} (file {format_bytes(self.saved.size)}; "
                    f"{self.saved.cost()})")
        return f"{what} {self.outcome}: {self.reason}"


class AutoCapture:
    """Decides when a condition calls for a snapshot and takes it through `monitor`.

    `leak` is the leak verdict `record` writes with each sample: over the last
    VERDICT_WINDOW_S of the latest process, with the monitor's leak rule (`--leak-rises`).

    `due` is asked after each sample; a trigger it returns must be passed to `capture`, and
    until that ends `due` returns None, as it does within `cooldown_s` of the end of the
    previous capture (saved, refused or failed) and once `max_count` snapshots were saved.
    """

    def __init__(self, monitor: Monitor, conditions: Sequence[Condition], cooldown_s: float,
                 max_count: int, clock: Callable[[], float] = time.monotonic):
        self.monitor = monitor
        self.conditions = tuple(conditions)
        self.cooldown_s = cooldown_s
        self.max_count = max_count
        self.saved_count = 0
        self.capturing = False
        self._clock = clock
        self._ended_at: float | None = None
        self._judges_leaks = any(isinstance(c, LeakCondition) for c in self.conditions)

    def check_limits(self, info: TargetInfo) -> None:
        """UsageError when a condition needs a limit the target does not have."""
        for condition in self.conditions:
            if condition.needs_container_limit and info.container_limit is None:
                raise UsageError(f"--snapshot-on {condition.text!r}: pid {info.pid} has no "
                                 "container memory limit", "give a size, such as rss>1.5GiB")

    def due(self) -> Trigger | None:
        """The first condition that holds for the latest sample, when a capture may start."""
        sample = self.monitor.history.latest
        if (not self.conditions or sample is None or self.capturing
                or self.saved_count >= self.max_count):
            return None
        if self._ended_at is not None and self._clock() - self._ended_at < self.cooldown_s:
            return None
        after_gc = self.monitor.history.heap_after_gc()
        info = self.monitor.info
        leak = None
        if self._judges_leaks:
            window = current_run(self.monitor.history.since(sample.t - VERDICT_WINDOW_S))
            leak = leak_verdict(window, self.monitor.leak_rule)
        reading = Reading(sample, after_gc[-1].heap_used if after_gc else None,
                          info.container_limit if info is not None else None, leak)
        for condition in self.conditions:
            evidence = condition.evidence(reading)
            if evidence is not None:
                self.capturing = True
                return Trigger(condition.text, evidence, sample.t, sample.pid)
        return None

    async def capture(self, trigger: Trigger,
                      on_progress: Callable[[SnapshotProgress], None] | None = None
                      ) -> AutoCaptureResult:
        """Capture the snapshot `trigger` calls for, as `memtui snapshot` does, but refuse,
        without asking, when the target may run out of memory."""
        try:
            risk = await self.monitor.snapshot_risk()
            if risk.risky:
                return AutoCaptureResult(trigger, "refused", reason=risk.reason)
            saved = await self.monitor.take_snapshot(on_progress)
        except MemtuiError as error:
            return AutoCaptureResult(trigger, "failed", reason=str(error))
        finally:
            self.capturing = False
            self._ended_at = self._clock()
        self.saved_count += 1
        return AutoCaptureResult(trigger, "saved", saved=saved)
