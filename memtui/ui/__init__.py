"""The Textual user interface: the only layer that imports textual."""

from memtui.ui.app import MemtuiApp, run_monitor

__all__ = ["MemtuiApp", "run_monitor"]
