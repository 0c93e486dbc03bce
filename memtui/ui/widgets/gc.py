"""GC activity: collections per second by kind, time paused in GC, event loop and CPU."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from memtui.ui.model import GC_RATE_SPAN, GcActivity

GC_KIND_LABELS = {"minor": "minor", "major": "major", "incremental": "incr", "weakcb": "weak cb"}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


class GcPanel(Static):
    """Two lines of GC and CPU figures, computed over the last few seconds."""

    DEFAULT_CSS = """
    GcPanel { height: 2; }
    """

    def show(self, activity: GcActivity | None) -> None:
        """Show `activity`, or placeholders while there are too few samples."""
        rates = Text(no_wrap=True, overflow="ellipsis")
        rates.append("GC/s ", "bold")
        for kind, label in GC_KIND_LABELS.items():
            value = "—" if activity is None else f"{activity.per_second[kind]:.1f}"
            rates.append(f" {label} ")
            rates.append(value, "bold")
        rates.append(f"   (last {GC_RATE_SPAN:.0f}s)", "dim")
        load = Text(no_wrap=True, overflow="ellipsis")
        load.append("in GC ", "bold")
        load.append(_percent(None if activity is None else activity.pause_share * 100))
        load.append("   event loop ", "bold")
        elu = None if activity is None or activity.elu is None else activity.elu * 100
        load.append(_percent(elu))
        load.append("   CPU ", "bold")
        load.append(_percent(None if activity is None else activity.cpu_percent))
        shown = Text("\n").join([rates, load])
        if shown != self.content:
            self.update(shown, layout=False)
