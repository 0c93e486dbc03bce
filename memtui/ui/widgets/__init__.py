"""Widgets of the monitor screen, one per area."""
