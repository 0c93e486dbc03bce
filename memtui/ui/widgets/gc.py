"""GC activity: collections per second by kind, time paused in GC, event loop and CPU."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from memtui.sampler import GcKind
from memtui.ui.model import GC_RATE_SPAN, GcActivity
from memtui.units import format_duration
from memtui.verdict import (
    BLOCKED_ELU,
    GC_HEAVY_SHARE,
    GC_PRESSURE_SHARE,
    LOOP_BLOCKED_MS,
    LOOP_BUSY_ELU,
    LOOP_DELAYED_MS,
)

GC_KIND_LABELS: dict[GcKind, str] = {
    "minor": "minor", "major": "major", "incremental": "incr", "weakcb": "weak cb",
}
ESTIMATED = "~"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def loop_delay(ms: float | None) -> str:
    """A loop delay as shown: `8ms`, `250ms`, `3.0s`; `—` when unknown."""
    if ms is None:
        return "—"
    if ms < LOOP_BLOCKED_MS:
        return f"{ms:.0f}ms"
    return format_duration(ms / 1000) if ms >= 60_000 else f"{ms / 1000:.1f}s"


def _loop_delay_style(ms: float | None) -> str:
    if ms is None or ms < LOOP_DELAYED_MS:
        return "bold"
    return "bold red" if ms >= LOOP_BLOCKED_MS else "bold yellow"


def _share_style(share: float | None, warning: float, error: float) -> str:
    """Yellow from `warning`, red from `error` (shares of 1)."""
    if share is None or share < warning:
        return ""
    return "bold red" if share >= error else "bold yellow"


class GcPanel(Static):
    """Two lines of GC, event-loop and CPU figures, computed over the last few seconds. A `~`
    marks a figure that includes an estimate (the probe observes every collection only up to
    15 a second); the loop delay tells a loop blocked for seconds at a time from a busy one.
    The time in GC, the loop's utilisation and its delays turn yellow, then red, past the
    verdicts' thresholds."""

    DEFAULT_CSS = """
    GcPanel { height: 2; }
    """

    def show(self, activity: GcActivity | None) -> None:
        """Show `activity`, or placeholders while there are too few samples."""
        rates = Text(no_wrap=True, overflow="ellipsis")
        rates.append("GC/s ", "bold")
        for kind, label in GC_KIND_LABELS.items():
            rates.append(f" {label} ")
            if activity is None:
                rates.append("—", "bold")
                continue
            mark = ESTIMATED if kind in activity.estimated else ""
            rates.append(f"{mark}{activity.per_second[kind]:.1f}", "bold")
        estimated = activity is not None and (activity.estimated or activity.pause_estimated)
        rates.append(f"   (last {GC_RATE_SPAN:.0f}s{', ~ estimated' if estimated else ''})",
                     "dim")
        load = Text(no_wrap=True, overflow="ellipsis")
        load.append("in GC ", "bold")
        share = None if activity is None else activity.pause_share
        load.append(("" if activity is None or not activity.pause_estimated else ESTIMATED)
                    + _percent(None if share is None else share * 100),
                    _share_style(share, GC_PRESSURE_SHARE, GC_HEAVY_SHARE))
        load.append("   event loop ", "bold")
        elu = None if activity is None else activity.elu
        load.append(_percent(None if elu is None else elu * 100),
                    _share_style(elu, LOOP_BUSY_ELU, BLOCKED_ELU))
        p99 = None if activity is None else activity.loop_delay_p99_ms
        worst = None if activity is None else activity.loop_delay_max_ms
        load.append(" delay p99 ")
        load.append(loop_delay(p99), _loop_delay_style(p99))
        load.append(" max ")
        load.append(loop_delay(worst), _loop_delay_style(worst))
        load.append("   CPU ", "bold")
        load.append(_percent(None if activity is None else activity.cpu_percent))
        shown = Text("\n").join([rates, load])
        if shown != self.content:
            self.update(shown, layout=False)
