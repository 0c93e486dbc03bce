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


@dataclass(frozen=True)
class ClassSummary:
    """One row of the Summary view."""

    label: str
    location: str | None
    count: int
    self_size: int


def classify(snapshot: HeapSnapshot) -> ClassTable:
    """DevTools' class key per node: its label, plus the constructor location for objects."""
    labels, label_of_node = _labels(snapshot)
    location_key, location_names = _location_keys(snapshot)
    keys = label_of_node.astype(np.int64) * (len(location_names) + 1) + location_key
    self_size = shallow_sizes(snapshot)
    counted = self_size != 0
    unique_keys, class_of_counted = np.unique(keys[counted], return_inverse=True)
    node_class = np.full(snapshot.node_count, -1, dtype=np.int32)
    node_class[counted] = class_of_counted
    label_ids, location_ids = np.divmod(unique_keys, len(location_names) + 1)
    names = [labels[i] for i in label_ids.tolist()]
    locations = [location_names[i - 1] if i else None for i in location_ids.tolist()]
    return ClassTable(names=names, locations=locations, node_class=node_class,
                      node_self_size=self_size)


def summarize(snapshot: HeapSnapshot, classes: ClassTable | None = None) -> list[ClassSummary]:
    """Count and shallow size per class, largest self size first."""
    classes = classes or classify(snapshot)
    counted = classes.node_class >= 0
    class_of = classes.node_class[counted]
    total = len(classes.names)
    counts = np.bincount(class_of, minlength=total)
    sizes = np.bincount(class_of, weights=classes.node_self_size[counted], minlength=total)
    rows = [ClassSummary(label=classes.names[i], location=classes.locations[i],
                         count=int(counts[i]), self_size=int(sizes[i])) for i in range(total)]
    rows.sort(key=lambda row: (-row.self_size, -row.count, row.label, row.location or ""))
    return rows


def shallow_sizes(snapshot: HeapSnapshot) -> np.ndarray:
    """Self sizes as DevTools shows them: arrays and internal nodes owned by a single
    object (through non-weak edges) add their size to that object and count as 0."""
    sizes = snapshot.node_self_size.astype(np.int64, copy=True)
    if not _has_user_roots(snapshot):
        return sizes
    owner = _owners(snapshot)
    n = snapshot.node_count
    ordinals = np.arange(n)
    synthetic = snapshot.type_code("synthetic")
    transferred = (owner < n) & (owner != ordinals)
    transferred[transferred] = ((snapshot.node_type[owner[transferred]] != synthetic)
                                & (owner[transferred] != snapshot.root))
    moved = np.flatnonzero(transferred)
    np.add.at(sizes, owner[moved], sizes[moved])
    sizes[moved] = 0
    return sizes


def _has_user_roots(snapshot: HeapSnapshot) -> bool:
    root = snapshot.root
    targets = snapshot.edge_to[snapshot.first_edge[root]:snapshot.first_edge[root + 1]]
    return bool((snapshot.node_type[targets] != snapshot.type_code("synthetic")).any())


def _owners(snapshot: HeapSnapshot) -> np.ndarray:
    """The owning node of each node: itself, another node, n (several owners) or n+1 (none).

    The least fixed point of DevTools' ownership worklist, computed frontier by frontier.
    """
    n = snapshot.node_count
    several, unvisited = n, n + 1
    node_type = snapshot.node_type
    ownable = np.isin(node_type, [snapshot.type_code("hidden"), snapshot.type_code("array")])
    native = snapshot.type_code("native")
    if OWNABLE_NATIVE_NAME in snapshot.strings:
        name_index = _indexes_of(snapshot.strings, OWNABLE_NATIVE_NAME)
        ownable |= (node_type == native) & np.isin(snapshot.node_name, name_index)
    owner = np.where(ownable, unvisited, np.arange(n)).astype(np.int64)

    weak = snapshot.edge_type_code("weak")
    relevant = ownable[snapshot.edge_to] & (snapshot.edge_type != weak)
    source = snapshot.edge_source()[relevant]
    target = snapshot.edge_to[relevant].astype(np.int64)
    del relevant
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n), out=first[1:])
    frontier = np.unique(source[~ownable[source]])
    del source
    while frontier.size:
        edges = _edge_ranges(first, frontier)
        if not edges.size:
            break
        labels = owner[np.repeat(frontier, first[frontier + 1] - first[frontier])]
        targets = target[edges]
        order = np.argsort(targets, kind="stable")
        targets, labels = targets[order], labels[order]
        starts = np.flatnonzero(np.r_[True, targets[1:] != targets[:-1]])
        reached = targets[starts]
        low = np.minimum.reduceat(labels, starts)
        high = np.maximum.reduceat(labels, starts)
        current = owner[reached]
        merged = np.where((high == several) | (low != high), several, low)
        merged = np.where((current == unvisited) | (current == merged), merged, several)
        changed = merged != current
        owner[reached[changed]] = merged[changed]
        frontier = reached[changed]
    return owner


