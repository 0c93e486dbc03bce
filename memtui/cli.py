"""Command line: argument parsing, headless commands, exit codes and one-line errors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import math
import os
import signal
import sys
import textwrap
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import IO, Any, NoReturn

from memtui import __version__, diagnostics
from memtui.attach import NodeProcessInfo, list_node_processes, pid_of
from memtui.auto_capture import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_MAX_COUNT,
    AutoCapture,
    AutoCaptureResult,
    Trigger,
)
from memtui.capture import default_snapshot_path
from memtui.capture_conditions import Condition, ConditionError, parse_condition
from memtui.errors import MemtuiError, UsageError
from memtui.events import (
    ConnectionLost,
    InspectorState,
    Reconnected,
    Responsive,
    Restarted,
    SampleTaken,
    SnapshotProgress,
    StillReconnecting,
    TargetExited,
    TargetInfo,
    Unresponsive,
    WorkerLeft,
    WorkersSampled,
)
from memtui.heap.columns import DIFF_COLUMNS
from memtui.monitor import Monitor
from memtui.private_file import open_private
from memtui.sampler import GC_KINDS, Sample
from memtui.selection import Selection
from memtui.units import format_bytes, format_duration
from memtui.verdict import LeakRule, Verdicts

CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
OVERVIEW_OPTIONS = ("--children", "--all")
"""Options that, first on the command line, select the live view (`memtui --all`)."""
MAX_PROCESSES = 32
"""The most processes an overview attaches to unless told otherwise: each is signalled, has
its inspector opened and runs memtui's probe, so `--all` on a busy host must be meant."""
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 3600.0
HELP_WIDTH = 78

