"""memtui: a terminal memory monitor for live Node.js processes."""

__version__ = "0.1.0"
