"""What DevTools and memlab show beyond classes: the Statistics view, duplicated strings and
the largest single objects.

The statistics follow DevTools' `JSHeapSnapshot.calculateStatistics` (over shallow sizes);
duplicated strings its `duplicatedStrings` filter (strings and unflattened concatenated
strings of non-zero size, grouped by value), with memlab's `string` analysis measure of waste
(the retained size of all copies but one's share). V8 names most concatenated strings
`(concatenated string)` instead of their text; those are left out, since equal names do not
mean equal values there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memtui.heap import kernels
from memtui.heap.classes import ClassTable, of_types, string_indexes
from memtui.heap.retainers import node_label
from memtui.heap.snapshot import HeapSnapshot

ARRAY_NAME = "Array"
ARRAY_ELEMENTS_EDGE = "elements"
TYPED_ARRAY_STORE = "system / JSArrayBufferData"
STRING_TYPES = ("string", "concatenated string", "sliced string")
DUPLICATE_STRING_TYPES = ("string", "concatenated string")
CONS_PART_EDGES = ("first", "second")
CONS_STRING_PLACEHOLDER = "(concatenated string)"


@dataclass(frozen=True)
class HeapStatistics:
    """DevTools' Statistics view, in bytes. `total` is the root's retained size plus the
    native bytes V8 reports outside the graph."""

    total: int
    native: int
    typed_arrays: int
    v8_heap: int
    code: int
    strings: int
    js_arrays: int
    system: int

    @property
    def other_js_objects(self) -> int:
        return self.v8_heap - self.code - self.strings - self.js_arrays - self.system

    @property
    def other_native(self) -> int:
        """Native memory that is not typed arrays' backing stores."""
        return self.native - self.typed_arrays

    def rows(self) -> list[tuple[str, int]]:
        """The view's categories, as DevTools names them."""
        return [("Code", self.code), ("Strings", self.strings), ("JS arrays", self.js_arrays),
                ("Typed arrays", self.typed_arrays), ("System objects", self.system),
                ("Other JS objects", self.other_js_objects),
                ("Other non-JS objects", self.other_native)]


@dataclass(frozen=True)
class DuplicateString:
    """A string value held by several string nodes."""

    value: str
    count: int
    self_size: int
    retained_size: int

    @property
    def wasted_size(self) -> int:
        """What all copies but one take (memlab: retained size x (count - 1) / count)."""
        return self.retained_size * (self.count - 1) // self.count


@dataclass(frozen=True)
class LargeObject:
    """One object and what it keeps alive."""

    node: int
    node_id: int
    label: str
    class_label: str
    location: str | None
    self_size: int
    retained_size: int


def heap_statistics(snapshot: HeapSnapshot, self_size: np.ndarray,
                    retained: np.ndarray) -> HeapStatistics:
    """The Statistics view of `snapshot` over DevTools' shallow sizes `self_size`."""
    types = snapshot.node_type

    def total_of(mask: np.ndarray) -> int:
        return int(self_size[mask].sum(dtype=np.int64))

    hidden = types == snapshot.type_code("hidden")
    native = types == snapshot.type_code("native")
    stores = native & _named_mask(snapshot, TYPED_ARRAY_STORE)
    code = types == snapshot.type_code("code")
    strings = of_types(snapshot, STRING_TYPES)
    arrays = ~(hidden | native | code | strings) & _named_mask(snapshot, ARRAY_NAME)
    extra = snapshot.extra_native_bytes
    total = int(retained[snapshot.root]) + extra
    native_total = total_of(native) + extra
    return HeapStatistics(total=total, native=native_total, typed_arrays=total_of(stores),
                          v8_heap=total - native_total, code=total_of(code),
                          strings=total_of(strings),
                          js_arrays=_js_array_sizes(snapshot, np.flatnonzero(arrays), self_size),
                          system=total_of(hidden))


def _named_mask(snapshot: HeapSnapshot, name: str) -> np.ndarray:
    return np.isin(snapshot.node_name, string_indexes(snapshot.strings, name))


