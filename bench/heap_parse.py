"""Issue 4: parse speed and memory of memtui's heap snapshot parser against memlab and VS Code.

Generates (and caches in bench/.work/) two snapshots of about 3 million nodes and 9 million
edges from one Node process, then measures, each in its own subprocess: memtui's parse plus
class summary, memlab's parser plus a per-class count, VS Code's @vscode/v8-heap-parser
decode plus class groups (no retained sizes), and memtui's diff of the two snapshots.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from benchlib import (
    BENCH,
    MB,
    WORK,
    Measured,
    ensure_peers,
    fail,
    machine_line,
    node_env,
    print_table,
    run_measured,
    verdict,
)

DEFAULT_CUSTOMERS = 54_000
MEMLAB_HEAP_MB = 16_000
TARGET_VS_MEMLAB = 5.0
TARGET_VS_VSCODE = 2.0
TARGET_RSS_PER_FILE_BYTE = 1.5
TARGET_DIFF_PER_PARSE = 2.0
JOB_NAMES = ("memtui", "memlab", "vscode", "memtui diff", "memtui summary CLI")


@dataclass(frozen=True)
class Job:
    name: str
    args: list[str]
    env: dict[str, str] | None = None


def snapshot_paths(node: str, customers: int) -> tuple[Path, Path]:
    """Cached snapshot pair for this Node binary and graph size."""
    tag = Path(node).resolve().as_posix().replace("/", "_").strip("_")[-40:]
    stem = WORK / f"big-{customers}-{tag}"
    return Path(f"{stem}-1.heapsnapshot"), Path(f"{stem}-2.heapsnapshot")


def ensure_snapshots(node: str, customers: int, regenerate: bool) -> tuple[Path, Path]:
    first, second = snapshot_paths(node, customers)
    if regenerate or not (first.exists() and second.exists()):
        print(f"writing two snapshots of {customers} customers with {node} ...", file=sys.stderr)
        made = run_measured([node, str(BENCH / "make_big_snapshot.js"),
                             str(first), str(second), str(customers)])
        if made.returncode != 0:
            fail(f"make_big_snapshot.js failed: {made.stderr.strip()[-500:]}")
    return first, second


def snapshot_counts(path: Path) -> tuple[int, int]:
    """node_count and edge_count from the snapshot's header (the first few KB)."""
    with open(path, "rb") as file:
        head = file.read(8192).decode("utf-8", "replace")
    return _header_int(head, "node_count"), _header_int(head, "edge_count")


def _header_int(head: str, key: str) -> int:
    at = head.find(f'"{key}":')
    if at < 0:
        return -1
    digits = head[at + len(key) + 3:].lstrip()
    end = 0
    while end < len(digits) and digits[end].isdigit():
        end += 1
    return int(digits[:end]) if end else -1


def jobs(node: str, first: Path, second: Path) -> list[Job]:
    python = sys.executable
    memtui_job = str(BENCH / "memtui_heap_job.py")
    return [
        Job("memtui", [python, memtui_job, "summary", str(first)]),
        Job("memlab", [node, f"--max-old-space-size={MEMLAB_HEAP_MB}",
                       str(BENCH / "memlab_summary.js"), str(first)], node_env()),
        Job("vscode", [node, f"--max-old-space-size={MEMLAB_HEAP_MB}",
                       str(BENCH / "vscode_summary.js"), str(first)], node_env()),
        Job("memtui diff", [python, memtui_job, "diff", str(first), str(second)]),
        Job("memtui summary CLI", [python, "-m", "memtui", "summary", "--json", str(first)]),
    ]


def report(results: dict[str, Measured], file_size: int) -> bool:
    """Print the table, the ratios and a PASS/FAIL per target; True if every target passed."""
    rows = []
    for name, m in results.items():
        out = m.result()
        inner = f"{out['inner_s']:.2f}" if "inner_s" in out else "-"
        rows.append([name, f"{m.wall_s:.2f}", inner,
                     f"{m.peak_rss / MB:.0f}", f"{m.peak_rss / file_size:.2f}",
                     out.get("classes", "-"), out.get("objects", "-"),
                     "ok" if m.returncode == 0 else f"exit {m.returncode}"])
    print_table(["parser", "wall s", "in-process s", "peak RSS MB", "RSS/file",
                 "classes", "objects", "status"], rows)
    for name, m in results.items():
        if m.returncode != 0:
            print(f"\n{name} failed (exit {m.returncode}): {m.stderr.strip()[-800:]}")

    memtui = results.get("memtui")
    if memtui is None or memtui.returncode != 0:
        print("\nmemtui did not complete a parse: no target can be judged.")
        return False
    checks = []
    for peer, factor in (("memlab", TARGET_VS_MEMLAB), ("vscode", TARGET_VS_VSCODE)):
        other = results.get(peer)
        if other is not None and other.returncode == 0:
            speedup = other.wall_s / memtui.wall_s
            checks.append((f"memtui >= {factor:g}x faster than {peer}", f"{speedup:.2f}x",
                           speedup >= factor))
    rss_ratio = memtui.peak_rss / file_size
    checks.append((f"memtui peak RSS <= {TARGET_RSS_PER_FILE_BYTE:g}x file size",
                   f"{rss_ratio:.2f}x", rss_ratio <= TARGET_RSS_PER_FILE_BYTE))
    diff = results.get("memtui diff")
    if diff is not None and diff.returncode == 0:
        print(f"\nmemtui diff judged the ids comparable: {diff.result().get('ids_comparable')} "
              "(both snapshots come from one process, so they should be)")
        per_parse = diff.wall_s / memtui.wall_s
        checks.append((f"diff <= {TARGET_DIFF_PER_PARSE:g}x one parse", f"{per_parse:.2f}x",
                       per_parse <= TARGET_DIFF_PER_PARSE))
    print()
    print_table(["target", "measured", "verdict"],
                [[what, value, verdict(ok)] for what, value, ok in checks])
    return all(ok for _, _, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default=shutil.which("node") or "node",
                        help="Node binary that writes the snapshots and runs the peers")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                        help=f"graph size (default {DEFAULT_CUSTOMERS}: ~3M nodes, ~9M edges)")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the cached snapshots")
    parser.add_argument("--only", nargs="+", choices=JOB_NAMES, help="measure only these")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each job (interleaved); the run with the median wall "
                             "time is reported")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        fail("--repeat must be at least 1")

    ensure_peers()
    first, second = ensure_snapshots(args.node, args.customers, args.regenerate)
    file_size = first.stat().st_size
    nodes, edges = snapshot_counts(first)
    print(f"machine: {machine_line(args.node)}")
    print(f"snapshot: {first.name}: {file_size / MB:.0f} MB, {nodes:,} nodes, {edges:,} edges; "
          f"second: {second.stat().st_size / MB:.0f} MB\n")

    selected = [job for job in jobs(args.node, first, second)
                if not args.only or job.name in args.only]
    runs: dict[str, list[Measured]] = {job.name: [] for job in selected}
    for attempt in range(1, args.repeat + 1):
        for job in selected:
            print(f"run {attempt}/{args.repeat}: {job.name} ...", file=sys.stderr)
            runs[job.name].append(run_measured(job.args, job.env))
    return 0 if report({name: median_run(m) for name, m in runs.items()}, file_size) else 1


def median_run(runs: list[Measured]) -> Measured:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda m: m.wall_s)[(len(runs) - 1) // 2]


if __name__ == "__main__":
    raise SystemExit(main())
