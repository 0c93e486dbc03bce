"""The verdict panel: is the target leaking, how fast, when it reaches its limits, and whether
GC or the event loop is what hurts, in colours and words."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from memtui.verdict import (
    GC_HEAVY_SHARE,
    GcLoad,
    LeakKind,
    LoopState,
    Verdicts,
)

LEAK_BADGES: dict[LeakKind, tuple[str, str]] = {
    LeakKind.TOO_EARLY: (" WAIT ", "bold reverse"),
    LeakKind.NONE: (" OK ", "bold reverse green"),
    LeakKind.PLATEAU: (" OK ", "bold reverse green"),
    LeakKind.HEAP: (" LEAK ", "bold reverse red"),
    LeakKind.OFF_HEAP: (" LEAK ", "bold reverse red"),
}
LOOP_STYLES: dict[LoopState, str] = {
    LoopState.BLOCKED: "bold red",
    LoopState.DELAYED: "bold yellow",
    LoopState.BUSY: "bold yellow",
    LoopState.OK: "",
}
FORCE_HINT = " (g forces a major GC)"
SEPARATOR = " · "


def gc_style(load: GcLoad) -> str:
    if load.pause_share >= GC_HEAVY_SHARE:
        return "bold red"
    return "bold yellow" if load.pressure else ""


def leak_style(verdicts: Verdicts) -> str:
    return "bold red" if verdicts.leak.is_leak else ""


def one_line(verdicts: Verdicts | None) -> Text:
    """Every verdict on one line, the memory one first; GC and the event loop only when they
    cross a threshold."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if verdicts is None:
        text.append(" WAIT ", "bold reverse")
        text.append(" no samples yet")
        return text
    badge, style = LEAK_BADGES[verdicts.leak.kind]
    text.append(badge, style)
    text.append(" " + verdicts.leak.short(), leak_style(verdicts))
    if verdicts.leak.kind is LeakKind.TOO_EARLY:
        text.append(FORCE_HINT, "dim")
    limits = verdicts.limits.short()
    if limits is not None:
        text.append(SEPARATOR)
        text.append(limits, "bold red")
    if verdicts.gc is not None and verdicts.gc.pressure:
        text.append(SEPARATOR)
        text.append(verdicts.gc.short(), gc_style(verdicts.gc))
    loop = verdicts.loop
    if loop is not None and loop.state is not LoopState.OK:
        text.append(SEPARATOR)
        text.append(loop.short(), LOOP_STYLES[loop.state])
    return text


def full_lines(verdicts: Verdicts | None) -> Text:
    """One verdict a line, each in full words: memory, limits (when leaking), GC, loop."""
    if verdicts is None:
        return one_line(None)
    lines = []
    badge, style = LEAK_BADGES[verdicts.leak.kind]
    memory = Text(no_wrap=True, overflow="ellipsis")
    memory.append(badge, style)
    memory.append(" " + verdicts.leak.describe(), leak_style(verdicts))
    if verdicts.leak.kind is LeakKind.TOO_EARLY:
        memory.append(FORCE_HINT, "dim")
    lines.append(memory)
    limits = verdicts.limits.describe()
    if limits is not None:
        lines.append(_indented(limits, "bold red"))
    if verdicts.gc is not None:
        lines.append(_indented(verdicts.gc.describe(), gc_style(verdicts.gc)))
    if verdicts.loop is not None:
        lines.append(_indented(verdicts.loop.describe(), LOOP_STYLES[verdicts.loop.state]))
    return Text("\n").join(lines)


def _indented(words: str, style: str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("      " + words, style)
    return text


class VerdictPanel(Static):
    """The verdicts over the window: one line, or one verdict a line when `roomy`."""

    DEFAULT_CSS = """
    VerdictPanel { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, verdicts: Verdicts | None, roomy: bool) -> None:
        shown = full_lines(verdicts) if roomy else one_line(verdicts)
        if shown != self.content:
            self.update(shown)
