"""The compiled loops of the heap analysis (numba, compiled on first use and cached per user).

Every function here is a plain loop over the snapshot's columns, compiled by numba with
`nogil`, so a UI thread keeps running while one works. Compiled code is cached in
`$XDG_CACHE_HOME/memtui/numba` (default `~/.cache/memtui/numba`), not next to the package,
which may be read-only for the user; `NUMBA_CACHE_DIR` set by the user wins. The first use
on a machine compiles everything once (a few seconds); later runs load the cache. A cache
directory that cannot be created, or that another user could write to (the cache holds
machine code this process would run), is not used: everything is then compiled in every
process, and `CACHE_PROBLEM` says why.

Graphs are given in CSR form: node v's edges are `first_edge[v]:first_edge[v + 1]`, their
targets `edge_to[...]` (node ordinals).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _cache_directory() -> tuple[Path | None, str | None]:
    """The compile cache to use, or None and why not."""
    try:
        given = os.environ.get("NUMBA_CACHE_DIR")
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        directory = Path(given) if given else Path(base) / "memtui" / "numba"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = directory.stat()
    except OSError as error:
        return None, f"cannot create {error.filename or 'the cache'}: {error.strerror}"
    except RuntimeError as error:  # no home directory
        return None, str(error)
    if status.st_uid != os.geteuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None, f"{directory} is writable by another user"
    if not os.access(directory, os.W_OK | os.X_OK):
        return None, f"{directory} is not writable"
    return directory, None


CACHE_DIRECTORY, CACHE_PROBLEM = _cache_directory()
if CACHE_DIRECTORY is not None:
    os.environ["NUMBA_CACHE_DIR"] = str(CACHE_DIRECTORY)

import numba  # noqa: E402
import numpy as np  # noqa: E402

jit = numba.njit(cache=CACHE_DIRECTORY is not None, nogil=True, boundscheck=False)
inline_jit = numba.njit(cache=CACHE_DIRECTORY is not None, nogil=True, boundscheck=False,
                        inline="always")

NO_NODE = -1
PEELED = -1  # a node's mark in the dominator search once it is taken out
NEGATIVE_NUMBER, NOT_A_NUMBER, TOO_LARGE, NO_ROOM = -1, -2, -3, -4


@jit
def parse_numbers(text: np.ndarray, out: np.ndarray) -> int:
    """Parse comma-separated non-negative integers (whitespace allowed) from the bytes
    `text` into `out`; the count parsed, or -1 for a negative number, -2 for another
    character, -3 for a value over 2**32 - 1, -4 when `out` is too small."""
    count = 0
    value = 0
    in_number = False
    limit = out.size
    for i in range(text.size):
        c = text[i]
        if 48 <= c <= 57:
            value = value * 10 + (c - 48)
            if value > 4294967295:
                return TOO_LARGE
            in_number = True
        elif c == 44 or c == 32 or c == 10 or c == 13 or c == 9:
            if in_number:
                if count >= limit:
                    return NO_ROOM
                out[count] = value
                count += 1
                value = 0
                in_number = False
        elif c == 45:
            return NEGATIVE_NUMBER
        else:
            return NOT_A_NUMBER
    if in_number:
        if count >= limit:
            return NO_ROOM
        out[count] = value
        count += 1
    return count


@jit
def scatter_field(values: np.ndarray, start: int, width: int, column: np.ndarray, row: int,
                  limit: int, divisor: int) -> int:
    """Copy values[start::width] into column[row:], checking each: below `limit` (0: no
    check), and with a `divisor` a multiple of it, stored divided. Returns the index (in
    the strided part) of the first value that fails, or -1."""
    count = (values.size - start + width - 1) // width if start < values.size else 0
    for k in range(count):
        value = values[start + k * width]
        if divisor:
            if value % divisor or value // divisor >= limit:
                return k
            value = value // divisor
        elif limit and value >= limit:
            return k
        column[row + k] = value
    return -1


@jit
def reachable(first_edge: np.ndarray, edge_to: np.ndarray, followed: np.ndarray, seeds: np.ndarray,
              node_count: int) -> np.ndarray:
    """Mask of the nodes reachable from `seeds` over the edges where `followed` is true."""
    seen = np.zeros(node_count, dtype=np.bool_)
    stack = np.empty(node_count, dtype=np.int32)
    top = 0
    for s in seeds:
        if not seen[s]:
            seen[s] = True
            stack[top] = s
            top += 1
    while top:
        top -= 1
        v = stack[top]
        for e in range(first_edge[v], first_edge[v + 1]):
            if followed[e]:
                w = edge_to[e]
                if not seen[w]:
                    seen[w] = True
                    stack[top] = w
                    top += 1
    return seen


@jit
def essential_edges(first_edge: np.ndarray, edge_to: np.ndarray, edge_type: np.ndarray,
                    edge_name: np.ndarray, node_id: np.ndarray, root: int, weak: int, shortcut: int,
                    internal: int, weakmap_table_of_name: np.ndarray,
                    page_owned: np.ndarray) -> np.ndarray:
    """DevTools' essential edges, as a little-endian bit array over the edges (a bit per
    edge, so 1/8 of a byte mask): not weak, not a self edge, no shortcut except
    the root's, no WeakMap table -> value edge (`weakmap_table_of_name[name]` is the table
    id such an internal edge's name holds, else -1), and no edge from outside the page's
    objects into them (`page_owned` empty: no such rule)."""
    keep = np.zeros((edge_to.size + 7) // 8, dtype=np.uint8)
    check_owned = page_owned.size > 0
    for v in range(first_edge.size - 1):
        for e in range(first_edge[v], first_edge[v + 1]):
            w = edge_to[e]
            kind = edge_type[e]
            ok = kind != weak and w != v
            if ok and kind == internal and weakmap_table_of_name[edge_name[e]] == node_id[v]:
                ok = False
            if ok and v != root and (
                    kind == shortcut or (check_owned and page_owned[w] and not page_owned[v])):
                ok = False
            if ok:
                keep[e >> 3] |= np.uint8(1 << (e & 7))
    return keep


@inline_jit
def _is_set(bits: np.ndarray, i: int) -> int:
    """Bit i of a little-endian bit array (`np.packbits(..., bitorder="little")`)."""
    return (bits[i >> 3] >> (i & 7)) & 1


@jit
def _retainers(first_edge: np.ndarray, edge_to: np.ndarray, kept: np.ndarray,
               node_count: int) -> tuple[np.ndarray, np.ndarray]:
    """The reverse graph of the kept edges: (first_retainer, retainer) in CSR form."""
    first = np.zeros(node_count + 1, dtype=np.int32)
    for e in range(edge_to.size):
        if _is_set(kept, e):
            first[edge_to[e] + 1] += 1
    for v in range(node_count):
        first[v + 1] += first[v]
    retainer = np.empty(first[node_count], dtype=np.int32)
    for v in range(node_count):
        for e in range(first_edge[v], first_edge[v + 1]):
            if _is_set(kept, e):
                w = edge_to[e]
                retainer[first[w]] = v
                first[w] += 1
    for v in range(node_count, 0, -1):
        first[v] = first[v - 1]
    first[0] = 0
    return first, retainer


@jit
def dominator_tree(first_edge: np.ndarray, edge_to: np.ndarray, kept: np.ndarray,
                   root: int) -> tuple[np.ndarray, np.ndarray]:
    """Immediate dominators over the edges whose bit is set in `kept` (Lengauer-Tarjan, as
    DevTools runs it), and
    an order of the nodes in which each comes after its dominator, root first.

    Nodes without any kept retainer are searched from as if the root held them; nodes
    still unreached (cycles held only by each other) are numbered one by one as children
    of the root. Returns (idom, order): idom[root] == root. Edge positions must fit in
    int32 (the parser ensures it).

    Leaves that dominate nothing and have at most one retainer are taken out first, leaf
    by leaf (their retainer dominates them, the root when they have none), and the search
    runs on the rest. If some of the rest is unreachable even from the nodes without
    retainers, it runs on the whole graph instead, so that DevTools' numbering of those
    nodes decides.
    """
    n = first_edge.size - 1
    first_retainer, retainer = _retainers(first_edge, edge_to, kept, n)
    result = _lengauer_tarjan(first_edge, edge_to, kept, root, first_retainer, retainer, True)
    if result[2]:
        return result[0], result[1]
    result = _lengauer_tarjan(first_edge, edge_to, kept, root, first_retainer, retainer, False)
    return result[0], result[1]


@jit
def _lengauer_tarjan(first_edge: np.ndarray, edge_to: np.ndarray, kept: np.ndarray, root: int,
                     first_retainer: np.ndarray, retainer: np.ndarray,
                     peel: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """(idom, order, complete): with `peel`, complete is False when the peeled graph has
    nodes no search reaches (the caller then runs again without peeling)."""
    n = first_edge.size - 1
    semi = np.zeros(n, dtype=np.int32)
    vertex = np.empty(n + 1, dtype=np.int32)
    # Once w is linked its parent is no longer read, so dom shares parent's memory; a
    # peeled node's parent slot holds its dominator from the start.
    parent = np.full(n, root, dtype=np.int32)
    dom = parent
    # The search's scratch space is later reused: its stack as `path`, its edge cursors
    # as `label`.
    stack = np.empty(n, dtype=np.int32)
    next_edge = np.empty(n, dtype=np.int32)
    peeled = 0
    if peel:
        peeled = _peel_leaves(first_edge, edge_to, kept, root, first_retainer, retainer, semi,
                              vertex, dom, stack, next_edge)
    count = _depth_first(root, 0, first_edge, edge_to, kept, semi, vertex, parent, stack,
                         next_edge)
    inner = n - peeled
    if count < inner:
        for v in range(n):
            if semi[v] == 0 and first_retainer[v] == first_retainer[v + 1]:
                count = _depth_first(v, count, first_edge, edge_to, kept, semi, vertex, parent,
                                     stack, next_edge)
    if count < inner:
        if peel:
            return dom, vertex[1:], False
        for v in range(n):
            if semi[v] == 0:
                count += 1
                semi[v] = count
                vertex[count] = v
    label = next_edge
    for v in range(n):
        label[v] = v
    ancestor = np.full(n, NO_NODE, dtype=np.int32)
    path = stack
    bucket_head = np.full(n, NO_NODE, dtype=np.int32)
    bucket_next = np.empty(n, dtype=np.int32)
    for i in range(count, 1, -1):
        w = vertex[i]
        best = semi[w]
        begin, end = first_retainer[w], first_retainer[w + 1]
        if begin == end:
            best = 1
        for k in range(begin, end):
            u = _evaluate(retainer[k], ancestor, label, semi, path)
            if semi[u] < best:
                best = semi[u]
        semi[w] = best
        holder = vertex[best]
        bucket_next[w] = bucket_head[holder]
        bucket_head[holder] = w
        p = parent[w]
        ancestor[w] = p
        v = bucket_head[p]
        bucket_head[p] = NO_NODE
        while v >= 0:
            u = _evaluate(v, ancestor, label, semi, path)
            dom[v] = u if semi[u] < semi[v] else p
            v = bucket_next[v]
    for i in range(2, count + 1):
        w = vertex[i]
        if dom[w] != vertex[semi[w]]:
            dom[w] = dom[dom[w]]
    dom[root] = root
    return dom, vertex[1:], True


@jit
def _peel_leaves(first_edge: np.ndarray, edge_to: np.ndarray, kept: np.ndarray, root: int,
                 first_retainer: np.ndarray, retainer: np.ndarray, semi: np.ndarray,
                 vertex: np.ndarray, dom: np.ndarray, queue: np.ndarray,
                 out_degree: np.ndarray) -> int:
    """Take out, leaf first, the nodes that dominate nothing and have at most one retainer:
    each gets its retainer (or the root) as dominator in `dom`, is marked in `semi` so the
    search skips it, and is placed at the end of `vertex`, later leaves (their dominators)
    first. Returns how many were taken out."""
    n = first_edge.size - 1
    for v in range(n):
        degree = 0
        for e in range(first_edge[v], first_edge[v + 1]):
            if _is_set(kept, e):
                degree += 1
        out_degree[v] = degree
    tail = 0
    for v in range(n):
        if v != root and out_degree[v] == 0 and first_retainer[v + 1] - first_retainer[v] <= 1:
            queue[tail] = v
            tail += 1
    head = 0
    slot = n
    while head < tail:
        v = queue[head]
        head += 1
        semi[v] = PEELED
        vertex[slot] = v
        slot -= 1
        if first_retainer[v + 1] - first_retainer[v] == 1:
            holder = retainer[first_retainer[v]]
            dom[v] = holder
            out_degree[holder] -= 1
            if (holder != root and out_degree[holder] == 0
                    and first_retainer[holder + 1] - first_retainer[holder] <= 1):
                queue[tail] = holder
                tail += 1
    return n - slot


@jit
def _depth_first(start: int, count: int, first_edge: np.ndarray, edge_to: np.ndarray,
                 kept: np.ndarray, semi: np.ndarray, vertex: np.ndarray, parent: np.ndarray,
                 stack: np.ndarray, next_edge: np.ndarray) -> int:
    """Number the nodes reached from `start` over kept edges in DFS preorder, after
    `count`; returns the new count. `stack` and `next_edge` are scratch space."""
    count += 1
    semi[start] = count
    vertex[count] = start
    next_edge[start] = first_edge[start]
    stack[0] = start
    top = 1
    while top:
        v = stack[top - 1]
        end = first_edge[v + 1]
        e = next_edge[v]
        w = NO_NODE
        while e < end:
            w = edge_to[e]
            e += 1
            if semi[w] == 0 and _is_set(kept, e - 1):
                break
        else:
            next_edge[v] = e
            top -= 1
            continue
        next_edge[v] = e
        parent[w] = v
        count += 1
        semi[w] = count
        vertex[count] = w
        next_edge[w] = first_edge[w]
        stack[top] = w
        top += 1
    return count


@inline_jit
def _evaluate(v: int, ancestor: np.ndarray, label: np.ndarray, semi: np.ndarray,
              path: np.ndarray) -> int:
    """Lengauer-Tarjan's EVAL with path compression; `path` is scratch space."""
    a = ancestor[v]
    if a < 0:
        return v
    if ancestor[a] < 0:
        return label[v]
    length = 0
    w = v
    while ancestor[ancestor[w]] >= 0:
        path[length] = w
        length += 1
        w = ancestor[w]
    for i in range(length - 1, -1, -1):
        w = path[i]
        a = ancestor[w]
        if semi[label[a]] < semi[label[w]]:
            label[w] = label[a]
        ancestor[w] = ancestor[a]
    return label[v]


