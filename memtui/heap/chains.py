"""A retainer chain read as DevTools' Retainers pane reads it: the object first, then what
holds it, then what holds that, up to the GC root; one line per reference, and a long run of
the same references (array elements, a linked list, a chain of closure contexts) folded into
one line with its count."""

from __future__ import annotations

from dataclasses import dataclass

from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.retainers import STRING_TYPES, RetainerChain

MAX_PERIOD = 4
MIN_REPEATS = 3
INDEXED_EDGES = ("element", "hidden")
MAX_TEXT = 40


@dataclass(frozen=True)
class Reference:
    """`edge` of `holder` keeps the previous line's object alive."""

    edge: str
    holder: int
    holder_name: str
    holder_id: int
    kind: tuple[str, str]

    def describe(self, with_id: bool = True) -> str:
        """`sessionCache in system / Context @1234`."""
        text = f"{self.edge} in {self.holder_name}"
        return f"{text} @{self.holder_id}" if with_id else text


@dataclass(frozen=True)
class ChainLine:
    """One line of the view: one reference, or a folded run of references that repeat the
    pattern of their first `period` ones."""

    references: tuple[Reference, ...]
    period: int = 1

    @property
    def folded(self) -> bool:
        return len(self.references) > self.period

    @property
    def repeats(self) -> int:
        return len(self.references) // self.period

    def describe(self) -> str:
        """`table in Map @88085`; folded: `2,999 times: originalThing in system / Context →
        …`."""
        if not self.folded:
            return self.references[0].describe()
        pattern = self.references[:self.period]
        steps = " → ".join(reference.describe(with_id=False) for reference in pattern)
        return f"{self.repeats:,} times: {steps}"

    def unfolded(self) -> list[ChainLine]:
        """The line as one line per reference."""
        return [ChainLine((reference,)) for reference in self.references]


def holder_name(analysis: HeapAnalysis, node: int) -> str:
    """A node named as the class tables name it: its class label (`SessionRecord`,
    `{page, at}`), a function as `name()`, a string quoted, V8 internals by their name."""
    snapshot, classes = analysis.snapshot, analysis.classes
    type_name = snapshot.node_type_name(node)
    name = snapshot.node_name_str(node)
    if node == snapshot.root:
        return "(root)"
    if type_name == "closure":
        return f"{name or '(anonymous)'}()"
    if type_name in STRING_TYPES:
        return '"' + (name if len(name) <= MAX_TEXT else name[:MAX_TEXT] + "…") + '"'
    class_index = int(classes.node_class[node])
    if type_name == "object" and class_index >= 0:
        name = classes.names[class_index]
    return name.strip() or f"({type_name})"


def object_line(analysis: HeapAnalysis, node: int) -> str:
    """The object itself, as the first line: `SessionRecord @114405`."""
    return f"{holder_name(analysis, node)} @{int(analysis.snapshot.node_id[node])}"


def chain_lines(analysis: HeapAnalysis, chain: RetainerChain) -> list[ChainLine]:
    """The references keeping `chain.target` alive, nearest holder first, the root last,
    with runs of at least MIN_REPEATS repetitions of up to MAX_PERIOD references folded."""
    snapshot = analysis.snapshot
    references = []
    for step in reversed(chain.steps):
        edge_type = step.edge_type
        name = holder_name(analysis, step.holder)
        edge_kind = "[]" if edge_type in INDEXED_EDGES else step.edge
        references.append(Reference(edge=step.edge, holder=step.holder, holder_name=name,
                                    holder_id=int(snapshot.node_id[step.holder]),
                                    kind=(edge_kind, name)))
    return fold_runs(references)


def fold_runs(references: list[Reference]) -> list[ChainLine]:
    """Lines for `references`, each run of one repeated pattern folded into one line; at
    each position the pattern that folds the most references wins, the shortest on ties."""
    kinds = [reference.kind for reference in references]
    lines: list[ChainLine] = []
    position = 0
    while position < len(references):
        best_period, best_repeats = 1, 1
        for period in range(1, MAX_PERIOD + 1):
            repeats = _repeats(kinds, position, period)
            if repeats >= MIN_REPEATS and period * repeats > best_period * best_repeats:
                best_period, best_repeats = period, repeats
        end = position + best_period * best_repeats
        lines.append(ChainLine(tuple(references[position:end]),
                               best_period if best_repeats > 1 else 1))
        position = end
    return lines


def _repeats(kinds: list[tuple[str, str]], start: int, period: int) -> int:
    """How many times kinds[start:start+period] repeats back to back from `start`."""
    pattern = kinds[start:start + period]
    if len(pattern) < period:
        return 0
    repeats = 1
    while kinds[start + repeats * period:start + (repeats + 1) * period] == pattern:
        repeats += 1
    return repeats
