"""The Textual user interface: the only layer that imports textual."""

from memtui.ui.app import MemtuiApp, Watchlist, run_monitor, run_overview

__all__ = ["MemtuiApp", "Watchlist", "run_monitor", "run_overview"]
