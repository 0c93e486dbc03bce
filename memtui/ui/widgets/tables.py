"""Tables of rows that move as lists do: Home and End go to the first and last row."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable


class RowTable(DataTable[Any]):
    """A row-cursor DataTable where Home/End reach the first/last row (Textual's own go to
    the first/last column), besides its PageUp/PageDown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "first", show=False),
        Binding("end", "scroll_bottom", "last", show=False),
    ]

    def __init__(self, **kwargs: Any):
        super().__init__(cursor_type="row", **kwargs)


class ClassesTable(RowTable):
    """The classes of a comparison or summary; → and ← show and hide a class's sub-groups."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "expand(True)", "groups", key_display="→",
                id="diff.expand"),
        Binding("left", "expand(False)", "hide groups", show=False, id="diff.collapse"),
    ]

    class Expand(Message):
        """Show (`expand`) or hide the sub-groups of the class on the cursor's line."""

        def __init__(self, expand: bool):
            super().__init__()
            self.expand = expand

    def action_expand(self, expand: bool) -> None:
        self.post_message(self.Expand(expand))
