"""Chrome DevTools' Summary view: a class label per node, shallow sizes, counts per class.

Follows devtools-frontend's `HeapSnapshot.ts` (`calculateObjectNames`,
`inferInterfaceDefinitions`/`applyInterfaceDefinitions`, `calculateShallowSizes`,
`classKeyInternal`, `buildAggregates`), computed column-wise with numpy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from memtui.heap import kernels
from memtui.heap.snapshot import HeapSnapshot

PLAIN_OBJECT = "Object"
PROTO_PROPERTY = "__proto__"
MAX_INTERFACE_NAME_LENGTH = 120
MIN_OBJECT_COUNT_PER_INTERFACE = 2
MIN_OBJECT_PROPORTION_PER_INTERFACE = 1000
LABEL_BY_TYPE = {"hidden": "(system)", "code": "(compiled code)", "closure": "Function",
                 "regexp": "RegExp"}
TYPES_LABELLED_BY_NAME = ("object", "native")
OWNABLE_NATIVE_NAME = "system / ExternalStringData"
NEEDS_QUOTING = re.compile(r"[,'\"{}]")
SMALL_GROUP = 32
OWNABLE_TYPES = ("hidden", "array")
UNKNOWN, ATTACHED, DETACHED = 0, 1, 2
DETACHED_PREFIX = "Detached "


@dataclass(frozen=True)
class ClassTable:
    """DevTools' class of every node.

    `node_class[i]` indexes `names`/`locations`, or is -1 for nodes the Summary does not count
    (shallow size 0). `node_self_size` holds DevTools' shallow sizes: the size of arrays and
    internal nodes owned by one object is moved onto that object.
    """

    names: list[str]
    locations: list[str | None]
    node_class: np.ndarray
    node_self_size: np.ndarray

    def members(self, label: str, location: str | None) -> np.ndarray:
        """Node ordinals of the class (label, location), in node order (none if no such
        class)."""
        for index, key in enumerate(zip(self.names, self.locations, strict=True)):
            if key == (label, location):
                return np.flatnonzero(self.node_class == index)
        return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class InterfaceDefinition:
    """A DevTools interface: plain objects having all these properties get the label
    (`{a, b}`); inferred from one snapshot, applied to it or to another."""

    label: str
    properties: frozenset[str]


InterfaceDefinitions = tuple[InterfaceDefinition, ...]


@dataclass(frozen=True)
class PlainObjects:
    """The snapshot's plain `Object` nodes and their property edges, by object:
    `owner[k]` indexes `nodes`, `slot[k]` indexes `names` (property-name string indexes)."""

    nodes: np.ndarray
    owner: np.ndarray
    names: np.ndarray
    slot: np.ndarray


def plain_objects(snapshot: HeapSnapshot) -> PlainObjects:
    """The plain objects and their property names, which interfaces are inferred from and
    applied to."""
    objects = np.flatnonzero(snapshot.node_type == snapshot.type_code("object"))
    objects = objects[_named(snapshot, objects, PLAIN_OBJECT)]
    edges = snapshot.edges_of(objects)
    owner = np.repeat(np.arange(len(objects), dtype=np.int32), snapshot.edge_counts_of(objects))
    properties = snapshot.edge_type[edges] == snapshot.edge_type_code("property")
    edges, owner = edges[properties], owner[properties]
    names, slot = _dense_ids(snapshot.edge_name[edges])
    return PlainObjects(nodes=objects, owner=owner, names=names, slot=slot)


def class_table(snapshot: HeapSnapshot, plain: PlainObjects, definitions: InterfaceDefinitions,
                self_size: np.ndarray, states: np.ndarray) -> ClassTable:
    """DevTools' class key per node: its label, plus the constructor location for objects.

    `self_size` holds the shallow sizes, `states` the DOM states; plain objects are
    labelled by `definitions` (DevTools' `applyInterfaceDefinitions`)."""
    labels, keys = _labels(snapshot, plain, definitions, states)
    located, location_of_located, location_names = _location_keys(snapshot)
    span = len(location_names) + 1
    if len(labels) * span + 1 >= 2**31:
        keys = keys.astype(np.int64)
    keys *= span
    keys[located] += location_of_located
    del located, location_of_located
    not_counted = len(labels) * span
    keys[self_size == 0] = not_counted
    unique_keys, node_class = _dense_ids(keys)
    del keys
    node_class = node_class.astype(np.int32, copy=False)
    if unique_keys.size and unique_keys[-1] == not_counted:
        unique_keys = unique_keys[:-1]
        node_class[node_class == len(unique_keys)] = -1
    label_ids, location_ids = np.divmod(unique_keys, span)
    names = [labels[i] for i in label_ids.tolist()]
    locations = [location_names[i - 1] if i else None for i in location_ids.tolist()]
    return ClassTable(names=names, locations=locations, node_class=node_class,
                      node_self_size=self_size)


def shallow_sizes(snapshot: HeapSnapshot) -> np.ndarray:
    """Self sizes as DevTools shows them: arrays and internal nodes owned by a single
    object (through non-weak edges) add their size to that object and count as 0.

    uint32 when the snapshot's total fits (sizes only move, so none can overflow), else
    int64."""
    total = int(snapshot.node_self_size.sum(dtype=np.int64))
    sizes = snapshot.node_self_size.astype(np.uint32 if total < 2**32 else np.int64)
    if not _has_user_roots(snapshot):
        return sizes
    ownable = of_types(snapshot, OWNABLE_TYPES)
    native = np.flatnonzero(snapshot.node_type == snapshot.type_code("native"))
    ownable[native[_named(snapshot, native, OWNABLE_NATIVE_NAME)]] = True
    del native
    owner = kernels.single_owners(snapshot.first_edge, snapshot.edge_to, snapshot.edge_type,
                                  ownable, snapshot.edge_type_code("weak"))
    owned = np.flatnonzero(ownable & (owner >= 0))
    del ownable
    owner = owner[owned]
    transferred = (snapshot.node_type[owner] != snapshot.type_code("synthetic"))
    transferred &= owner != snapshot.root
    kernels.transfer_sizes(sizes, owned[transferred], owner[transferred])
    return sizes


def of_types(snapshot: HeapSnapshot, type_names) -> np.ndarray:
    """Mask of the nodes whose type is one of `type_names` (absent types match nothing)."""
    types = snapshot.meta.node_types
    wanted = np.zeros(len(types), dtype=bool)
    wanted[[types.index(t) for t in type_names if t in types]] = True
    return wanted[snapshot.node_type]


def _named(snapshot: HeapSnapshot, nodes: np.ndarray, name: str) -> np.ndarray:
    """Mask over `nodes` of those whose name is `name`."""
    indexes = string_indexes(snapshot.strings, name)
    if indexes.size == 1:
        return snapshot.node_name[nodes] == indexes[0]
    return np.isin(snapshot.node_name[nodes], indexes)


def _has_user_roots(snapshot: HeapSnapshot) -> bool:
    root = snapshot.root
    targets = snapshot.edge_to[snapshot.first_edge[root]:snapshot.first_edge[root + 1]]
    return bool((snapshot.node_type[targets] != snapshot.type_code("synthetic")).any())


def _distinct(values: np.ndarray, bound: int) -> np.ndarray:
    """Sorted distinct values of an index array whose values are below `bound`."""
    if len(values) * 16 < bound:
        return _sorted_distinct(values)
    seen = np.zeros(bound, dtype=bool)
    seen[values] = True
    return np.flatnonzero(seen)


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)` without numpy's masked-array check (whose first use imports
    `numpy.ma`, 30 ms)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if ordered.size else ordered


def _dense_ids(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like `np.unique(keys, return_inverse=True)` for non-negative integer keys, through a
    lookup table instead of a sort when the keys are small."""
    if not keys.size:
        return keys.astype(np.int64), np.empty(0, dtype=np.int64)
    top = int(keys.max())
    if top > 4 * keys.size + (1 << 20):
        unique, inverse = np.unique(keys, return_inverse=True)
        return unique, inverse.reshape(-1)
    present = np.zeros(top + 1, dtype=bool)
    present[keys] = True
    rank: np.ndarray = np.cumsum(present, dtype=np.int32 if top < 2**31 else np.int64)
    rank -= 1
    return np.flatnonzero(present), rank[keys]


def string_indexes(strings: list[str], wanted: str) -> np.ndarray:
    """Every index at which `wanted` occurs in the strings table."""
    found: list[int] = []
    start = 0
    while True:
        try:
            start = strings.index(wanted, start)
        except ValueError:
            return np.array(found, dtype=np.int64)
        found.append(start)
        start += 1


def _labels(snapshot: HeapSnapshot, plain: PlainObjects, definitions: InterfaceDefinitions,
            states: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Label list and the label index of every node (DevTools' `calculateObjectNames`)."""
    types = snapshot.meta.node_types
    string_count = len(snapshot.strings)
    names = snapshot.node_name
    interface = _match_interfaces(snapshot, plain, definitions)
    by_name = of_types(snapshot, TYPES_LABELLED_BY_NAME)
    base: np.ndarray = snapshot.node_type.astype(np.int64 if 2 * string_count > 2**30
                                                  else np.int32)
    base += string_count
    np.copyto(base, names, where=by_name, casting="unsafe")
    del by_name
    interface_base = string_count + len(types)
    base[plain.nodes] = np.where(interface >= 0, interface_base + interface, base[plain.nodes])
    del interface
    detached_base = interface_base + len(definitions)
    detached = states == DETACHED
    base[detached] = detached_base + names[detached].astype(base.dtype)
    unique_base, label_of_node = _dense_ids(base)
    del base
    labels = []
    for key in unique_base.tolist():
        if key < string_count:
            labels.append(_name_label(snapshot.strings[key]))
        elif key < interface_base:
            type_name = types[key - string_count]
            labels.append(LABEL_BY_TYPE.get(type_name, f"({type_name})"))
        elif key < detached_base:
            labels.append(definitions[key - interface_base].label)
        else:
            labels.append(_name_label(DETACHED_PREFIX + snapshot.strings[key - detached_base]))
    distinct = sorted(set(labels))
    position = {label: i for i, label in enumerate(distinct)}
    label_index = np.array([position[label] for label in labels], dtype=label_of_node.dtype)
    return distinct, np.take(label_index, label_of_node, out=label_of_node, mode="clip")


def dom_states(snapshot: HeapSnapshot) -> np.ndarray:
    """DOM link state per node (0 unknown, 1 attached, 2 detached) after DevTools'
    `propagateDOMState`: embedder (native) nodes inherit the state of the native nodes
    that reach them, attached first."""
    states = np.zeros(snapshot.node_count, dtype=np.uint8)
    if snapshot.node_detachedness is None:
        return states
    known = snapshot.node_detachedness
    native = snapshot.node_type == snapshot.type_code("native")
    states[native] = known[native]
    skipped = [snapshot.edge_type_code(t) for t in ("hidden", "weak")]
    for state in (ATTACHED, DETACHED):
        open_nodes = native & (states == UNKNOWN)
        frontier = np.flatnonzero(native & (states == state))
        while frontier.size:
            edges = snapshot.edges_of(frontier)
            edges = edges[~np.isin(snapshot.edge_type[edges], skipped)]
            reached = _distinct(snapshot.edge_to[edges], snapshot.node_count)
            reached = reached[open_nodes[reached]]
            open_nodes[reached] = False
            states[reached] = state
            frontier = reached
    return states


def _name_label(name: str) -> str:
    for prefix, search_from in (("<", 0), ("Detached <", 10)):
        if name.startswith(prefix):
            space = name.find(" ", search_from)
            return name if space == -1 else name[:space] + ">"
    return name


def infer_interface_definitions(snapshot: HeapSnapshot, plain: PlainObjects,
                                ) -> InterfaceDefinitions:
    """DevTools' `inferInterfaceDefinitions`: popular leading property lists of plain
    objects, most used first."""
    object_count, owner, names, slot = len(plain.nodes), plain.owner, plain.names, plain.slot
    proto_slots = np.flatnonzero(np.isin(names, string_indexes(snapshot.strings, PROTO_PROPERTY)))
    keep = ~np.isin(slot, proto_slots)
    owner, slot = owner[keep], slot[keep]
    if not slot.size:
        return ()
    formatted = [_format_property_name(snapshot.strings[i]) for i in names.tolist()]
    width = np.array([_js_length(f) for f in formatted], dtype=np.int64)[slot]
    run_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    name_length = np.cumsum(width)
    name_length -= np.repeat(name_length[run_start] - width[run_start],
                             np.diff(np.r_[run_start, len(owner)]))
    del width, run_start
    position = _positions(owner)
    name_length += 2 * np.maximum(position - 1, 0) + 1
    included = (position == 0) | (name_length <= MAX_INTERFACE_NAME_LENGTH)
    del name_length, position
    included &= _prefix_mask(owner, included)
    owner, slot = owner[included], slot[included]
    group = _group_sequences(owner, slot, object_count)
    candidates = owner[np.r_[True, owner[1:] != owner[:-1]]]
    group_ids, group_of_candidate = _dense_ids(group[candidates])
    counts = np.bincount(group_of_candidate, minlength=len(group_ids))
    first_seen = np.full(len(group_ids), len(candidates), dtype=np.int64)
    np.minimum.at(first_seen, group_of_candidate, np.arange(len(candidates)))
    order = np.lexsort((first_seen, -counts))
    min_count = max(MIN_OBJECT_COUNT_PER_INTERFACE,
                    object_count / MIN_OBJECT_PROPORTION_PER_INTERFACE)
    definitions = []
    for i in order.tolist():
        if counts[i] < min_count:
            break
        example = candidates[first_seen[i]]
        start, end = owner.searchsorted(np.array([example, example + 1], dtype=owner.dtype))
        slots = slot[start:end].tolist()
        label = "{" + ", ".join(formatted[s] for s in slots) + "}"
        properties = frozenset(snapshot.strings[i] for i in names[slots].tolist())
        definitions.append(InterfaceDefinition(label, properties))
    return tuple(definitions)


def _match_interfaces(snapshot: HeapSnapshot, plain: PlainObjects,
                      definitions: InterfaceDefinitions) -> np.ndarray:
    """DevTools' `applyInterfaceDefinitions`: per plain object, the definition with the most
    properties that are all present on the object (earliest on ties), or -1."""
    object_count, owner, names, slot = len(plain.nodes), plain.owner, plain.names, plain.slot
    if not definitions:
        return np.full(object_count, -1, dtype=np.int64)
    ranked = sorted(range(len(definitions)),
                    key=lambda i: (-len(definitions[i].properties), i))
    group = _group_sequences(owner, slot, object_count)
    group_ids, group_of_object = _dense_ids(group)
    example = np.full(len(group_ids), object_count, dtype=np.int64)
    np.minimum.at(example, group_of_object, np.arange(object_count))
    match_of_group = np.full(len(group_ids), -1, dtype=np.int64)
    for g, obj in enumerate(example.tolist()):
        start, end = owner.searchsorted(np.array([obj, obj + 1], dtype=owner.dtype))
        present = {snapshot.strings[i] for i in names[slot[start:end]].tolist()}
        for i in ranked:
            if definitions[i].properties <= present:
                match_of_group[g] = i
                break
    return match_of_group[group_of_object]


def _positions(owner: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal (sorted) owners."""
    index_type = np.int32 if len(owner) < 2**31 else np.int64
    if not owner.size:
        return owner.astype(index_type)
    run_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]).astype(index_type)
    lengths = np.diff(np.r_[run_start, len(owner)])
    position: np.ndarray = np.arange(len(owner), dtype=index_type)
    position -= np.repeat(run_start, lengths)
    return position


def _prefix_mask(owner: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Keep each run's elements only up to its first False."""
    if not owner.size:
        return mask
    failures = np.cumsum(~mask)
    run_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    before = np.repeat(failures[run_start] - (~mask[run_start]),
                       np.diff(np.r_[run_start, len(owner)]))
    return failures == before


def _group_sequences(owner: np.ndarray, values: np.ndarray, owner_count: int) -> np.ndarray:
    """An id per owner, equal exactly when the owners' value sequences are equal.

    `owner` is sorted; owners without values share the id of the empty sequence (0).
    """
    group = np.zeros(owner_count, dtype=np.int64)
    if not owner.size:
        return group
    position = _positions(owner)
    levels = int(position.max()) + 1
    small = np.uint16 if levels < 2**16 else np.int64
    by_position = np.argsort(position.astype(small), kind="stable")
    level_starts = np.searchsorted(position[by_position], np.arange(levels + 1))
    del position
    value_span = int(values.max()) + 1
    next_id = 1
    for level in range(levels):
        at_level = by_position[level_starts[level]:level_starts[level + 1]]
        if len(at_level) <= SMALL_GROUP:
            return _group_rest(owner, values, at_level, group, next_id)
        owners_here = owner[at_level]
        _, inverse = _dense_ids(group[owners_here] * value_span + values[at_level])
        group[owners_here] = inverse + next_id
        next_id += int(inverse.max()) + 1
    return group


def _group_rest(owner, values, at_level, group, next_id) -> np.ndarray:
    """Finish grouping the few owners whose sequences are still longer, with tuples."""
    ids: dict[tuple, int] = {}
    for element in at_level.tolist():
        who = int(owner[element])
        run = slice(element, element + int(np.searchsorted(owner[element:], who, "right")))
        key = (int(group[who]), *values[run].tolist())
        if key not in ids:
            ids[key] = next_id + len(ids)
        group[who] = ids[key]
    return group


def _format_property_name(name: str) -> str:
    if NEEDS_QUOTING.search(name):
        return json.dumps({name: 0}, ensure_ascii=False, separators=(",", ":"))[1:-3]
    return name


def _js_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _location_keys(snapshot: HeapSnapshot) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Located object nodes, 1 + the index of each one's 'script_id:line:col', and those
    location names (DevTools keys only objects by location)."""
    locations = snapshot.locations
    if not len(locations):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), []
    located = locations.node.astype(np.int64)
    is_object = snapshot.node_type[located] == snapshot.type_code("object")
    script_id, line, column = (locations.script_id[is_object].astype(np.int64),
                               locations.line[is_object].astype(np.int64),
                               locations.column[is_object].astype(np.int64))
    lines, columns = int(line.max(initial=0)) + 1, int(column.max(initial=0)) + 1
    combined = (script_id * lines + line) * columns + column
    unique, inverse = np.unique(combined, return_inverse=True)
    script_ids, rest = np.divmod(unique, lines * columns)
    names = [f"{s}:{r // columns}:{r % columns}"
             for s, r in zip(script_ids.tolist(), rest.tolist(), strict=True)]
    return located[is_object], inverse.reshape(-1) + 1, names
