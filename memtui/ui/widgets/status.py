"""The status line: what just happened, and the progress of a running snapshot."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

SEVERITY_STYLES = {"info": "", "good": "green", "warning": "yellow", "error": "bold red"}


class StatusLine(Static):
    """One line; the latest message wins."""

    message = ""

    DEFAULT_CSS = """
    StatusLine { height: 1; }
    """

    def say(self, message: str, severity: str = "info") -> None:
        """Show `message`, styled by severity: info, good, warning or error."""
        self.message = message
        self.update(Text(message, style=SEVERITY_STYLES[severity], no_wrap=True,
                         overflow="ellipsis"))