USAGE = """memtui TARGET [options]          live monitor (TARGET: PID, HOST:PORT or ws:// URL)
       memtui TARGET TARGET ...         an overview of several processes, one row each
       memtui --children PID | --all    an overview of PID's Node family, or of every one
       memtui demo                      start the bundled leaky demo app and monitor it
       memtui ps                        Node processes on this host and in its containers
       memtui record TARGET [--interval S] [--duration S] [--format jsonl|csv] [-o FILE]
       memtui gc TARGET                 force a full GC, print heap used before -> after
       memtui snapshot TARGET [-o FILE] [--force] [--worker ID]
       memtui summary FILE [--json] [--top N] [--statistics] [--strings N] [--largest N]
       memtui diff BEFORE AFTER [--json] [--top N] [--sort COLUMN]
       memtui leaks BASELINE TARGET FINAL [--json] [--top N]
       memtui leaks --capture TARGET [--wait S] [-o DIR] [--json] [--top N]"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"see '{self.prog} --help'")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number of seconds: {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _leak_rises(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be 2 or more: {text!r}")
    return value


def _pid(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"not a PID: {text!r}")
    return int(text)


def _interval(text: str) -> float:
    value = _seconds(text)
    if not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds: {text!r}")
    return value


def _condition(text: str) -> Condition:
    try:
        return parse_condition(text)
    except ConditionError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _cooldown(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text!r}")
    return value


def _count(text: str) -> int:
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more: {text!r}")
    return int(text)


def _command(commands: Any, name: str, summary: str, example: str,
             description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help starts with what it does and ends with an example."""
    return commands.add_parser(name, help=summary,
                               description=textwrap.fill(description or summary, HELP_WIDTH),
                               epilog=f"example:\n  {example}",
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="memtui", usage=USAGE,
                     description="Watch a live Node.js process's memory and GC from a terminal.",
                     epilog="example:\n  memtui 1234        watch pid 1234 live (? lists the keys)"
                            "\n\n'memtui COMMAND --help' describes each command's options.",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"memtui {__version__}",
                        help="print memtui's version and exit")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback with an error (default: a one-line error), "
                             "and write a debug log in ~/.local/state/memtui (its path is "
                             "printed on exit)")
    parser.add_argument("--log", type=Path, default=None, metavar="FILE",
                        help="write a debug log to FILE: attach decisions, every inspector "
                             "request and reply (their sizes), detach steps (default: none)")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, prog="memtui",
                                     metavar="COMMAND")

    def attach_options(sub: argparse.ArgumentParser, several: bool = False) -> None:
        sub.add_argument("target", metavar="TARGET", nargs="*" if several else None,
                         help="the Node process: a PID (memtui opens its inspector with "
                              "SIGUSR1 when closed and safe), HOST:PORT of an open inspector, "
                              "or a ws:// debugger URL"
                              + ("; several open an overview of them" if several else ""))
        sub.add_argument("--keep-inspector", action="store_true",
                         help="leave an inspector memtui opened listening when memtui exits "
                              "(default: close it again; refused for a non-loopback address)")
        sub.add_argument("--allow-non-loopback-inspector", action="store_true",
                         help="let SIGUSR1 open the inspector on the non-loopback address the "
                              "target's options configure, reachable from other hosts: anyone "
                              "who reaches it can run code in the process (default: refuse); "
                              "memtui still closes it on exit")

    def interval_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--interval", type=_interval, default=1.0, metavar="S",
                         help=f"seconds between samples, {MIN_INTERVAL_S:g} to "
                              f"{MAX_INTERVAL_S:g} (default: %(default)g)")

    def follow_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--follow", action="store_true",
                         help="when the target exits, wait for its successor (same systemd "
                              "unit or container, else same command and directory, started "
                              "after the exit) and attach to it (default: stop)")

    def worker_option(sub: argparse.ArgumentParser, what: str) -> None:
        sub.add_argument("--worker", metavar="ID", default=None,
                         help=f"{what} of the worker thread of that threadId (the N of "
                              "'[worker N]' in the live view's workers panel) instead of the "
                              "main thread (default: the main thread)")

    def leak_rises_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--leak-rises", type=_leak_rises, default=LeakRule.rises_in_a_row,
                         metavar="N",
                         help="memwatch's rule in the leak verdict: the heap after each of "
                              "the last N major GCs rose above the one before (default: "
                              "%(default)s)")

    def snapshot_dir_option(sub: argparse.ArgumentParser, taken_with: str) -> None:
        sub.add_argument("--snapshot-dir", type=Path, default=None, metavar="DIR",
                         help=f"directory for the snapshots taken {taken_with} (default: the "
                              "current directory)")

    def auto_capture_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--snapshot-on", type=_condition, action="append", default=[],
                         metavar="CONDITION",
                         help="capture a heap snapshot when CONDITION holds for a sample: "
                              "METRIC>SIZE, METRIC>=SIZE or METRIC>N%%limit, METRIC one of "
                              "heap_used, heap_total, rss, external, array_buffers, "
                              "heap_after_gc, SIZE such as 1.5GiB or 800MB, limit the V8 "
                              "heap limit (heap_*) or the container memory limit (rss); or "
                              "leak: the leak verdict (over the last 5 minutes, with "
                              "--leak-rises) is a leak, on the heap or off it; repeatable, any "
                              "one that holds counts; refused without asking when the target "
                              "may run out of memory (default: none)")
        sub.add_argument("--snapshot-cooldown", type=_cooldown, default=DEFAULT_COOLDOWN_S,
                         metavar="S",
                         help="seconds from the end of one automatic capture to the next "
                              "check (default: %(default)g)")
        sub.add_argument("--snapshot-max", type=_count, default=DEFAULT_MAX_COUNT,
                         metavar="K",
                         help="at most K automatic snapshots a run (default: %(default)s)")

    monitor = _command(commands, "monitor", "live monitor (the default command)",
                       "memtui 1234 --interval 0.5 --snapshot-dir /tmp\n  memtui --children "
                       "4711        a cluster primary and its workers, one row each")
    attach_options(monitor, several=True)
    family = monitor.add_mutually_exclusive_group()
    family.add_argument("--children", type=_pid, default=None, metavar="PID",
                        help="an overview of PID (if it is a Node process) and its descendants "
                             "that are: a cluster primary and its workers, a pm2 daemon and "
                             "its apps; workers forked later join it (default: off)")
    family.add_argument("--all", action="store_true",
                        help="an overview of every Node process memtui may attach to (root: "
                             "all, containers included; else this user's); processes that "
                             "start later join it (default: off)")
    monitor.add_argument("--max-processes", type=_count, default=MAX_PROCESSES,
                         metavar="N",
                         help="attach to at most N processes at once; more found at the start "
                              "is an error, more starting later are listed, not attached "
                              "(default: %(default)s)")
    interval_option(monitor)
    follow_option(monitor)
    leak_rises_option(monitor)
    snapshot_dir_option(monitor, "with s or --snapshot-on")
    auto_capture_options(monitor)

    demo = _command(commands, "demo", "start the bundled leaky demo app and monitor it",
                    "memtui demo --node /opt/node-24/bin/node")
    interval_option(demo)
    leak_rises_option(demo)
    snapshot_dir_option(demo, "with s or --snapshot-on")
    auto_capture_options(demo)
    demo.add_argument("--node", default="node", metavar="PATH",
                      help="the Node binary that runs the demo app (default: %(default)s, "
                           "found on PATH)")

    _command(commands, "ps", "Node processes on this host with their inspector state",
             "memtui ps")

    record = _command(commands, "record", "write samples as JSON lines or CSV",
                      "memtui record 1234 --interval 1 --duration 60 -o deploy.jsonl")
    attach_options(record)
    interval_option(record)
    follow_option(record)
    leak_rises_option(record)
    record.add_argument("--duration", type=_seconds, default=None, metavar="S",
                        help="stop after this many seconds (default: run until Ctrl-C or "
                             "until the target exits)")
    record.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                        help="jsonl: a JSON object per sample, one a line; csv: a header, "
                             "then a row per sample, gc flattened to gc_minor, gc_major, ... "
                             "(choices: %(choices)s; default: %(default)s)")
    record.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="file to write the samples to (default: standard output)")
    worker_option(record, "record the heap and GC figures (each sample with a 'worker' key)")
    snapshot_dir_option(record, "with --snapshot-on")
    auto_capture_options(record)

    gc = _command(commands, "gc", "force a full GC and print heap used before -> after",
                  "memtui gc 1234")
    attach_options(gc)
    worker_option(gc, "collect the heap")

    snapshot = _command(commands, "snapshot", "capture a heap snapshot to a file",
                        "memtui snapshot 1234 -o /tmp/before.heapsnapshot")
    attach_options(snapshot)
    snapshot.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                          help="the file to write, or a directory to write "
                               "memtui-PID-TIME.heapsnapshot in (default: that name in the "
                               "current directory)")
    snapshot.add_argument("--force", action="store_true",
                          help="capture even when the target may run out of memory (default: "
                               "refuse when memtui estimates it may)")
    worker_option(snapshot, "capture the heap")

    summary = _command(commands, "summary", "classes of a heap snapshot",
                       "memtui summary after.heapsnapshot --top 30",
                       "Classes of a heap snapshot as Chrome DevTools' Summary view counts "
                       "them, largest retained size first.")
    summary.add_argument("file", type=Path, metavar="FILE",
                         help="a .heapsnapshot file (written by memtui, Node or DevTools)")
    summary.add_argument("--json", action="store_true",
                         help="print a JSON document (file, nodes, edges, self_size, classes "
                              "with class, count, self_size, retained_size, location, file, "
                              "line, column; statistics, duplicate_strings, largest_objects "
                              "when asked for) (default: a table)")
    summary.add_argument("--top", type=int, default=20, metavar="N",
                         help="list the N classes of largest retained size (default: "
                              "%(default)s)")
    summary.add_argument("--statistics", action="store_true",
                         help="add DevTools' Statistics view: the heap's bytes in code, "
                              "strings, JS arrays, typed arrays, system objects and the rest "
                              "(default: classes only)")
    summary.add_argument("--strings", type=int, metavar="N", nargs="?", const=20,
                         help="add the N duplicated strings wasting the most bytes (N "
                              "omitted: %(const)s; default: none)")
    summary.add_argument("--largest", type=int, metavar="N", nargs="?", const=20,
                         help="add the N objects of largest retained size (N omitted: "
                              "%(const)s; default: none)")

    diff = _command(commands, "diff", "classes that changed between two snapshots",
                    "memtui diff before.heapsnapshot after.heapsnapshot --sort new --top 10",
                    "Classes that changed between two heap snapshots, as Chrome DevTools' "
                    "Comparison view counts them (objects matched by id when the snapshots "
                    "come from one inspector session).")
    diff.add_argument("before", type=Path, metavar="BEFORE",
                      help="the earlier .heapsnapshot file, the base of the comparison")
    diff.add_argument("after", type=Path, metavar="AFTER",
                      help="the later .heapsnapshot file, compared with BEFORE")
    diff.add_argument("--json", action="store_true",
                      help="print a JSON document (before, after, ids_comparable, rows with "
                           "the columns below, location, file, line, column) (default: a "
                           "table)")
    diff.add_argument("--top", type=int, default=20, metavar="N",
                      help="list the first N classes in the sort order (default: "
                           "%(default)s)")
    diff.add_argument("--sort", choices=DIFF_COLUMNS, default="size_delta", metavar="COLUMN",
                      help="the column to sort by, numbers largest first, names A-Z "
                           "(choices: %(choices)s; default: %(default)s)")
    ids = diff.add_mutually_exclusive_group()
    ids.add_argument("--ids-comparable", dest="ids_comparable", action="store_true",
                     default=None,
                     help="match objects by id, as for snapshots of one inspector session "
                          "(default: memtui's capture records decide, else the files' "
                          "contents)")
    ids.add_argument("--ids-not-comparable", dest="ids_comparable", action="store_false",
                     help="compare counts and sizes per class only, as for snapshots whose "
                          "object ids were reset (default: decided as for --ids-comparable)")
    leaks = _command(commands, "leaks", "new objects that survived: the three-snapshot leak "
                     "finder", "memtui leaks --capture 1234 --wait 60 -o /tmp",
                     "Objects allocated between BASELINE and TARGET that are still alive in "
                     "FINAL (memlab's definition of a leak), by class, most retained first, "
                     "each with the references keeping one alive. The three snapshots must "
                     "come from one inspector session: take them with --capture, or with l "
                     "in the live view.")
    leaks.add_argument("files", type=Path, nargs="*", metavar="BASELINE TARGET FINAL",
                       help="three .heapsnapshot files of one inspector session, in the order "
                            "they were taken")
    leaks.add_argument("--capture", metavar="TARGET", default=None,
                       help="take the three snapshots of TARGET (PID, HOST:PORT or ws:// "
                            "URL) in one session: the baseline, then (after Enter or --wait) "
                            "the target, then (after Enter or --wait again) the final one "
                            "(default: read the three FILES)")
    leaks.add_argument("--wait", type=_seconds, default=None, metavar="S",
                       help="with --capture, seconds to wait before the target and before "
                            "the final snapshot (default: wait for Enter)")
    leaks.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                       help="with --capture, the directory to write the three snapshots in "
                            "(default: the current directory)")
    leaks.add_argument("--force", action="store_true",
                       help="with --capture, capture even when the target may run out of "
                            "memory (default: refuse when memtui estimates it may)")
    leaks.add_argument("--json", action="store_true",
                       help="print a JSON document (baseline, target, final, survivors, "
                            "excluded, min_retained, classes with class, count, self_size, "
                            "retained_size, location, object, retainers) (default: a table)")
    leaks.add_argument("--top", type=int, default=10, metavar="N",
                       help="list the N leaking classes retaining most (default: "
                            "%(default)s)")
    return parser


