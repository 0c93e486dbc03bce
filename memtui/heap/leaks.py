"""The three-snapshot leak finder, as memlab defines a leak: objects allocated between the
baseline and the target snapshot (their ids are in the target, not in the baseline) that are
still alive in the final one, grouped by class and ranked by the size they retain.

Object ids mean one object only within one inspector session, so the three files must come
from one (`ids_comparable` judges each consecutive pair). Node needs no leak filter of the
user's own: survivors the program does not hold are left out, each kind for a reason seen on
real captures (see `Exclusion`):

- `unreachable`: reached from no user root over the edges the retainer search follows, so
  only through weak references, V8's own roots (the inspector console's global handles keep
  the results of memtui's evaluations), or memtui's `memtui.*` globals;
- `v8_internal`: compiled code, bytecode, feedback vectors, source position tables (node
  type `code`), hidden classes (`object shape`), `(system)` internals: V8 makes them for
  every function the program (or memtui's sampling) runs for the first time;
- `runtime_internal`: objects that only V8 internals hold: a NativeContext's caches (its
  `regexp_last_match_info` kept the 275 KB text of `/proc/net/tcp` that memtui's probe had
  matched a regular expression over), the scripts of compiled functions (the 20 KB source
  of `node:internal/worker`, which Node loaded lazily), the boilerplates of feedback
  vectors' allocation sites.

Survivors are grouped by class. A leak repeats: each pass over the leaking path leaves
objects of its class behind, so classes with at least `MIN_REPEATS` survivors come first.
Their retained size counts what their outermost survivors retain (those no other survivor
of a repeated class dominates), so each leaked byte counts once, for the object that holds
the rest: the head of a chain of leaked closures, not each link again; and the few new
containers a leak grows in (on Node 24, the array of an emitter's listeners was a new
object) do not take the bytes of the many objects inside. Classes with fewer survivors
follow, with DevTools' retained size of their survivors.

A class is reported when that retained size reaches `MIN_RETAINED`, more than twice the
largest class that was not a leak in nine programs (six leaking, three not): 16 KB on Node
20 and 28 KB on Node 24, what Node kept of its own modules loaded lazily between the
snapshots (`worker_threads`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from memtui.errors import UsageError
from memtui.heap import kernels
from memtui.heap.diff import ids_comparable
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.retainers import SYSTEM_DISTANCE, followed_edges

MIN_RETAINED = 64 * 1024
"""Bytes the survivors of a class must retain to be reported as leaking."""
MIN_REPEATS = 10
"""Survivors a class needs to count as repeated (see the module's docstring)."""
V8_INTERNAL_TYPES = ("code", "object shape", "hidden", "synthetic")
NATIVE_CONTEXT = "system / NativeContext"
NATIVE_CONTEXT_PROGRAM_SLOTS = ("script_context_table", "global_proxy_object", "extension")
"""The internal slots of a NativeContext that lead to the program's own data."""
CAPTURE_HINT = ("take the three snapshots in one memtui session: `l` in the live view, or "
                "`memtui leaks --capture PID`")


class Exclusion(StrEnum):
    """Why a surviving new object is not counted (see the module's docstring)."""

    UNREACHABLE = "unreachable"
    V8_INTERNAL = "v8_internal"
    RUNTIME_INTERNAL = "runtime_internal"


@dataclass(frozen=True)
class LeakingClass:
    """A class with new objects that survived: how many, their shallow size, what they
    retain (those no other survivor of the class dominates), and the one retaining most."""

    label: str
    location: str | None
    count: int
    self_size: int
    retained_size: int
    representative: int


@dataclass(frozen=True)
class LeakReport:
    """The classes whose survivors retain at least `min_retained` bytes, most retained
    first (`classes`), and how many survivors were counted or left out, and why."""

    classes: list[LeakingClass]
    below_floor: int
    survivors: int
    excluded: dict[Exclusion, int]
    min_retained: int
    final: HeapAnalysis


def check_comparable(paths: tuple[Path, Path, Path],
                     analyses: tuple[HeapAnalysis, HeapAnalysis, HeapAnalysis]) -> None:
    """Raise UsageError unless object ids are comparable between baseline and target and
    between target and final."""
    for (first, second), (a, b) in (((paths[0], paths[1]), (analyses[0], analyses[1])),
                                    ((paths[1], paths[2]), (analyses[1], analyses[2]))):
        comparable, reason = ids_comparable(a.snapshot, b.snapshot, first, second)
        if not comparable:
            raise UsageError(f"object ids of {first.name} and {second.name} are not "
                             f"comparable: {reason}", CAPTURE_HINT)


def find_leaks(baseline: HeapAnalysis, target: HeapAnalysis, final: HeapAnalysis, *,
               min_retained: int = MIN_RETAINED,
               on_step: Callable[[str], None] | None = None) -> LeakReport:
    """The surviving new objects of FINAL by class, most retained first. The caller has
    checked that the ids are comparable (`check_comparable`)."""
    snapshot = final.snapshot
    new_at_target = ~np.isin(target.snapshot.node_id, baseline.snapshot.node_id)
    survived = np.isin(snapshot.node_id, target.snapshot.node_id[new_at_target])
    del new_at_target
    table = final.classes
    survived &= table.node_class >= 0
    survivors = int(survived.sum())
    if on_step is not None:
        on_step("leaving out what the program does not hold")
    distance = final.retainers.distance
    excluded: dict[Exclusion, int] = {}
    for reason, mask in ((Exclusion.UNREACHABLE, (distance < 0) | (distance >= SYSTEM_DISTANCE)),
                         (Exclusion.V8_INTERNAL, _of_types(final, V8_INTERNAL_TYPES)),
                         (Exclusion.RUNTIME_INTERNAL, ~_held_by_program(final))):
        left_out = survived & mask
        excluded[reason] = int(left_out.sum())
        survived &= ~left_out
    nodes = np.flatnonzero(survived)
    node_group = np.full(snapshot.node_count, -1, dtype=np.int32)
    node_group[nodes] = table.node_class[nodes]
    class_count = len(table.names)
    counts, sizes = kernels.class_totals(node_group, table.node_self_size, class_count)
    retained = final.retained_sizes
    tree = final.dominator_tree
    repeated = counts >= MIN_REPEATS
    marked = survived & repeated[np.maximum(node_group, 0)]
    outermost = np.flatnonzero(kernels.outermost_marked(tree.idom, tree.order, marked))
    by_class = np.bincount(node_group[outermost], weights=retained[outermost],
                           minlength=class_count).astype(np.int64)
    node_group[marked] = -1
    by_class += tree.class_retained_sizes(node_group, retained, class_count)
    order = np.lexsort((snapshot.node_id[nodes], -distance[nodes].astype(np.int64),
                        -retained[nodes]))
    representative: dict[int, int] = {}
    for node in nodes[order].tolist():
        representative.setdefault(int(table.node_class[node]), node)
    rows = [LeakingClass(label=table.names[k], location=table.locations[k],
                         count=int(counts[k]), self_size=int(sizes[k]),
                         retained_size=int(by_class[k]), representative=node)
            for k, node in representative.items()]
    rows.sort(key=lambda r: (r.count < MIN_REPEATS, -r.retained_size, -r.count, r.label,
                             r.location or ""))
    listed = [row for row in rows if row.retained_size >= min_retained]
    return LeakReport(classes=listed, below_floor=len(rows) - len(listed),
                      survivors=survivors, excluded=excluded, min_retained=min_retained,
                      final=final)


def _of_types(analysis: HeapAnalysis, type_names: tuple[str, ...]) -> np.ndarray:
    snapshot = analysis.snapshot
    codes = [snapshot.type_code(name) for name in type_names if snapshot.type_code(name) >= 0]
    return np.isin(snapshot.node_type, codes)


def _held_by_program(analysis: HeapAnalysis) -> np.ndarray:
    """Mask of the nodes reachable from the user roots over the edges the retainer search
    follows without leaving a V8 internal (`V8_INTERNAL_TYPES`), except through the slots
    of a NativeContext that lead to the program's own data."""
    snapshot = analysis.snapshot
    follow = followed_edges(snapshot)
    sources = snapshot.edge_source()
    inside_v8 = _of_types(analysis, V8_INTERNAL_TYPES)
    leaves_v8 = inside_v8[sources]
    del inside_v8
    strings = {text: index for index, text in enumerate(snapshot.strings)}
    if NATIVE_CONTEXT in strings:
        native_context = snapshot.node_name == strings[NATIVE_CONTEXT]
        kept = [strings[name] for name in NATIVE_CONTEXT_PROGRAM_SLOTS if name in strings]
        leaves_v8 &= ~(native_context[sources] & np.isin(snapshot.edge_name, kept)
                       & (snapshot.edge_type == snapshot.edge_type_code("internal")))
    del sources
    follow &= ~leaves_v8
    del leaves_v8
    root_edges = snapshot.edges_of(np.array([snapshot.root]))
    user_roots = snapshot.edge_to[root_edges]
    user_roots = user_roots[snapshot.node_type[user_roots] != snapshot.type_code("synthetic")]
    return kernels.reachable(snapshot.first_edge, snapshot.edge_to, follow, user_roots,
                             snapshot.node_count)