def _js_array_sizes(snapshot: HeapSnapshot, arrays: np.ndarray, self_size: np.ndarray) -> int:
    """DevTools' `calculateArraySize` summed: each array's size plus that of the store its
    first internal `elements` edge leads to, when nothing else references that store."""
    total = int(self_size[arrays].sum(dtype=np.int64))
    edges = snapshot.edges_of(arrays)
    owner = np.repeat(np.arange(arrays.size), snapshot.edge_counts_of(arrays))
    elements = (snapshot.edge_type[edges] == snapshot.edge_type_code("internal"))
    elements &= np.isin(snapshot.edge_name[edges],
                        string_indexes(snapshot.strings, ARRAY_ELEMENTS_EDGE))
    edges, owner = edges[elements], owner[elements]
    if not edges.size:
        return total
    first = np.r_[True, owner[1:] != owner[:-1]]
    stores = snapshot.edge_to[edges[first]]
    counts = kernels.retainer_counts(snapshot.edge_to, snapshot.node_count)[stores]
    return total + int(self_size[stores[counts == 1]].sum(dtype=np.int64))


def duplicate_strings(snapshot: HeapSnapshot, self_size: np.ndarray,
                      retained: np.ndarray) -> list[DuplicateString]:
    """String values held by more than one string node, most wasted bytes first."""
    candidates = np.flatnonzero(of_types(snapshot, DUPLICATE_STRING_TYPES) & (self_size > 0))
    candidates = candidates[~_flat_cons_strings(snapshot, candidates)]
    placeholder = string_indexes(snapshot.strings, CONS_STRING_PLACEHOLDER)
    candidates = candidates[~np.isin(snapshot.node_name[candidates], placeholder)]
    names = snapshot.node_name[candidates]
    distinct, name_slot = np.unique(names, return_inverse=True)
    canonical: dict[str, int] = {}
    value_of_slot = np.array([canonical.setdefault(snapshot.strings[i], len(canonical))
                              for i in distinct.tolist()], dtype=np.int64)
    value = value_of_slot[name_slot.reshape(-1)]
    counts = np.bincount(value, minlength=len(canonical))
    repeated = counts[value] > 1
    value, nodes = value[repeated], candidates[repeated]
    groups, group_of = np.unique(value, return_inverse=True)
    group_of = group_of.reshape(-1)
    selfs = np.bincount(group_of, self_size[nodes], minlength=groups.size)
    retains = np.bincount(group_of, retained[nodes], minlength=groups.size)
    texts = list(canonical)
    found = [DuplicateString(value=texts[g], count=int(counts[g]), self_size=int(s),
                             retained_size=int(r))
             for g, s, r in zip(groups.tolist(), selfs.tolist(), retains.tolist(), strict=True)]
    found.sort(key=lambda d: (-d.wasted_size, -d.count, d.value))
    return found


def _flat_cons_strings(snapshot: HeapSnapshot, nodes: np.ndarray) -> np.ndarray:
    """Mask over `nodes`: concatenated strings already flattened (an internal `first` or
    `second` part is the empty string), which DevTools does not report as duplicates."""
    flat = np.zeros(nodes.size, dtype=bool)
    cons = np.flatnonzero(snapshot.node_type[nodes] == snapshot.type_code("concatenated string"))
    empty = string_indexes(snapshot.strings, "")
    if not cons.size or not empty.size:
        return flat
    edges = snapshot.edges_of(nodes[cons])
    owner = np.repeat(cons, snapshot.edge_counts_of(nodes[cons]))
    parts = [i for name in CONS_PART_EDGES for i in string_indexes(snapshot.strings, name)]
    part = (snapshot.edge_type[edges] == snapshot.edge_type_code("internal"))
    part &= np.isin(snapshot.edge_name[edges], parts)
    part &= np.isin(snapshot.node_name[snapshot.edge_to[edges]], empty)
    flat[owner[part]] = True
    return flat


def largest_objects(snapshot: HeapSnapshot, classes: ClassTable, retained: np.ndarray,
                    count: int) -> list[LargeObject]:
    """The `count` counted objects with the largest retained sizes, largest first."""
    counted = np.flatnonzero(classes.node_class >= 0)
    sizes = retained[counted]
    if count < counted.size:
        top = np.argpartition(-sizes, count - 1)[:count]
        counted, sizes = counted[top], sizes[top]
    order = np.lexsort((snapshot.node_id[counted], -sizes))
    objects = []
    for node in counted[order].tolist():
        klass = int(classes.node_class[node])
        objects.append(LargeObject(
            node=node, node_id=int(snapshot.node_id[node]), label=node_label(snapshot, node),
            class_label=classes.names[klass], location=classes.locations[klass],
            self_size=int(classes.node_self_size[node]), retained_size=int(retained[node])))
    return objects
