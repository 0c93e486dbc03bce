"""Command line: argument parsing, headless commands, exit codes and one-line errors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any

from memtui import __version__
from memtui.attach import list_node_processes, resolve_target
from memtui.errors import MemtuiError, UsageError
from memtui.events import (
    ConnectionLost,
    Reconnected,
    Responsive,
    SampleTaken,
    TargetExited,
    Unresponsive,
)
from memtui.monitor import Monitor
from memtui.sampler import GC_KINDS, Sample
from memtui.units import format_bytes

CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

USAGE = """memtui TARGET [options]          live monitor (TARGET: PID, HOST:PORT or ws:// URL)
       memtui demo                      start the bundled leaky demo app and monitor it
       memtui ps                        Node processes on this host and their inspectors
       memtui record TARGET [--interval S] [--duration S] [--format jsonl|csv] [-o FILE]
       memtui gc TARGET                 force a full GC, print heap used before -> after
       memtui snapshot TARGET [-o FILE] [--force]
       memtui summary FILE [--json] [--top N] [--statistics] [--strings N] [--largest N]
       memtui diff BEFORE AFTER [--json] [--top N] [--sort COLUMN]"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise UsageError(message, f"see '{self.prog} --help'")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="memtui", usage=USAGE,
                     description="Watch a live Node.js process's memory and GC from a terminal.")
    parser.add_argument("--version", action="version", version=f"memtui {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, prog="memtui")

    def attach_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("target", metavar="TARGET", help="PID, HOST:PORT or ws:// URL")
        sub.add_argument("--keep-inspector", action="store_true",
                         help="leave an inspector memtui opened open on exit")

    monitor = commands.add_parser("monitor", help="live monitor (the default command)")
    attach_options(monitor)
    monitor.add_argument("--interval", type=_positive, default=1.0, help="seconds per sample")
    monitor.add_argument("--snapshot-dir", type=Path, default=None,
                         help="where snapshots go (default: the current directory)")

    demo = commands.add_parser("demo", help="start the bundled leaky demo app and monitor it")
    demo.add_argument("--interval", type=_positive, default=1.0, help="seconds per sample")
    demo.add_argument("--snapshot-dir", type=Path, default=None)
    demo.add_argument("--node", default="node", help="the node binary to run the demo with")

    commands.add_parser("ps", help="Node processes on this host with their inspector state")

    record = commands.add_parser("record", help="write samples as JSON lines or CSV")
    attach_options(record)
    record.add_argument("--interval", type=_positive, default=1.0, help="seconds per sample")
    record.add_argument("--duration", type=_positive, default=None,
                        help="stop after this many seconds (default: until Ctrl-C)")
    record.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    record.add_argument("-o", "--output", type=Path, default=None,
                        help="file to write (default: standard output)")

    gc = commands.add_parser("gc", help="force a full GC and print heap used before -> after")
    attach_options(gc)

    snapshot = commands.add_parser("snapshot", help="capture a heap snapshot to a file")
    attach_options(snapshot)
    snapshot.add_argument("-o", "--output", type=Path, default=None,
                          help="file or directory (default: memtui-PID-TIME.heapsnapshot here)")
    snapshot.add_argument("--force", action="store_true",
                          help="capture even when the target may run out of memory")

    summary = commands.add_parser("summary", help="classes of a heap snapshot")
    summary.add_argument("file", type=Path)
    summary.add_argument("--json", action="store_true")
    summary.add_argument("--top", type=int, default=20)
    summary.add_argument("--statistics", action="store_true",
                         help="DevTools' Statistics: code, strings, arrays, typed arrays, system")
    summary.add_argument("--strings", type=int, metavar="N", nargs="?", const=20,
                         help="the N duplicated strings wasting most (default 20)")
    summary.add_argument("--largest", type=int, metavar="N", nargs="?", const=20,
                         help="the N objects with the largest retained sizes (default 20)")

    diff = commands.add_parser("diff", help="classes that changed between two snapshots")
    diff.add_argument("before", type=Path)
    diff.add_argument("after", type=Path)
    diff.add_argument("--json", action="store_true")
    diff.add_argument("--top", type=int, default=20)
    diff.add_argument("--sort", default="size_delta")
    ids = diff.add_mutually_exclusive_group()
    ids.add_argument("--ids-comparable", dest="ids_comparable", action="store_true",
                     default=None, help="treat object ids as comparable (one session)")
    ids.add_argument("--ids-not-comparable", dest="ids_comparable", action="store_false",
                     help="compare counts and sizes only")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if argv and argv[0] not in HANDLERS and not argv[0].startswith("-"):
        argv.insert(0, "monitor")
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("no TARGET given", "try 'memtui demo', 'memtui ps' or 'memtui PID'")
        return HANDLERS[args.command](args)
    except MemtuiError as exc:
        if debug:
            raise
        print(f"memtui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of the output went away (`| head`): end quietly, as Unix tools do,
        # without the interpreter failing to flush stdout again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run_async(main_coroutine: Coroutine[Any, Any, int]) -> int:
    """Run until done; Ctrl-C, SIGTERM and SIGHUP (the terminal went away) cancel it so its
    `finally` blocks detach cleanly."""

    async def runner() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for signum in CANCEL_SIGNALS:
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await main_coroutine
        except asyncio.CancelledError:
            return 0
        finally:
            for signum in CANCEL_SIGNALS:
                loop.remove_signal_handler(signum)

    try:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        return 0


async def attached(args: argparse.Namespace, action: Callable[[Monitor], Any], **options) -> Any:
    """Start a Monitor on args.target, run `action`, and always detach."""
    monitor = Monitor(args.target, keep_inspector=args.keep_inspector, **options)
    try:
        await monitor.start()
        return await action(monitor)
    finally:
        await asyncio.shield(monitor.close())


def cmd_record(args: argparse.Namespace) -> int:
    out, close = _open_output(args.output)
    try:
        return run_async(attached(args, lambda m: _record(m, args, out),
                                  interval=args.interval))
    finally:
        close()


async def _record(monitor: Monitor, args: argparse.Namespace, out: IO[str]) -> int:
    writer = SampleWriter(out, args.format)
    events = monitor.events()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(args.duration):
            async for event in events:
                if isinstance(event, SampleTaken):
                    writer.write(event.sample)
                elif isinstance(event, Unresponsive):
                    _note(f"pid {monitor.info.pid} is not answering (event loop blocked?)")
                elif isinstance(event, TargetExited):
                    raise MemtuiError(f"pid {monitor.info.pid} exited; "
                                      f"{writer.count} samples written")
                elif isinstance(event, ConnectionLost):
                    _note(f"connection to pid {monitor.info.pid} lost ({event.reason}); "
                          "reconnecting")
                elif isinstance(event, Reconnected):
                    _note(f"reconnected to pid {monitor.info.pid}")
                elif isinstance(event, Responsive):
                    _note(f"pid {monitor.info.pid} answers again")
    await events.aclose()
    return 0


class SampleWriter:
    """Writes samples as JSON lines or CSV, flushing each so a reader sees them at once."""

    def __init__(self, out: IO[str], fmt: str):
        self.out = out
        self.count = 0
        self._csv = csv.writer(out) if fmt == "csv" else None

    def write(self, sample: Sample) -> None:
        record = sample.record()
        try:
            if self._csv is None:
                self.out.write(json.dumps(record) + "\n")
            else:
                record = _flatten_gc(record)
                if self.count == 0:
                    self._csv.writerow(record.keys())
                self._csv.writerow("" if v is None else v for v in record.values())
            self.out.flush()
        except BrokenPipeError:
            raise  # the reader went away (`| head`): main() ends quietly
        except OSError as exc:
            raise MemtuiError(f"cannot write samples: {exc.strerror}",
                              "free disk space or choose another -o") from exc
        self.count += 1


def _flatten_gc(record: dict) -> dict:
    """The CSV columns: `gc` becomes gc_minor, gc_major, ... in its place."""
    flat = {}
    for key, value in record.items():
        if key == "gc":
            flat.update({f"gc_{kind}": value[kind] for kind in GC_KINDS})
        else:
            flat[key] = value
    return flat


def _open_output(path: Path | None) -> tuple[IO[str], Callable[[], None]]:
    if path is None:
        return sys.stdout, lambda: None
    try:
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc

    def close() -> None:
        with contextlib.suppress(OSError):  # a full disk was already reported by the writer
            handle.close()

    return handle, close


def _note(text: str) -> None:
    print(f"memtui: {text}", file=sys.stderr)


def cmd_gc(args: argparse.Namespace) -> int:
    async def force(monitor: Monitor) -> int:
        result = await monitor.collect_garbage()
        print(f"heap used {format_bytes(result.heap_used_before)} -> "
              f"{format_bytes(result.heap_used_after)} "
              f"(freed {format_bytes(result.freed)} in {result.duration_s:.2f}s)")
        return 0

    return run_async(attached(args, force))


def cmd_snapshot(args: argparse.Namespace) -> int:
    _check_writable_directory(args.output)

    async def capture(monitor: Monitor) -> int:
        risk = await monitor.snapshot_risk()
        if risk.risky and not args.force:
            raise MemtuiError(f"refusing to snapshot pid {monitor.info.pid}: {risk.reason}",
                              "use --force to capture anyway")
        path = args.output
        if path is not None and path.is_dir():
            monitor.snapshot_dir, path = path, None
        progress = _progress_printer() if sys.stderr.isatty() else None
        saved = await monitor.take_snapshot(progress, path)
        if progress is not None:
            print(file=sys.stderr)
        print(f"{saved.path} ({format_bytes(saved.size)}, {saved.duration_s:.1f}s)")
        return 0

    return run_async(attached(args, capture))


def _check_writable_directory(output: Path | None) -> None:
    """Refuse, before touching the target, an -o whose directory cannot take the file."""
    directory = Path.cwd() if output is None else output if output.is_dir() else output.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        reason = "does not exist" if not directory.exists() else "is not writable"
        raise UsageError(f"cannot write a snapshot in {directory}: it {reason}",
                         "choose another directory with -o")


def _progress_printer() -> Callable:
    def show(progress) -> None:
        share = f"{100 * progress.done / progress.total:3.0f}%" if progress.total else "   "
        print(f"\rsnapshot {share} {format_bytes(progress.bytes_written)} written ",
              end="", file=sys.stderr, flush=True)

    return show


def cmd_ps(args: argparse.Namespace) -> int:
    rows = [("PID", "USER", "RSS", "INSPECTOR", "COMMAND")]
    rows += [(str(p.pid), p.user, format_bytes(p.rss), p.inspector or "closed", p.command)
             for p in list_node_processes()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
              + "  " + row[4])
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from memtui.ui import run_monitor

    target = resolve_target(args.target)
    monitor = Monitor(target, interval=args.interval, keep_inspector=args.keep_inspector,
                      snapshot_dir=args.snapshot_dir)
    return run_monitor(monitor, on_exit_message=_print_if_possible)


def cmd_demo(args: argparse.Namespace) -> int:
    from memtui.demo import start_demo, stop_demo
    from memtui.ui import run_monitor

    process = start_demo(args.node)
    try:
        monitor = Monitor(resolve_target(str(process.pid)), interval=args.interval,
                          snapshot_dir=args.snapshot_dir, exit_code=process.poll)
        return run_monitor(monitor, on_exit_message=_print_if_possible)
    finally:
        stop_demo(process)


def _print_if_possible(line: str) -> None:
    """Print the live view's closing line; after SIGHUP the terminal may be gone."""
    with contextlib.suppress(OSError):
        print(line, flush=True)


def _note_compile_cache() -> None:
    from memtui.heap import kernels

    if kernels.CACHE_PROBLEM is not None:
        _note(f"compiled heap code is not cached ({kernels.CACHE_PROBLEM}): every run "
              "compiles it again, which takes seconds")


def cmd_summary(args: argparse.Namespace) -> int:
    from memtui.heap import report
    from memtui.heap.pipeline import HeapAnalysis

    _note_compile_cache()
    document = report.summary_json(args.file, HeapAnalysis.of_file(args.file), args.top,
                                   statistics=args.statistics, strings=args.strings,
                                   largest=args.largest)
    print(json.dumps(document, indent=2) if args.json else report.summary_table(document))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from memtui.heap import report

    _note_compile_cache()
    diff = report.compare_files(args.before, args.after, args.ids_comparable)
    document = report.diff_json(args.before, args.after, diff, args.top, args.sort)
    print(json.dumps(document, indent=2) if args.json else report.diff_table(document))
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "monitor": cmd_monitor, "demo": cmd_demo, "ps": cmd_ps, "record": cmd_record,
    "gc": cmd_gc, "snapshot": cmd_snapshot, "summary": cmd_summary, "diff": cmd_diff,
}
