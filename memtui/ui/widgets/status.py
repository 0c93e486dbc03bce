"""The status line: the latest message, results held long enough to read, and the message log."""

from __future__ import annotations

from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget

from memtui.ui.model import Severity, StatusMessage, shorten_path

SEVERITY_STYLES: dict[Severity, str] = {
    "info": "", "good": "green", "warning": "yellow", "error": "bold red",
}


def styled(message: StatusMessage, width: int | None = None) -> Text:
    """`message` in its severity's style: with `width`, on one line of that many cells, its
    path shortened to fit (from the middle or the start, keeping the file name's end);
    without, whole, folding where it needs more than one line."""
    one_line = width is not None
    text = Text(message.text, style=SEVERITY_STYLES[message.severity], no_wrap=one_line,
                overflow="ellipsis" if one_line else "fold")
    if message.path is not None:
        room = len(message.path) if width is None else max(width - len(message.text), 0)
        text.append(shorten_path(message.path, room))
    if width is not None:
        text.truncate(width, overflow="ellipsis")
    return text


class StatusLine(Widget):
    """One line showing the latest message, except that a result (a saved snapshot, what a
    GC freed, a failure) stays `hold_seconds` against state messages: the latest of those
    waits and shows when the hold ends. The messages' log is kept by their target."""

    hold_seconds = 10.0

    DEFAULT_CSS = """
    StatusLine { height: 1; }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.shown: StatusMessage | None = None
        self.waiting: StatusMessage | None = None
        self.hold: Timer | None = None

    @property
    def message(self) -> str:
        """The whole text of the message on the line (its path not shortened)."""
        return "" if self.shown is None else self.shown.full_text

    def say(self, message: StatusMessage) -> None:
        """Show `message`, unless it is a state message and a result is held."""
        if message.kind == "state" and self.hold is not None:
            self.waiting = message
        else:
            self.show(message)

    def show(self, message: StatusMessage) -> None:
        if self.hold is not None:
            self.hold.stop()
            self.hold = None
        self.waiting = None
        self.shown = message
        if message.kind == "result":
            self.hold = self.set_timer(self.hold_seconds, self.release)
        self.refresh()

    def release(self) -> None:
        """End the hold: the state message that waited, if any, takes the line."""
        self.hold = None
        if self.waiting is not None:
            self.show(self.waiting)

    def render(self) -> Text:
        if self.shown is None:
            return Text()
        return styled(self.shown, self.size.width)