def _default_to_monitor(argv: list[str]) -> None:
    """Insert the default command, `monitor`, where memtui's own options (--debug, --log
    FILE) end, unless a command is given there."""
    first = 0
    while first < len(argv) and (argv[first] in ("--debug", "--log")
                                 or argv[first].startswith("--log=")):
        first += 2 if argv[first] == "--log" else 1
    if first < len(argv) and argv[first] not in HANDLERS and (
            not argv[first].startswith("-")
            or argv[first].partition("=")[0] in OVERVIEW_OPTIONS):
        argv.insert(first, "monitor")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    _default_to_monitor(argv)
    try:
        args = build_parser().parse_args(argv)
        _start_log(args)
        if args.command is None:
            raise UsageError("no TARGET given", "try 'memtui demo', 'memtui ps' or 'memtui PID'")
        return HANDLERS[args.command](args)
    except MemtuiError as exc:
        diagnostics.log.debug("failed: %s", exc, exc_info=True)
        if debug:
            traceback.print_exc()
        print(f"memtui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # The reader of the output went away (`| head`): end quietly, as Unix tools do,
        # without the interpreter failing to flush stdout again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if debug:
            traceback.print_exc()
        where = diagnostics.record_crash(exc)
        hint = f"the traceback is in {where}" if where else "run with --debug for the traceback"
        print(f"memtui: error: internal error: {type(exc).__name__}: {exc} ({hint})",
              file=sys.stderr)
        return 1
    finally:
        _say_where_the_log_is()


def _emit(text: str) -> None:
    """Print a command's result on stdout: one that cannot be written (a full disk) is a
    one-line error, and stdout is then dropped so that exiting does not fail on it again."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except OSError as exc:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise MemtuiError(f"cannot write the output: {exc.strerror}",
                          "free disk space, or write it elsewhere") from exc


def _start_log(args: argparse.Namespace) -> None:
    path = args.log or (diagnostics.default_log_path() if args.debug else None)
    if path is None:
        return
    try:
        diagnostics.start_log(path)
    except OSError as exc:
        raise UsageError(f"cannot write the log {path}: {exc.strerror}",
                         "choose another file with --log") from exc


def _say_where_the_log_is() -> None:
    path = diagnostics.logging_to()
    if path is not None:
        with contextlib.suppress(OSError):
            print(f"memtui: log written to {path}", file=sys.stderr)


def run_async(main_coroutine: Coroutine[Any, Any, int],
              interrupted: Callable[[int], int] = lambda signum: 0) -> int:
    """Run until done. Ctrl-C, SIGTERM and SIGHUP (the terminal went away) cancel it so that
    its `finally` blocks detach cleanly; then `interrupted(signum)` is the exit code."""
    received: list[int] = []

    async def runner() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def cancel(signum: int) -> None:
            diagnostics.log.debug("signal %d: stopping", signum)
            received.append(signum)
            task.cancel()

        for signum in CANCEL_SIGNALS:
            loop.add_signal_handler(signum, cancel, signum)
        try:
            return await main_coroutine
        except asyncio.CancelledError:
            return interrupted(received[0] if received else signal.SIGINT)
        finally:
            for signum in CANCEL_SIGNALS:
                loop.remove_signal_handler(signum)

    return asyncio.run(runner())


def interruption(what: str) -> Callable[[int], int]:
    """For commands whose work an interruption cuts short: say so; exit 128 + the signal."""

    def code(signum: int) -> int:
        _note(f"{what} interrupted by {signal.Signals(signum).name}")
        return 128 + signum

    return code


async def attached(args: argparse.Namespace, action: Callable[[Monitor], Awaitable[int]],
                   **options: Any) -> int:
    """Start a Monitor on args.target, say where it attached, run `action`, and always
    detach, saying so when the target did not answer in time. With `--worker ID`, the
    worker threads are watched and that one must be there."""
    worker = getattr(args, "worker", None)
    monitor = Monitor(args.target, keep_inspector=args.keep_inspector,
                      allow_non_loopback=args.allow_non_loopback_inspector,
                      workers=worker is not None, **options)
    info = await monitor.start()
    _note(attached_line(info))
    try:
        if worker is not None:
            monitor.worker(worker)
        return await action(monitor)
    finally:
        result = await asyncio.shield(monitor.close(lambda: _note(
            "waiting for the snapshot under way to end before detaching (leaving while the "
            "target sends it can crash Node)")))
        pid = monitor.info.pid if monitor.info else info.pid
        note = result.note(pid) if result is not None else None
        if note is not None and monitor.exit_reason is None:
            _note(note)


def attached_line(info: TargetInfo) -> str:
    """`attached to pid 1234 (node v20.1.0) through its inspector at 127.0.0.1:9229 (...)`"""
    moved = "" if info.moved_from is None else f" and moved off port {info.moved_from}"
    fate = INSPECTOR_FATE[info.inspector].format(moved=moved)
    line = (f"attached to pid {info.pid} (node {info.node_version}) through its inspector at "
            f"{info.address} ({fate})")
    if not info.loopback_only:
        line += "; WARNING: that address is reachable from other hosts"
    return line


INSPECTOR_FATE = {
    InspectorState.OPENED_BY_MEMTUI: "opened by memtui with SIGUSR1{moved}, closed again when "
                                     "memtui leaves",
    InspectorState.KEPT_OPEN: "opened by memtui with SIGUSR1{moved}, left open on exit "
                              "(--keep-inspector)",
    InspectorState.ALREADY_OPEN: "already open, left open",
}


def cmd_record(args: argparse.Namespace) -> int:
    _require_pid_to_follow(args.follow, args.target)
    _check_auto_capture_directory(args)
    out, close = _open_output(args.output)
    try:
        return run_async(attached(args, lambda m: _record(m, args, out),
                                  interval=args.interval, follow=args.follow,
                                  snapshot_dir=args.snapshot_dir,
                                  leak_rule=LeakRule(rises_in_a_row=args.leak_rises)))
    finally:
        close()


def auto_capture_of(monitor: Monitor, args: argparse.Namespace) -> AutoCapture:
    """The automatic captures the command line asks for."""
    return AutoCapture(monitor, args.snapshot_on, args.snapshot_cooldown, args.snapshot_max)


async def _record(monitor: Monitor, args: argparse.Namespace, out: IO[str]) -> int:
    """Record until the duration ends or the target is gone, then say the last verdict
    (unless the reader went away: `| head` ends quietly). An automatic capture runs beside
    the sampling; one under way when the recording ends is waited for (cancelled by an
    interruption)."""
    writer = SampleWriter(out, args.format, args.worker)
    auto = auto_capture_of(monitor, args)
    if monitor.info is not None:
        auto.check_limits(monitor.info)
    captures: list[asyncio.Task[None]] = []

    def after_sample() -> None:
        trigger = auto.due()
        if trigger is not None:
            captures.append(asyncio.create_task(_capture_while_recording(auto, trigger, writer)))

    reader_left = False
    try:
        code = await _record_samples(monitor, args, writer, after_sample)
    except BaseException as error:
        reader_left = isinstance(error, BrokenPipeError)
        if isinstance(error, asyncio.CancelledError):
            for task in captures:
                task.cancel()
        await asyncio.gather(*captures, return_exceptions=True)
        raise
    else:
        await asyncio.gather(*captures)  # a capture's own failure (a full disk) is the result
    finally:
        if writer.last_verdicts is not None and not reader_left:
            _note(f"verdict: {'; '.join(writer.last_verdicts.lines())}")
    return code


async def _capture_while_recording(auto: AutoCapture, trigger: Trigger,
                                   writer: SampleWriter) -> None:
    _note(f"{trigger.condition} holds ({trigger.evidence}): capturing a heap snapshot")
    progress = _progress_printer() if sys.stderr.isatty() else None
    try:
        result = await auto.capture(trigger, progress)
    except asyncio.CancelledError:
        _note(f"automatic snapshot ({trigger.condition}) interrupted; none was written")
        raise
    finally:
        if progress is not None:
            print(file=sys.stderr)
    _note(result.describe())
    writer.write_auto_capture(result)


async def _record_samples(monitor: Monitor, args: argparse.Namespace, writer: SampleWriter,
                          after_sample: Callable[[], None]) -> int:
    """Write the main thread's samples, or with --worker that worker's (each once)."""
    pid = monitor.session.pid
    worker_written: float | None = None
    lost_at: float | None = None
    exited_at: float | None = None
    events = monitor.events()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(args.duration):
            async for event in events:
                if isinstance(event, SampleTaken):
                    if args.worker is None:
                        writer.write(event.sample, monitor.verdicts())
                    after_sample()
                elif isinstance(event, WorkersSampled) and args.worker is not None:
                    view = next((v for v in event.workers if v.info.worker_id == args.worker),
                                None)
                    if view is not None and view.latest is not None \
                            and view.latest.t != worker_written:
                        worker_written = view.latest.t
                        writer.write(view.latest, monitor.verdicts(worker=args.worker))
                elif isinstance(event, WorkerLeft) and event.worker.worker_id == args.worker:
                    raise MemtuiError(f"worker {args.worker} of pid {pid} exited; "
                                      f"{writer.count} samples written")
                elif isinstance(event, Unresponsive):
                    _note(f"pid {pid} is not answering (event loop blocked?)")
                elif isinstance(event, TargetExited):
                    if not (monitor.follow and monitor.can_follow):
                        raise MemtuiError(f"pid {pid} {event.reason.describe()}; "
                                          f"{writer.count} samples written")
                    exited_at = event.at
                    _note(f"pid {pid} {event.reason.describe()}; waiting for its successor")
                elif isinstance(event, Restarted):
                    exited_at, pid = None, event.new_pid
                    _note(event.describe())
                elif isinstance(event, ConnectionLost):
                    lost_at = event.at
                    _note(f"connection to pid {pid} lost ({event.reason}); reconnecting")
                elif isinstance(event, StillReconnecting):
                    _note(f"still reconnecting to pid {pid}, disconnected for "
                          f"{format_duration(time.time() - event.since)} ({event.reason})")
                elif isinstance(event, Reconnected):
                    lost_at = None
                    _note(f"reconnected to pid {pid}")
                elif isinstance(event, Responsive):
                    _note(f"pid {pid} answers again")
    await events.aclose()
    if exited_at is not None:
        raise MemtuiError(f"the recording ended waiting for the successor of pid {pid} (for "
                          f"{format_duration(time.time() - exited_at)}); "
                          f"{writer.count} samples written",
                          "no process of the same service or command started")
    if lost_at is not None:
        raise MemtuiError(f"the recording ended disconnected from pid {pid} (for "
                          f"{format_duration(time.time() - lost_at)}); "
                          f"{writer.count} samples written",
                          "its inspector was closed and not opened again")
    return 0


class SampleWriter:
    """Writes samples as JSON lines or CSV, flushing each so a reader sees them at once;
    a worker thread's carry its id under `worker`, after `pid`."""

    def __init__(self, out: IO[str], fmt: str, worker: str | None = None):
        self.out = out
        self.count = 0
        self.worker = worker
        self.last_verdicts: Verdicts | None = None
        self._csv = fmt == "csv"

    def write(self, sample: Sample, verdicts: Verdicts) -> None:
        """Write `sample` with `verdicts` as its `verdict` object."""
        self.last_verdicts = verdicts
        record = {**sample.record(), "verdict": verdicts.record()}
        if self.worker is not None:
            record = {"t": record.pop("t"), "pid": record.pop("pid"), "worker": self.worker,
                      **record}
        if self._csv:
            row = csv_row(record)
            text = io.StringIO()
            rows = csv.writer(text)
            if self.count == 0:
                rows.writerow(row.keys())
            rows.writerow(row.values())
            self._write(text.getvalue())
        else:
            self._write(json.dumps(record) + "\n")
        self.count += 1

    def write_auto_capture(self, result: AutoCaptureResult) -> None:
        """A JSON line for an automatic capture; nothing in CSV, whose rows are samples."""
        if not self._csv:
            self._write(json.dumps(result.record()) + "\n")

    def _write(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            raise  # the reader went away (`| head`): main() ends quietly
        except OSError as exc:
            raise MemtuiError(f"cannot write samples: {exc.strerror}",
                              "free disk space or choose another -o") from exc


def csv_row(record: dict[str, Any]) -> dict[str, str | int | float]:
    """The CSV columns of a jsonl record: `gc` and `gc_estimated` flattened to gc_minor, ...
    and gc_estimated_minor, ...; `heap_after_gc` to the latest point (`heap_after_gc`,
    `heap_after_gc_t`) and how many points the sample carries (`heap_after_gc_points`);
    `verdict` to verdict_leak, verdict_majors, ...;
    booleans as true/false, None as an empty cell."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in ("gc", "gc_estimated"):
            row.update({f"{key}_{kind}": value[kind] for kind in GC_KINDS})
        elif key == "verdict":
            row.update({f"verdict_{field}": field_value for field, field_value in value.items()})
        elif key == "heap_after_gc":
            latest = value[-1] if value else {"t": None, "heap_used": None}
            row.update({"heap_after_gc": latest["heap_used"], "heap_after_gc_t": latest["t"],
                        "heap_after_gc_points": len(value)})
        else:
            row[key] = value
    return {key: _csv_cell(value) for key, value in row.items()}


def _csv_cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _open_output(path: Path | None) -> tuple[IO[str], Callable[[], None]]:
    if path is None:
        return sys.stdout, lambda: None
    try:
        handle = open_private(path)
    except OSError as exc:
        reason = "it is a symbolic link" if exc.errno == 40 else exc.strerror
        raise UsageError(f"cannot write {path}: {reason}") from exc

    def close() -> None:
        with contextlib.suppress(OSError):  # a full disk was already reported by the writer
            handle.close()

    return handle, close


def _note(text: str) -> None:
    print(f"memtui: {text}", file=sys.stderr)


def cmd_gc(args: argparse.Namespace) -> int:
    async def force(monitor: Monitor) -> int:
        result = await monitor.collect_garbage(args.worker)
        if result.freed >= 0:
            outcome = f"freed {format_bytes(result.freed)}"
        else:
            outcome = (f"the heap grew by {format_bytes(-result.freed)}: the program "
                       "allocated more than the GC freed")
        _emit(f"heap used {format_bytes(result.heap_used_before)} -> "
              f"{format_bytes(result.heap_used_after)} ({outcome} in "
              f"{result.duration_s:.2f}s)")
        return 0

    return run_async(attached(args, force), interruption("the forced GC"))


def cmd_snapshot(args: argparse.Namespace) -> int:
    output = args.output
    _check_writable_directory(Path.cwd() if output is None else output if output.is_dir()
                              else output.parent, "-o")

    async def capture(monitor: Monitor) -> int:
        risk = await monitor.snapshot_risk(args.worker)
        if risk.risky and not args.force:
            raise MemtuiError(f"refusing to snapshot pid {monitor.session.pid}: {risk.reason}",
                              "use --force to capture anyway")
        path = args.output
        if path is not None and path.is_dir():
            monitor.snapshot_dir, path = path, None
        progress = _progress_printer() if sys.stderr.isatty() else None
        try:
            saved = await monitor.take_snapshot(progress, path, args.worker)
        finally:
            if progress is not None:
                print(file=sys.stderr)
        _emit(f"{saved.path} (file {format_bytes(saved.size)}; {saved.cost()})")
        return 0

    return run_async(attached(args, capture),
                     interruption("the snapshot (none was written)"))


def _check_writable_directory(directory: Path, option: str) -> None:
    """Refuse, before touching the target, a directory that cannot take a snapshot."""
    if not os.access(directory, os.W_OK | os.X_OK):
        reason = "does not exist" if not directory.exists() else "is not writable"
        raise UsageError(f"cannot write a snapshot in {directory}: it {reason}",
                         f"choose another directory with {option}")


def _check_auto_capture_directory(args: argparse.Namespace) -> None:
    """Refuse, before attaching, a --snapshot-dir that automatic captures could not use."""
    if args.snapshot_on:
        _check_writable_directory(args.snapshot_dir or Path.cwd(), "--snapshot-dir")


def _progress_printer(role: str = "") -> Callable[[SnapshotProgress], None]:
    what = f"{role} snapshot" if role else "snapshot"

    def show(progress: SnapshotProgress) -> None:
        share = f"{100 * progress.done / progress.total:3.0f}%" if progress.total else "   "
        print(f"\r{what} {share} {format_bytes(progress.bytes_written)} written ",
              end="", file=sys.stderr, flush=True)

    return show


def cmd_ps(args: argparse.Namespace) -> int:
    rows = [("PID", "USER", "RSS", "INSPECTOR", "CONTAINER", "ROLE", "COMMAND")]
    rows += [(str(p.pid), p.user, format_bytes(p.rss), _inspector_cell(p), _container_cell(p),
              _role_cell(p), p.command) for p in list_node_processes()]
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    _emit("\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                     + "  " + row[6] for row in rows))
    return 0


def _inspector_cell(row: NodeProcessInfo) -> str:
    if not row.inspector_known:
        return "? (needs root)"
    return row.inspector or "closed"


def _role_cell(row: NodeProcessInfo) -> str:
    """`primary (N workers)` for a cluster primary, `worker of PID` for one of its workers,
    `child of PID` for another Node process's child (a pm2 app, a fork), else -."""
    if row.cluster_worker and row.parent is not None:
        return f"worker of {row.parent}"
    if row.workers:
        return f"primary ({row.workers} worker{'s' if row.workers > 1 else ''})"
    return "-" if row.parent is None else f"child of {row.parent}"


def _container_cell(row: NodeProcessInfo) -> str:
    """The container's label, else `netns INODE` for another network namespace, else -."""
    if row.container is not None:
        return row.container.label
    return "-" if row.netns is None else f"netns {row.netns.inode}"


def cmd_monitor(args: argparse.Namespace) -> int:
    from memtui.ui import Watchlist, run_monitor, run_overview

    _check_auto_capture_directory(args)
    selection = _selection(args)
    if selection is None:
        _require_pid_to_follow(args.follow, args.target[0])
        monitor = _monitor_for(args, args.target[0])
        return run_monitor(monitor, auto_capture=auto_capture_of(monitor, args),
                           on_exit_message=_print_if_possible)
    if args.follow:
        raise UsageError("--follow follows one process", "give one PID")
    if args.snapshot_on:
        raise UsageError("--snapshot-on watches one process", "give one PID")
    found = selection.find()
    if not found:
        raise UsageError(f"no Node process found: {selection.describe()}",
                         "`memtui ps` lists Node processes")
    if len(found) > args.max_processes:
        raise UsageError(
            f"{len(found)} processes found ({selection.describe()}); memtui attaches to at "
            f"most {args.max_processes} at once (it opens the inspector of each and runs its "
            "probe in each)", "raise --max-processes, or name the PIDs to watch")
    watchlist = Watchlist(find=selection.find, title=selection.describe(),
                          grows=selection.grows, limit=args.max_processes,
                          new_monitor=lambda target: _monitor_for(args, target))
    return run_overview(watchlist, on_exit_message=_print_if_possible)


def _selection(args: argparse.Namespace) -> Selection | None:
    """What an overview watches; None for one target (the single live view)."""
    given = list(dict.fromkeys(args.target))
    if args.children is not None or args.all:
        if given:
            raise UsageError(f"give TARGETs or {'--all' if args.all else '--children'}, not both",
                             "see 'memtui monitor --help'")
        return Selection(children_of=args.children, every=args.all)
    if not given:
        raise UsageError("no TARGET given", "try 'memtui demo', 'memtui ps' or 'memtui PID'")
    return None if len(given) == 1 else Selection(targets=tuple(given))


def _monitor_for(args: argparse.Namespace, target: str) -> Monitor:
    return Monitor(target, interval=args.interval, keep_inspector=args.keep_inspector,
                   allow_non_loopback=args.allow_non_loopback_inspector,
                   snapshot_dir=args.snapshot_dir, follow=args.follow,
                   leak_rule=LeakRule(rises_in_a_row=args.leak_rises), workers=True)


def _require_pid_to_follow(follow: bool, target: str) -> None:
    if follow and pid_of(target) is None:
        raise UsageError(f"--follow needs a PID, not {target!r}",
                         "a successor is found from the process that exited")


def cmd_demo(args: argparse.Namespace) -> int:
    from memtui.demo import start_demo, stop_demo
    from memtui.ui import run_monitor

    _check_auto_capture_directory(args)
    process = start_demo(args.node)
    try:
        monitor = Monitor(str(process.pid), interval=args.interval,
                          snapshot_dir=args.snapshot_dir, wait_status=process.poll,
                          leak_rule=LeakRule(rises_in_a_row=args.leak_rises),
                          workers=True)
        return run_monitor(monitor, auto_capture=auto_capture_of(monitor, args),
                           on_exit_message=_print_if_possible)
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
    _emit(json.dumps(document, indent=2) if args.json else report.summary_table(document))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from memtui.heap import report
    from memtui.heap.diff import thread_mismatch

    _note_compile_cache()
    mismatch = thread_mismatch(args.before, args.after)
    if mismatch is not None:
        _note(f"warning: {mismatch}; the diff compares two unrelated heaps")
    diff = report.compare_files(args.before, args.after, args.ids_comparable)
    document = report.diff_json(args.before, args.after, diff, args.top, args.sort)
    _emit(json.dumps(document, indent=2) if args.json else report.diff_table(document))
    return 0


LEAK_ROLES = ("baseline", "target", "final")
LEAK_STEPS = {"target": "exercise the suspected path", "final": "let it finish"}


def cmd_leaks(args: argparse.Namespace) -> int:
    from memtui.heap import report

    if args.capture is None:
        if len(args.files) != 3:
            raise UsageError(f"leaks needs three snapshot files, not {len(args.files)}",
                             "give BASELINE TARGET FINAL, or --capture PID")
        if args.wait is not None or args.output is not None or args.force:
            raise UsageError("--wait, -o and --force go with --capture",
                             "add --capture PID, or drop them")
        paths = (args.files[0], args.files[1], args.files[2])
    else:
        if args.files:
            raise UsageError("--capture takes its own three snapshots, not files",
                             "give either --capture PID or three files")
        if args.output is not None and not args.output.is_dir():
            raise UsageError(f"-o {args.output} is not a directory",
                             "give the directory to write the three snapshots in")
        _check_writable_directory(args.output or Path.cwd(), "-o")
        code, saved = _capture_three(args)
        if code:
            return code
        paths = (saved[0], saved[1], saved[2])
    if args.top < 1:
        raise UsageError(f"--top must be at least 1, not {args.top}", "give a positive number")
    _note_compile_cache()
    document = report.leaks_json(paths, report.find_leaks_in_files(paths), args.top)
    _emit(json.dumps(document, indent=2) if args.json else report.leaks_table(document))
    return 0


def _capture_three(args: argparse.Namespace) -> tuple[int, list[Path]]:
    """Take the baseline, target and final snapshots of --capture in one inspector session,
    each after its memory check, waiting for Enter (or --wait) between them; the exit code
    (not 0 when interrupted) and the snapshots taken."""
    args.target = args.capture
    args.keep_inspector = args.allow_non_loopback_inspector = False
    saved: list[Path] = []

    async def capture(monitor: Monitor) -> int:
        if args.output is not None:
            monitor.snapshot_dir = args.output
        stamp = default_snapshot_path(monitor.session.pid, monitor.snapshot_dir)
        for role in LEAK_ROLES:
            if role in LEAK_STEPS:
                await _pause_before(role, args.wait)
            risk = await monitor.snapshot_risk()
            if risk.risky and not args.force:
                raise MemtuiError(f"refusing to take the {role} snapshot of pid "
                                  f"{monitor.session.pid}: {risk.reason}",
                                  "use --force to capture anyway")
            progress = _progress_printer(role) if sys.stderr.isatty() else None
            try:
                taken = await monitor.take_snapshot(
                    progress, stamp.with_name(f"{stamp.stem}-{role}{stamp.suffix}"))
            finally:
                if progress is not None:
                    print(file=sys.stderr)
            _note(f"{role} snapshot: {taken.path} (file {format_bytes(taken.size)}; "
                  f"{taken.cost()})")
            saved.append(taken.path)
        return 0

    return run_async(attached(args, capture), interruption("the leak capture")), saved


async def _pause_before(role: str, wait: float | None) -> None:
    """Let the user do what comes before the `role` snapshot: --wait seconds, or until
    Enter."""
    step = LEAK_STEPS[role]
    if wait is not None:
        _note(f"{step}: the {role} snapshot comes in {wait:g}s")
        await asyncio.sleep(wait)
        return
    _note(f"{step}, then press Enter to take the {role} snapshot")
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise UsageError("standard input ended before Enter was pressed",
                         "give --wait S to capture without a terminal")


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "monitor": cmd_monitor, "demo": cmd_demo, "ps": cmd_ps, "record": cmd_record,
    "gc": cmd_gc, "snapshot": cmd_snapshot, "summary": cmd_summary, "diff": cmd_diff,
    "leaks": cmd_leaks,
}
