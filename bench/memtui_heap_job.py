"""One memtui heap job in its own process, for heap_parse.py to time and measure.

Usage: memtui_heap_job.py summary FILE | diff BEFORE AFTER
Prints one JSON line: {"classes", "objects", "inner_s"}.
"""

from __future__ import annotations

import argparse
import json
import time

from memtui.heap.classes import summarize
from memtui.heap.snapshot import load_snapshot


def summary_job(path: str) -> dict:
    classes = summarize(load_snapshot(path))
    return {"classes": len(classes), "objects": sum(c.count for c in classes)}


def diff_job(before: str, after: str) -> dict:
    """What `memtui diff BEFORE AFTER` computes: load both, judge the ids, compare classes.

    Imported here so the summary job does not pay for importing the diff's modules."""
    from memtui.heap.report import compare_files

    diff = compare_files(before, after)
    return {"classes": len(diff.rows), "objects": sum(r.count_after for r in diff.rows),
            "ids_comparable": diff.ids_comparable}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=["summary", "diff"])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    started = time.perf_counter()
    result = summary_job(*args.files) if args.job == "summary" else diff_job(*args.files)
    print(json.dumps({**result, "inner_s": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
