"""What `memtui summary`, `diff` and `leaks` print: the JSON documents and their tables.

The tables are rendered from the JSON documents, so both outputs always show the same numbers.
"""

from __future__ import annotations

from pathlib import Path

from memtui.errors import UsageError
from memtui.heap.capture_record import read_capture_record
from memtui.heap.chains import chain_lines, object_line
from memtui.heap.columns import DIFF_COLUMNS
from memtui.heap.diff import (
    HeapDiff,
    diff_snapshots,
    ids_comparable,
    shared_object_ids,
)
from memtui.heap.leaks import LeakReport, check_comparable, find_leaks
from memtui.heap.pipeline import HeapAnalysis
from memtui.heap.scripts import source_files
from memtui.heap.snapshot import HeapSnapshot
from memtui.units import format_bytes, format_change

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


def summary_json(path: Path | str, analysis: HeapAnalysis, top: int | None = None, *,
                 statistics: bool = False, strings: int | None = None,
                 largest: int | None = None) -> dict:
    """`memtui summary --json`: classes as DevTools' Summary view, largest retained size
    first; `file`, `line` and `column` (1-based) say where a located class is defined. With
    `statistics`, DevTools' Statistics view; with `strings`, that many duplicated strings;
    with `largest`, that many largest objects by retained size."""
    for flag, value in (("--top", top), ("--strings", strings), ("--largest", largest)):
        _check_count(flag, value)
    snapshot = analysis.snapshot
    files = source_files(path, analysis.script_names)
    classes = [{"class": r.label, "count": r.count, "self_size": r.self_size,
                "retained_size": r.retained_size, "location": r.location,
                **files.fields(r.location)}
               for r in analysis.class_rows()[:top]]
    document: dict = {"file": str(path), "nodes": snapshot.node_count,
                      "edges": snapshot.edge_count,
                      "self_size": int(analysis.shallow_sizes.sum()), "classes": classes}
    if statistics:
        stats = analysis.statistics
        document["statistics"] = {
            "total": stats.total, "v8_heap": stats.v8_heap, "native": stats.native,
            "code": stats.code, "strings": stats.strings, "js_arrays": stats.js_arrays,
            "typed_arrays": stats.typed_arrays, "system": stats.system,
            "other_js_objects": stats.other_js_objects, "other_native": stats.other_native}
    if strings is not None:
        document["duplicate_strings"] = [
            {"value": d.value, "count": d.count, "self_size": d.self_size,
             "retained_size": d.retained_size, "wasted_size": d.wasted_size}
            for d in analysis.duplicate_strings[:strings]]
    if largest is not None:
        document["largest_objects"] = [
            {"object": o.label, "id": o.node_id, "class": o.class_label,
             "location": o.location, **files.fields(o.location), "self_size": o.self_size,
             "retained_size": o.retained_size} for o in analysis.largest_objects(largest)]
    return document


def compare_files(before_path: Path | str, after_path: Path | str,
                  ids_override: bool | None = None) -> HeapDiff:
    """Load two snapshot files, judge whether their ids are comparable, and diff them.

    The files are loaded one after the other: each load already keeps both cores busy
    while it parses, and the rest of the work holds the GIL for long stretches."""
    before = HeapAnalysis.of_file(before_path)
    after = HeapAnalysis.of_file(after_path)
    shared_ids = (shared_object_ids(before.snapshot, after.snapshot)
                  if ids_override is not False else None)
    comparable, reason = ids_comparable(before.snapshot, after.snapshot, before_path,
                                        after_path, ids_override, shared_ids=shared_ids)
    return diff_snapshots(before, after, comparable, reason, shared_ids=shared_ids)


def diff_json(before_path: Path | str, after_path: Path | str, diff: HeapDiff,
              top: int | None = None, sort: str | None = None) -> dict:
    """`memtui diff --json`. Rows sorted by `sort` (numbers largest first, text A-Z, nulls
    last), by default as DevTools' Comparison view (Alloc. Size), or by size delta when ids
    are not comparable; `ids_comparable_reason` says why ids were, or were not, compared.
    `file`, `line` and `column` (1-based) say where a located class is defined."""
    _check_count("--top", top)
    if sort is None:
        sort = DEFAULT_SORT_BY_IDS if diff.ids_comparable else DEFAULT_SORT_WITHOUT_IDS
    if sort not in DIFF_COLUMNS:
        raise UsageError(f"cannot sort by {sort!r}", "use one of: " + ", ".join(DIFF_COLUMNS))
    files = source_files(after_path, diff.after.script_names, diff.before.script_names)
    rows = [{"class": r.label, "count_before": r.count_before, "count_after": r.count_after,
             "new": r.new, "deleted": r.deleted, "count_delta": r.count_delta,
             "size_before": r.size_before, "size_after": r.size_after,
             "alloc_size": r.alloc_size, "freed_size": r.freed_size,
             "size_delta": r.size_delta, "location": r.location, **files.fields(r.location)}
            for r in diff.rows]
    rows.sort(key=lambda row: (row["class"], row["location"] or ""))
    rows.sort(key=lambda row: _sort_key(row[sort], sort))
    return {
        "before": snapshot_facts(before_path, diff.before.snapshot,
                                 int(diff.before_classes.node_self_size.sum())),
        "after": snapshot_facts(after_path, diff.after.snapshot,
                                int(diff.after_classes.node_self_size.sum())),
        "ids_comparable": diff.ids_comparable,
        "ids_comparable_reason": diff.reason,
        "rows": rows[:top],
    }


def _sort_key(value, column: str) -> tuple:
    if value is None:
        return (1, 0)
    return (0, value) if column in TEXT_COLUMNS else (0, -value)