@jit
def subtree_sums(idom: np.ndarray, order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per node, the sum of `values` over the node and every node it dominates."""
    sums = values.astype(np.int64)
    for i in range(order.size - 1, 0, -1):
        v = order[i]
        sums[idom[v]] += sums[v]
    return sums


@jit
def dominated_nodes(idom: np.ndarray, root: int) -> tuple[np.ndarray, np.ndarray]:
    """The children of every node in the dominator tree, in CSR form (first, children)."""
    n = idom.size
    first = np.zeros(n + 1, dtype=np.int32)
    for v in range(n):
        if v != root:
            first[idom[v] + 1] += 1
    for v in range(n):
        first[v + 1] += first[v]
    children = np.empty(max(n - 1, 0), dtype=np.int32)
    fill = first[:-1].copy()
    for v in range(n):
        if v != root:
            d = idom[v]
            children[fill[d]] = v
            fill[d] += 1
    return first, children


@jit
def class_retained_sizes(first_child: np.ndarray, children: np.ndarray, root: int,
                         node_class: np.ndarray, retained: np.ndarray,
                         class_count: int) -> np.ndarray:
    """DevTools' retained size per class: the sum of the retained sizes of the class's
    counted objects (class >= 0) that no other counted object of the class dominates."""
    result = np.zeros(class_count, dtype=np.int64)
    on_path = np.zeros(class_count, dtype=np.int32)
    n = node_class.size
    stack = np.empty(n, dtype=np.int32)
    next_child = np.empty(n, dtype=np.int32)
    stack[0] = root
    next_child[root] = first_child[root]
    c = node_class[root]
    if c >= 0:
        result[c] += retained[root]
        on_path[c] += 1
    top = 1
    while top:
        v = stack[top - 1]
        k = next_child[v]
        if k < first_child[v + 1]:
            next_child[v] = k + 1
            w = children[k]
            c = node_class[w]
            if c >= 0:
                if on_path[c] == 0:
                    result[c] += retained[w]
                on_path[c] += 1
            next_child[w] = first_child[w]
            stack[top] = w
            top += 1
        else:
            top -= 1
            c = node_class[v]
            if c >= 0:
                on_path[c] -= 1
    return result


@jit
def class_totals(node_class: np.ndarray, self_size: np.ndarray,
                 class_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the number of nodes and the sum of their `self_size` (class -1: none)."""
    counts = np.zeros(class_count, dtype=np.int64)
    sizes = np.zeros(class_count, dtype=np.int64)
    for v in range(node_class.size):
        c = node_class[v]
        if c >= 0:
            counts[c] += 1
            sizes[c] += self_size[v]
    return counts, sizes


@jit
def transfer_sizes(sizes: np.ndarray, owned: np.ndarray, owner: np.ndarray) -> None:
    """Move the size of each owned[i] onto owner[i] (owners are never owned)."""
    for i in range(owned.size):
        sizes[owner[i]] += sizes[owned[i]]
        sizes[owned[i]] = 0


@jit
def single_owners(first_edge: np.ndarray, edge_to: np.ndarray, edge_type: np.ndarray,
                  ownable: np.ndarray, weak: int) -> np.ndarray:
    """DevTools' `calculateShallowSizes` ownership: for every node, its owner (itself for
    nodes that are not ownable), or -1 when no owner or several owners reach it."""
    n = first_edge.size - 1
    unvisited = -1
    several = -2
    owner = np.empty(n, dtype=np.int32)
    worklist = np.empty(2 * n, dtype=np.int32)
    top = 0
    for v in range(n):
        if ownable[v]:
            owner[v] = unvisited
        else:
            owner[v] = v
            worklist[top] = v
            top += 1
    while top:
        top -= 1
        v = worklist[top]
        o = owner[v]
        for e in range(first_edge[v], first_edge[v + 1]):
            if edge_type[e] == weak:
                continue
            w = edge_to[e]
            current = owner[w]
            if current == unvisited:
                owner[w] = o
                worklist[top] = w
                top += 1
            elif current != w and current != o and current != several:
                owner[w] = several
                worklist[top] = w
                top += 1
    for v in range(n):
        if owner[v] == several:
            owner[v] = unvisited
    return owner


@jit
def retainer_search(first_edge: np.ndarray, edge_to: np.ndarray, followed: np.ndarray,
                    user_roots: np.ndarray, user_root_edges: np.ndarray, root: int,
                    system_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """DevTools' distances: breadth-first over the followed edges from the user roots (at
    distance 1, reached by `user_root_edges`), then from the root (at `system_distance`
    when there are user roots, else 0) for whatever they do not reach. Returns
    (distance, parent_edge), -1 where a node is not reached."""
    n = first_edge.size - 1
    distance = np.full(n, -1, dtype=np.int32)
    parent_edge = np.full(n, -1, dtype=np.int64)
    queue = np.empty(n + 1, dtype=np.int32)
    tail = 0
    for i in range(user_roots.size):
        v = user_roots[i]
        if distance[v] < 0:
            distance[v] = 1
            parent_edge[v] = user_root_edges[i]
            queue[tail] = v
            tail += 1
    tail = _breadth_first(queue, 0, tail, first_edge, edge_to, followed, distance,
                          parent_edge)
    distance[root] = system_distance if user_roots.size else 0
    queue[tail] = root
    _breadth_first(queue, tail, tail + 1, first_edge, edge_to, followed, distance, parent_edge)
    return distance, parent_edge


@jit
def _breadth_first(queue: np.ndarray, head: int, tail: int, first_edge: np.ndarray,
                   edge_to: np.ndarray, followed: np.ndarray, distance: np.ndarray,
                   parent_edge: np.ndarray) -> int:
    """Visit from queue[head:tail] in discovery order; returns the new tail."""
    while head < tail:
        v = queue[head]
        head += 1
        for e in range(first_edge[v], first_edge[v + 1]):
            if followed[e]:
                w = edge_to[e]
                if distance[w] < 0:
                    distance[w] = distance[v] + 1
                    parent_edge[w] = e
                    queue[tail] = w
                    tail += 1
    return tail


@jit
def names_of_edges(edge_type: np.ndarray, edge_name: np.ndarray, kind: int,
                   string_count: int) -> np.ndarray:
    """Mask over the strings table: the names of the edges of type `kind`."""
    used = np.zeros(string_count, dtype=np.bool_)
    for e in range(edge_type.size):
        if edge_type[e] == kind:
            used[edge_name[e]] = True
    return used


@jit
def retainer_counts(edge_to: np.ndarray, node_count: int) -> np.ndarray:
    """Number of edges of any type pointing at each node."""
    counts = np.zeros(node_count, dtype=np.int32)
    for e in range(edge_to.size):
        counts[edge_to[e]] += 1
    return counts



@jit
def outermost_marked(idom: np.ndarray, order: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Mask of the marked nodes that no other marked node dominates (`order`: the nodes in
    an order where each comes after its dominator, root first)."""
    under_marked = np.zeros(idom.size, dtype=np.bool_)
    for i in range(1, order.size):
        v = order[i]
        d = idom[v]
        under_marked[v] = under_marked[d] or marked[d]
    return marked & ~under_marked
