"""What `memtui summary` and `memtui diff` print: the JSON documents and their terminal tables.

The tables are rendered from the JSON documents, so both outputs always show the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from memtui.errors import UsageError
from memtui.heap.capture_record import read_capture_record
from memtui.heap.classes import classify
from memtui.heap.diff import (
    HeapDiff,
    diff_snapshots,
    ids_comparable,
    shared_object_ids,
)
from memtui.heap.dominators import DominatorTree, class_retained_sizes
from memtui.heap.scripts import source_files
from memtui.heap.snapshot import HeapSnapshot, load_snapshot
from memtui.units import format_bytes, format_change

DIFF_COLUMNS = ("class", "count_before", "count_after", "new", "deleted", "count_delta",
                "size_before", "size_after", "alloc_size", "freed_size", "size_delta",
                "location")
SOURCE_FIELDS = ("file", "line", "column")
TEXT_COLUMNS = ("class", "location")
DEFAULT_SORT_BY_IDS = "alloc_size"
DEFAULT_SORT_WITHOUT_IDS = "size_delta"
MAX_LABEL_WIDTH = 60


def snapshot_facts(path: Path | str, snapshot: HeapSnapshot, self_size: int) -> dict:
    """The `before`/`after` object of `diff --json`: file, file_size (bytes on disk), nodes,
    edges, self_size (the heap: every object's size), taken_at (from memtui's capture record, or
    null)."""
    record = read_capture_record(path)
    return {"file": str(path), "file_size": Path(path).stat().st_size,
            "nodes": snapshot.node_count, "edges": snapshot.edge_count,
            "self_size": self_size, "taken_at": record.taken_at if record else None}


def summary_json(path: Path | str, snapshot: HeapSnapshot, top: int | None = None) -> dict:
    """`memtui summary --json`: classes as DevTools' Summary view, largest retained size
    first; `file`, `line` and `column` (1-based) say where a located class is defined."""
    _check_top(top)
    table = classify(snapshot)
    tree = DominatorTree.build(snapshot, table.node_self_size)
    class_count = len(table.names)
    retained = class_retained_sizes(tree, table.node_class, table.node_self_size, class_count)
    counted = table.node_class >= 0
    counts = _bincount(table.node_class[counted], None, class_count)
    sizes = _bincount(table.node_class[counted], table.node_self_size[counted], class_count)
    files = source_files(path, snapshot)
    classes: list[dict[str, Any]] = [
        {"class": table.names[i], "count": counts[i], "self_size": sizes[i],
         "retained_size": int(retained[i]), "location": table.locations[i],
         **files.fields(table.locations[i])}
        for i in range(class_count)]
    classes.sort(key=lambda c: (-c["retained_size"], -c["self_size"], c["class"],
                                c["location"] or ""))
    return {"file": str(path), "nodes": snapshot.node_count, "edges": snapshot.edge_count,
            "self_size": int(table.node_self_size.sum()), "classes": classes[:top]}


def compare_files(before_path: Path | str, after_path: Path | str,
                  ids_override: bool | None = None) -> HeapDiff:
    """Load two snapshot files, judge whether their ids are comparable, and diff them.

    The files are loaded one after the other: each load already keeps both cores busy
    while it parses, and the rest of the work holds the GIL for long stretches."""
    before, after = load_snapshot(before_path), load_snapshot(after_path)
    shared_ids = shared_object_ids(before, after) if ids_override is not False else None
    comparable, reason = ids_comparable(before, after, before_path, after_path, ids_override,
                                        shared_ids=shared_ids)
    return diff_snapshots(before, after, comparable, reason, shared_ids=shared_ids)


def diff_json(before_path: Path | str, after_path: Path | str, diff: HeapDiff,
              top: int | None = None, sort: str | None = None) -> dict:
    """`memtui diff --json`. Rows sorted by `sort` (numbers largest first, text A-Z, nulls
    last), by default as DevTools' Comparison view (Alloc. Size), or by size delta when ids
    are not comparable; `ids_comparable_reason` says why ids were, or were not, compared.
    `file`, `line` and `column` (1-based) say where a located class is defined."""
    _check_top(top)
    if sort is None:
        sort = DEFAULT_SORT_BY_IDS if diff.ids_comparable else DEFAULT_SORT_WITHOUT_IDS
    if sort not in DIFF_COLUMNS:
        raise UsageError(f"cannot sort by {sort!r}", "use one of: " + ", ".join(DIFF_COLUMNS))
    files = source_files(after_path, diff.after, diff.before)
    rows = [{"class": r.label, "count_before": r.count_before, "count_after": r.count_after,
             "new": r.new, "deleted": r.deleted, "count_delta": r.count_delta,
             "size_before": r.size_before, "size_after": r.size_after,
             "alloc_size": r.alloc_size, "freed_size": r.freed_size,
             "size_delta": r.size_delta, "location": r.location, **files.fields(r.location)}
            for r in diff.rows]
    rows.sort(key=lambda row: (row["class"], row["location"] or ""))
    rows.sort(key=lambda row: _sort_key(row[sort], sort))
    return {
        "before": snapshot_facts(before_path, diff.before,
                                 int(diff.before_classes.node_self_size.sum())),
        "after": snapshot_facts(after_path, diff.after,
                                int(diff.after_classes.node_self_size.sum())),
        "ids_comparable": diff.ids_comparable,
        "ids_comparable_reason": diff.reason,
        "rows": rows[:top],
    }


def _sort_key(value, column: str) -> tuple:
    if value is None:
        return (1, 0)
    return (0, value) if column in TEXT_COLUMNS else (0, -value)


def _check_top(top: int | None) -> None:
    if top is not None and top < 1:
        raise UsageError(f"--top must be at least 1, not {top}", "give a positive number")


def _bincount(classes, weights, length: int) -> list[int]:
    return np.bincount(classes, weights=weights, minlength=length).astype(np.int64).tolist()


def human_bytes(size: int | None, signed: bool = False) -> str:
    """Byte counts in the binary units the rest of memtui shows: `812 B`, `39.1 KiB`,
    `+1.4 MiB` (`--json` has the exact bytes)."""
    if size is None:
        return "-"
    return format_change(size) if signed else format_bytes(size)


def _count(value: int | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+,}" if signed and value else f"{value:,}"


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL_WIDTH else text[:MAX_LABEL_WIDTH - 1] + "…"


def _sizes(facts: dict) -> str:
    """A snapshot's two sizes, named: its heap (every object's size) and its file."""
    return f"heap {human_bytes(facts['self_size'])}, file {human_bytes(facts['file_size'])}"


def _where(row: dict) -> str:
    """A row's Location cell: `file:line:column`, V8's `script_id:line:col` when the script
    has no name, empty without a location."""
    if row.get("file"):
        return f"{row['file']}:{row['line']}:{row['column']}"
    return row["location"] or ""


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns aligned with two spaces between them; the first column left-aligned, the
    last (location) left-aligned, the numbers right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    last = len(headers) - 1

    def line(cells: list[str]) -> str:
        parts = [cell.ljust(width) if i in (0, last) else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def summary_table(summary: dict) -> str:
    """The summary document as a terminal table, with a header line about the file."""
    header = (f"{summary['file']}: {summary['nodes']:,} nodes, {summary['edges']:,} edges, "
              f"heap {human_bytes(summary['self_size'])}")
    rows = [[_label(c["class"]), _count(c["count"]), human_bytes(c["self_size"]),
             human_bytes(c["retained_size"]), _where(c)]
            for c in summary["classes"]]
    table = render_table(["Class", "Count", "Shallow Size", "Retained Size", "Location"], rows)
    return f"{header}\n\n{table}"


def diff_table(document: dict) -> str:
    """The diff document as a terminal table. Its first line says whether object ids were
    comparable; without them the table shows counts and sizes before and after instead."""
    before, after = document["before"], document["after"]
    lines = [f"before: {before['file']} ({_sizes(before)})",
             f"after:  {after['file']} ({_sizes(after)})"]
    reason = document.get("ids_comparable_reason") or ""
    if document["ids_comparable"]:
        header = f"ids comparable: {reason}" if reason else "ids comparable"
        lines.insert(0, header + "; new and deleted objects matched by id")
        headers = ["Class", "# New", "# Deleted", "# Delta", "Alloc. Size", "Freed Size",
                   "Size Delta", "Location"]
        rows = [[_label(r["class"]), _count(r["new"]), _count(r["deleted"]),
                 _count(r["count_delta"], signed=True), human_bytes(r["alloc_size"]),
                 human_bytes(r["freed_size"]), human_bytes(r["size_delta"], signed=True),
                 _where(r)] for r in document["rows"]]
    else:
        header = f"ids not comparable: {reason}" if reason else "ids not comparable"
        lines.insert(0, header + "; showing count and size changes per class only")
        headers = ["Class", "Count Before", "Count After", "# Delta", "Size Before",
                   "Size After", "Size Delta", "Location"]
        rows = [[_label(r["class"]), _count(r["count_before"]), _count(r["count_after"]),
                 _count(r["count_delta"], signed=True), human_bytes(r["size_before"]),
                 human_bytes(r["size_after"]), human_bytes(r["size_delta"], signed=True),
                 _where(r)] for r in document["rows"]]
    if not rows:
        return "\n".join([*lines, "", "no class changed"])
    return "\n".join([*lines, "", render_table(headers, rows)])