def _check_count(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be at least 1, not {value}", "give a positive number")


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


STATISTICS_ROWS = (("Code", "code"), ("Strings", "strings"), ("JS arrays", "js_arrays"),
                  ("Typed arrays", "typed_arrays"), ("System objects", "system"),
                  ("Other JS objects", "other_js_objects"),
                  ("Other non-JS objects", "other_native"))
MAX_STRING_WIDTH = 50


def summary_table(summary: dict) -> str:
    """The summary document as a terminal table, with a header line about the file, then
    the statistics, duplicated strings and largest objects when the document has them."""
    header = (f"{summary['file']}: {summary['nodes']:,} nodes, {summary['edges']:,} edges, "
              f"heap {human_bytes(summary['self_size'])}")
    rows = [[_label(c["class"]), _count(c["count"]), human_bytes(c["self_size"]),
             human_bytes(c["retained_size"]), _where(c)]
            for c in summary["classes"]]
    parts = [header, render_table(["Class", "Count", "Shallow Size", "Retained Size",
                                   "Location"], rows)]
    stats = summary.get("statistics")
    if stats is not None:
        total = stats["total"] or 1
        lines = [[name, human_bytes(stats[key]), f"{100 * stats[key] / total:.1f}%", ""]
                 for name, key in STATISTICS_ROWS]
        lines.append(["Total", human_bytes(stats["total"]), "100.0%", ""])
        parts.append(render_table(["Statistics", "Size", "Share", ""], lines))
    duplicates = summary.get("duplicate_strings")
    if duplicates is not None:
        lines = [[_text(d["value"]), _count(d["count"]), human_bytes(d["wasted_size"]),
                  human_bytes(d["retained_size"]), ""] for d in duplicates]
        parts.append(render_table(["Duplicated string", "Count", "Wasted", "Retained Size",
                                   ""], lines) if lines else "no duplicated strings")
    largest = summary.get("largest_objects")
    if largest is not None:
        lines = [[_label(o["object"]), human_bytes(o["self_size"]),
                  human_bytes(o["retained_size"]), _where(o)] for o in largest]
        parts.append(render_table(["Largest object", "Shallow Size", "Retained Size",
                                   "Location"], lines))
    return "\n\n".join(parts)


def _text(value: str) -> str:
    """A string's value on one line, quoted, cut to MAX_STRING_WIDTH."""
    shown = value if len(value) <= MAX_STRING_WIDTH else value[:MAX_STRING_WIDTH - 1] + "…"
    return '"' + shown.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


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


def find_leaks_in_files(paths: tuple[Path, Path, Path]) -> LeakReport:
    """Load BASELINE, TARGET and FINAL, refuse them unless their object ids are comparable,
    and find the surviving new objects."""
    analyses = (HeapAnalysis.of_file(paths[0]), HeapAnalysis.of_file(paths[1]),
                HeapAnalysis.of_file(paths[2]))
    check_comparable(paths, analyses)
    return find_leaks(*analyses)


def leaks_json(paths: tuple[Path, Path, Path], report: LeakReport,
               top: int | None = None) -> dict:
    """`memtui leaks --json`: the three files, how many new objects survived and how many
    were left out (by reason), and the leaking classes, most retained first, each with its
    representative object and the chain of references keeping it alive, nearest first."""
    _check_count("--top", top)
    final = report.final
    files = source_files(paths[2], final.script_names)
    classes = []
    for row in report.classes[:top]:
        chain = final.retainers.chain(row.representative)
        classes.append({
            "class": row.label, "count": row.count, "self_size": row.self_size,
            "retained_size": row.retained_size, "location": row.location,
            **files.fields(row.location),
            "object": object_line(final, row.representative),
            "retainers": ([] if chain is None
                          else [line.describe() for line in chain_lines(final, chain)])})
    names = ("baseline", "target", "final")
    return {
        **{name: {"file": str(path), "file_size": Path(path).stat().st_size}
           for name, path in zip(names, paths, strict=True)},
        "survivors": report.survivors,
        "excluded": {reason.value: count for reason, count in report.excluded.items()},
        "min_retained": report.min_retained,
        "below_min_retained": report.below_floor,
        "classes": classes,
    }


EXCLUSION_WORDS = {"unreachable": "unreachable or held only weakly",
                   "v8_internal": "V8 internals",
                   "runtime_internal": "held only by V8 internals"}


def leaks_table(document: dict) -> str:
    """The leaks document as text: the files, what survived, the leaking classes, then the
    retainers of each class's representative object."""
    lines = [f"{name + ':':9} {document[name]['file']}"
             for name in ("baseline", "target", "final")]
    left_out = ", ".join(f"{count:,} {EXCLUSION_WORDS[reason]}"
                         for reason, count in document["excluded"].items() if count)
    lines += ["", f"{document['survivors']:,} objects allocated between baseline and target "
                  f"are alive at final" + (f"; left out: {left_out}" if left_out else "")]
    floor = human_bytes(document["min_retained"])
    if not document["classes"]:
        return "\n".join([*lines, "", f"no leak found: the survivors of no class retain "
                                      f"{floor} or more"])
    rows = [[_label(c["class"]), _count(c["count"]), human_bytes(c["self_size"]),
             human_bytes(c["retained_size"]), _where(c)] for c in document["classes"]]
    parts = ["\n".join(lines), render_table(["Leaking class", "# Survived", "Self Size",
                                             "Retained", "Location"], rows)]
    for leak in document["classes"]:
        parts.append("\n".join([f"{leak['object']} is kept alive by:",
                                *(f"  {line}" for line in leak["retainers"])]))
    return "\n\n".join(parts)