def _edge_ranges(first: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Concatenated edge positions first[v]:first[v+1] for each node v."""
    starts = first[nodes]
    lengths = first[nodes + 1] - starts
    total = int(lengths.sum())
    if not total:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total)


def _indexes_of(strings: list[str], *wanted: str) -> np.ndarray:
    wanted_set = set(wanted)
    return np.array([i for i, s in enumerate(strings) if s in wanted_set], dtype=np.int64)


def _labels(snapshot: HeapSnapshot) -> tuple[list[str], np.ndarray]:
    """Label list and the label index of every node (DevTools' `calculateObjectNames`)."""
    types = snapshot.meta.node_types
    string_count = len(snapshot.strings)
    names = snapshot.node_name.astype(np.int64)
    by_name = np.isin(snapshot.node_type, [snapshot.type_code(t) for t in TYPES_LABELLED_BY_NAME])
    base = np.where(by_name, names, string_count + snapshot.node_type.astype(np.int64))
    plain = _plain_objects(snapshot)
    interface, interface_names = _interfaces(snapshot, plain)
    interface_base = string_count + len(types)
    base[plain] = np.where(interface >= 0, interface_base + interface, base[plain])
    detached_base = interface_base + len(interface_names)
    detached = dom_states(snapshot) == DETACHED
    base[detached] = detached_base + names[detached]
    unique_base, label_of_node = np.unique(base, return_inverse=True)
    labels = []
    for key in unique_base.tolist():
        if key < string_count:
            labels.append(_name_label(snapshot.strings[key]))
        elif key < interface_base:
            type_name = types[key - string_count]
            labels.append(LABEL_BY_TYPE.get(type_name, f"({type_name})"))
        elif key < detached_base:
            labels.append(interface_names[key - interface_base])
        else:
            labels.append(_name_label(DETACHED_PREFIX + snapshot.strings[key - detached_base]))
    unique_labels, label_index = np.unique(np.array(labels, dtype=object), return_inverse=True)
    return unique_labels.tolist(), label_index[label_of_node]


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
            edges = _edge_ranges(snapshot.first_edge, frontier)
            edges = edges[~np.isin(snapshot.edge_type[edges], skipped)]
            reached = np.unique(snapshot.edge_to[edges])
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


def _plain_objects(snapshot: HeapSnapshot) -> np.ndarray:
    object_names = _indexes_of(snapshot.strings, PLAIN_OBJECT)
    return (snapshot.node_type == snapshot.type_code("object")) & np.isin(
        snapshot.node_name, object_names)


def _interfaces(snapshot: HeapSnapshot, plain: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """For each plain object, the index of its inferred interface (or -1) and the names."""
    objects = np.flatnonzero(plain)
    edges = _edge_ranges(snapshot.first_edge, objects)
    owner = np.repeat(np.arange(len(objects)), (snapshot.first_edge[objects + 1]
                                                - snapshot.first_edge[objects]))
    properties = snapshot.edge_type[edges] == snapshot.edge_type_code("property")
    edges, owner = edges[properties], owner[properties]
    names = snapshot.edge_name[edges].astype(np.int64)
    definitions = _interface_definitions(snapshot, len(objects), owner, names)
    interface = np.full(len(objects), -1, dtype=np.int64)
    if not definitions:
        return interface, []
    interface[:] = _match_interfaces(snapshot, len(objects), owner, names, definitions)
    return interface, [name for name, _ in definitions]


def _interface_definitions(snapshot: HeapSnapshot, object_count: int, owner: np.ndarray,
                           names: np.ndarray) -> list[tuple[str, frozenset[int]]]:
    """DevTools' `inferInterfaceDefinitions`: popular leading property lists of plain objects."""
    proto = _indexes_of(snapshot.strings, PROTO_PROPERTY)
    keep = ~np.isin(names, proto)
    owner, names = owner[keep], names[keep]
    if not names.size:
        return []
    unique_names, name_slot = np.unique(names, return_inverse=True)
    formatted = [_format_property_name(snapshot.strings[i]) for i in unique_names.tolist()]
    width = np.array([_js_length(f) for f in formatted], dtype=np.int64)[name_slot]
    position = _positions(owner)
    running = np.cumsum(width)
    run_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    before = np.repeat(running[run_start] - width[run_start],
                       np.diff(np.r_[run_start, len(owner)]))
    name_length = 1 + (running - before) + 2 * np.maximum(position - 1, 0)
    included = (position == 0) | (name_length <= MAX_INTERFACE_NAME_LENGTH)
    included &= _prefix_mask(owner, included)
    group = _group_sequences(owner[included], name_slot[included], object_count)
    has_properties = np.zeros(object_count, dtype=bool)
    has_properties[owner] = True
    candidates = np.flatnonzero(has_properties)
    _, first_seen, counts = np.unique(group[candidates], return_index=True,
                                      return_counts=True)
    order = np.lexsort((first_seen, -counts))
    min_count = max(MIN_OBJECT_COUNT_PER_INTERFACE,
                    object_count / MIN_OBJECT_PROPORTION_PER_INTERFACE)
    chosen = [i for i in order.tolist() if counts[i] >= min_count]
    if not chosen:
        return []
    slot_list = name_slot[included]
    owner_list = owner[included]
    definitions = []
    for i in chosen:
        example = candidates[first_seen[i]]
        slots = slot_list[owner_list == example].tolist()
        label = "{" + ", ".join(formatted[s] for s in slots) + "}"
        definitions.append((label, frozenset(unique_names[slots].tolist())))
    return definitions


def _match_interfaces(snapshot: HeapSnapshot, object_count: int, owner: np.ndarray,
                      names: np.ndarray, definitions) -> np.ndarray:
    """DevTools' `applyInterfaceDefinitions`: the definition with the most properties that
    are all present on the object (earliest on ties), or -1."""
    ranked = sorted(range(len(definitions)), key=lambda i: (-len(definitions[i][1]), i))
    rank_of_name = _string_order(snapshot, names)
    order = np.lexsort((rank_of_name, owner))
    owner, names = owner[order], names[order]
    group = _group_sequences(owner, names, object_count)
    unique_groups, example, group_of_object = np.unique(group, return_index=True,
                                                        return_inverse=True)
    starts = np.searchsorted(owner, np.arange(object_count))
    ends = np.searchsorted(owner, np.arange(object_count), side="right")
    match_of_group = np.full(len(unique_groups), -1, dtype=np.int64)
    for g, obj in enumerate(example.tolist()):
        present = set(names[starts[obj]:ends[obj]].tolist())
        for i in ranked:
            if definitions[i][1] <= present:
                match_of_group[g] = i
                break
    return match_of_group[group_of_object]


def _string_order(snapshot: HeapSnapshot, indexes: np.ndarray) -> np.ndarray:
    """Rank of each string index in JavaScript's default sort order (UTF-16 code units)."""
    unique, inverse = np.unique(indexes, return_inverse=True)
    keys = [snapshot.strings[i].encode("utf-16-be", "surrogatepass") for i in unique.tolist()]
    rank = np.empty(len(unique), dtype=np.int64)
    rank[sorted(range(len(unique)), key=keys.__getitem__)] = np.arange(len(unique))
    return rank[inverse]


def _positions(owner: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal (sorted) owners."""
    if not owner.size:
        return owner.copy()
    run_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    lengths = np.diff(np.r_[run_start, len(owner)])
    return np.arange(len(owner)) - np.repeat(run_start, lengths)


def _prefix_mask(owner: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Keep each run's elements only up to its first False."""
    failures = np.cumsum(~mask)
    run_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if owner.size else owner
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
    by_position = np.argsort(position, kind="stable")
    level_starts = np.searchsorted(position[by_position], np.arange(position.max() + 2))
    value_span = int(values.max()) + 1
    next_id = 1
    for level in range(len(level_starts) - 1):
        at_level = by_position[level_starts[level]:level_starts[level + 1]]
        if len(at_level) <= SMALL_GROUP:
            return _group_rest(owner, values, at_level, group, next_id)
        owners_here = owner[at_level]
        keys = group[owners_here] * value_span + values[at_level]
        _, inverse = np.unique(keys, return_inverse=True)
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


def _location_keys(snapshot: HeapSnapshot) -> tuple[np.ndarray, list[str]]:
    """Per node, 1 + the index of its 'script_id:line:col' (objects only), else 0."""
    key = np.zeros(snapshot.node_count, dtype=np.int64)
    locations = snapshot.locations
    if not len(locations):
        return key, []
    located = locations.node.astype(np.int64)
    is_object = snapshot.node_type[located] == snapshot.type_code("object")
    triples = np.stack([locations.script_id, locations.line, locations.column])[:, is_object]
    unique, inverse = np.unique(triples, axis=1, return_inverse=True)
    key[located[is_object]] = inverse.reshape(-1) + 1
    names = [f"{s}:{line}:{col}" for s, line, col in unique.T.tolist()]
    return key, names
