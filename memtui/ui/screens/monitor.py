"""The monitor screen: live figures, GC activity, the timeline chart, and every action key."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Label, ProgressBar

from memtui.auto_capture import AutoCapture, Trigger
from memtui.errors import MemtuiError
from memtui.events import (
    ConnectionLost,
    Reconnected,
    Responsive,
    Restarted,
    SampleTaken,
    SnapshotProgress,
    SnapshotSaved,
    StillReconnecting,
    TargetExited,
    Unresponsive,
    WorkerAppeared,
    WorkerLeft,
    WorkersSampled,
    WorkerState,
)
from memtui.monitor import Monitor
from memtui.sampler import Sample
from memtui.ui.messages import MonitorEventArrived, MonitorStopped, SnapshotProgressed
from memtui.ui.model import (
    CHART_METRIC_SETS,
    WINDOWS,
    Marker,
    MessageKind,
    Severity,
    StatusMessage,
    ThreadId,
    chart_metrics,
    clock_time,
    covered_label,
    display_path,
    gc_activity,
    summarize,
    thread_row,
    visible_samples,
)
from memtui.ui.screens.dialogs import ConfirmDialog, MarkerPrompt
from memtui.ui.screens.help import HelpScreen
from memtui.ui.screens.leaks import LeakScreen
from memtui.ui.screens.log import MessageLogScreen
from memtui.ui.screens.snapshots import SnapshotListScreen
from memtui.ui.widgets.chart import MemoryChart
from memtui.ui.widgets.gc import GcPanel
from memtui.ui.widgets.header import TargetHeader, TargetState
from memtui.ui.widgets.metrics import MetricsPanel
from memtui.ui.widgets.status import StatusLine
from memtui.ui.widgets.threads import ThreadsPanel
from memtui.ui.widgets.verdict import VerdictPanel
from memtui.units import format_bytes
from memtui.verdict import Verdicts, assess, baseline_of, current_run

if TYPE_CHECKING:
    from memtui.ui.app import MemtuiApp

DEFAULT_WINDOW = 1
VERDICT_WINDOW = WINDOWS[1]
"""The verdicts cover at least 5 minutes: a shorter window holds too few major GCs."""
DETACH_TIMEOUT_S = 5.0
ROOMY_HEIGHT = 34
"""From this many rows the verdict panel gives each verdict a line of its own."""


class MonitorScreen(Screen[None]):
    """Shows the monitor's history and forwards the keys to it; the monitor is injected, and
    so are the automatic captures, checked after each sample."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "collect_garbage", "GC", id="monitor.gc"),
        Binding("s", "snapshot", "snapshot", id="monitor.snapshot"),
        Binding("d", "snapshots", "list", id="monitor.snapshots"),
        Binding("m", "marker", "mark", show=False, id="monitor.marker"),
        Binding("space", "pause", "pause", id="monitor.pause"),
        Binding("c", "cycle_chart", "chart", id="monitor.chart"),
        Binding("w", "next_thread", "thread", show=False, id="monitor.thread"),
        Binding("l", "find_leaks", "leaks", id="monitor.leaks"),
        Binding("L", "message_log", "log", show=False, id="monitor.log"),
        Binding("f", "follow", "follow", show=False, id="monitor.follow"),
        Binding("1", "window(0)", "window", key_display="1-4", id="monitor.window1"),
        Binding("2", "window(1)", show=False, id="monitor.window2"),
        Binding("3", "window(2)", show=False, id="monitor.window3"),
        Binding("4", "window(3)", show=False, id="monitor.window4"),
        Binding("question_mark", "help", "help", key_display="?", id="monitor.help"),
        Binding("q", "detach", "quit", id="monitor.quit"),
    ]

    gc_notice_delay = 1.0
    """Seconds a forced GC may take before the screen says it waits for the event loop."""

    def __init__(self, monitor: Monitor, clock: Callable[[], float],
                 auto_capture: AutoCapture | None = None):
        super().__init__()
        self.monitor = monitor
        self.auto_capture = auto_capture
        self.clock = clock
        self.window = WINDOWS[DEFAULT_WINDOW]
        self.chart_metrics = 0
        self.paused_at: float | None = None
        self.markers: list[Marker] = []
        self.target_state: TargetState = "attaching…"
        self.exited_at: float | None = None
        self.ending: str | None = None
        self.gc_running = False
        self.snapshot_running = False
        self.detaching = False
        self.heap_sizes: dict[Path, int] = {}
        """The heap size of each snapshot the snapshot list has analysed, by path."""
        self.selected_thread: ThreadId = None
        """The thread s and g act on (w cycles): a worker thread's id, None for the main."""
        self.leak_baseline: SnapshotSaved | None = None
        """The baseline of the leak finder's flow, between the first and the second `l`."""

    def compose(self) -> ComposeResult:
        yield TargetHeader(id="header")
        yield MetricsPanel(id="metrics")
        yield GcPanel(id="gc")
        yield ThreadsPanel(id="threads")
        yield VerdictPanel(id="verdict")
        yield MemoryChart(id="chart")
        with Horizontal(id="snapshot-progress"):
            yield Label("snapshot", id="snapshot-label")
            yield ProgressBar(show_eta=False, id="snapshot-bar")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.status("attaching…", kind="state")

    @property
    def memtui_app(self) -> MemtuiApp:
        return cast("MemtuiApp", self.app)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def status(self, text: str, severity: Severity = "info", kind: MessageKind = "reply",
               path: str | None = None) -> None:
        """Say `text` on the status line and in the message log (see MessageKind)."""
        status = self.query_one(StatusLine)
        status.say(StatusMessage(self.clock(), text, severity, kind, path))
        if isinstance(self.app.screen, MessageLogScreen):
            self.app.screen.show()

    def refresh_header(self) -> None:
        info = self.monitor.info
        uptime = None
        if info is not None:
            uptime = (self.exited_at or self.clock()) - info.started_at
        self.query_one(TargetHeader).show(info, self.target_state, self.paused, uptime,
                                          self.ending)

    def redraw(self) -> None:
        """Recompute every figure from the history, up to the pause instant when paused."""
        self.refresh_header()
        samples = visible_samples(self.monitor.history, self.window, self.paused_at)
        oldest = next(iter(self.monitor.history), None)
        covered = covered_label(samples, self.window, oldest.t if oldest else 0.0)
        self.query_one(MetricsPanel).show(summarize(samples), covered)
        self.query_one(GcPanel).show(gc_activity(samples))
        self.show_threads(samples)
        verdicts = self.verdicts(samples)
        self.query_one(VerdictPanel).show(verdicts, self.size.height >= ROOMY_HEIGHT)
        end = samples[-1].t if samples else None
        self.query_one(MemoryChart).show(
            samples, chart_metrics(self.chart_metrics, samples), self.markers, self.window, end,
            baseline_of(current_run(samples)),
            None if verdicts is None else verdicts.leak.baseline,
            verdicts is not None and verdicts.leak.is_leak,
        )

    def show_threads(self, main_samples: list[Sample]) -> None:
        """The threads panel: the main thread, then each worker thread, over the window."""
        main_state: WorkerState = "unresponsive" if self.target_state == "unresponsive" \
            else "live"
        rows = [thread_row(None, "main", main_state, main_samples)]
        rows += [thread_row(view.info.worker_id, view.info.name, view.state,
                            visible_samples(history, self.window, self.paused_at))
                 for view, history in self.monitor.worker_samples()]
        oldest = next(iter(self.monitor.history), None)
        covered = covered_label(main_samples, self.window, oldest.t if oldest else 0.0)
        self.query_one(ThreadsPanel).show(rows, self.selected_thread, covered,
                                          self.monitor.workers_problem)
    def verdicts(self, samples: list[Sample]) -> Verdicts | None:
        """The verdicts over the window shown, or VERDICT_WINDOW when that is longer."""
        if not samples:
            return None
        window = self.window
        if window.seconds is not None and window.seconds < (VERDICT_WINDOW.seconds or 0):
            samples = visible_samples(self.monitor.history, VERDICT_WINDOW, self.paused_at)
        limit = self.monitor.info.container_limit if self.monitor.info is not None else None
        return assess(samples, limit, self.monitor.leak_rule)

    def on_resize(self) -> None:
        self.redraw()

    def on_monitor_event_arrived(self, message: MonitorEventArrived) -> None:
        event = message.event
        if isinstance(event, WorkersSampled):
            if not self.paused:
                self.show_threads(visible_samples(self.monitor.history, self.window, None))
            return
        if isinstance(event, WorkerAppeared):
            self.status(f"worker {event.worker.worker_id} ({event.worker.name}) is watched",
                        kind="state")
            return
        if isinstance(event, WorkerLeft):
            left = event.worker.worker_id
            then = ""
            if self.selected_thread == left:
                self.selected_thread = None
                then = "; s and g act on the main thread again"
            self.status(f"worker {left} ({event.worker.name}) exited at "
                        f"{clock_time(event.at)}{then}", kind="state")
            return
        if isinstance(event, SampleTaken):
            if self.target_state == "attaching…":
                self.target_state = "live"
                self.status("attached; sampling", kind="state")
            self.check_auto_capture()
            if self.paused:
                self.refresh_header()
            else:
                self.redraw()
            return
        if isinstance(event, Unresponsive):
            self.target_state = "unresponsive"
            self.status(f"target unresponsive since {clock_time(event.since)}"
                        " (event loop blocked?)", "warning", "state")
        elif isinstance(event, Responsive):
            self.target_state = "live"
            self.status(f"target responsive again at {clock_time(event.at)}", "good", "state")
        elif isinstance(event, TargetExited):
            self.exited_at = event.at
            self.target_state = "exited"
            self.ending = f"{event.reason.short()} at {clock_time(event.at)}"
            if self.monitor.follow:
                then = "waiting for its successor"
            elif self.monitor.can_follow:
                then = "its history stays on screen; f follows its successor"
            else:
                then = "its history stays on screen"
            self.status(f"the target {event.reason.describe()} at {clock_time(event.at)};"
                        f" {then}", "error", "result")
        elif isinstance(event, Restarted):
            self.exited_at = None
            self.ending = None
            self.target_state = "live"
            self.add_marker(event.describe())
            self.status(f"{event.describe()} at {clock_time(event.at)}; sampling", "good",
                        "result")
        elif isinstance(event, ConnectionLost):
            self.target_state = "reconnecting…"
            self.status(f"connection lost — reconnecting… ({event.reason})", "warning",
                        "state")
        elif isinstance(event, StillReconnecting):
            self.status(f"still reconnecting, disconnected since {clock_time(event.since)}"
                        f" ({event.reason})", "warning", "state")
        elif isinstance(event, Reconnected):
            self.target_state = "live"
            self.status(f"reconnected at {clock_time(event.at)}", "good", "state")
        self.refresh_header()
        self.query_one(MemoryChart).flush()

    def action_follow(self) -> None:
        if self.target_state != "exited" or self.monitor.follow:
            return
        if not self.monitor.can_follow:
            self.status("no successor can be looked for: memtui attached by address, not PID",
                        "warning")
            return
        self.status(f"waiting for the successor of pid {self.monitor.info.pid}…"
                    if self.monitor.info else "waiting for the successor…")
        self.memtui_app.follow_successor()

    def on_monitor_stopped(self, message: MonitorStopped) -> None:
        if message.error is not None:
            self.target_state = "detached"
            self.status(f"monitoring stopped: {message.error}", "error", "result")
            self.refresh_header()
        self.query_one(MemoryChart).flush()

    def on_snapshot_progressed(self, message: SnapshotProgressed) -> None:
        self.show_snapshot_progress(message.progress)

    def show_snapshot_progress(self, progress: SnapshotProgress) -> None:
        bar = self.query_one("#snapshot-bar", ProgressBar)
        bar.update(total=max(progress.total, 1), progress=progress.done)
        self.query_one("#snapshot-label", Label).update(
            f"snapshot: {format_bytes(progress.bytes_written)} written"
            if progress.bytes_written else "snapshot: V8 is building it"
        )

    @property
    def actionable(self) -> bool:
        """Whether the target can still be acted on (it has not exited, memtui is attached)."""
        return self.exited_at is None and self.target_state != "detached"

    def can_act(self, action: str) -> bool:
        """False, saying why, when the target can no longer be acted on."""
        if not self.actionable:
            self.status(f"cannot {action}: the target is {self.target_state}", "warning")
            return False
        return True

    def action_collect_garbage(self) -> None:
        if self.gc_running:
            self.status("a forced GC is already running", "warning")
        elif self.can_act("force a GC"):
            self.run_worker(self.collect_garbage(), group="gc")

    async def collect_garbage(self) -> None:
        self.gc_running = True
        thread = self.selected_thread
        whose = "" if thread is None else f" of worker {thread}"
        self.status(f"GC{whose} requested…")
        notice = self.set_timer(
            self.gc_notice_delay,
            lambda: self.status("GC requested, waiting for the event loop…", "warning"),
        )
        try:
            result = await self.monitor.collect_garbage(thread)
        except MemtuiError as error:
            self.status(f"GC failed: {error}", "error", "result")
            return
        finally:
            notice.stop()
            self.gc_running = False
        self.status(
            f"GC{whose} freed {format_bytes(result.freed)}: heap used"
            f" {format_bytes(result.heap_used_before)} → {format_bytes(result.heap_used_after)}"
            f" ({result.duration_s:.2f}s)",
            "good",
            "result",
        )
        self.add_marker("GC" + whose)

    def action_snapshot(self) -> None:
        if self.snapshot_running:
            self.status("a snapshot is already being captured", "warning")
        elif self.can_act("capture a snapshot"):
            self.run_worker(self.capture_snapshot(), group="snapshot")

    def action_find_leaks(self) -> None:
        """The leak finder: the first `l` takes the baseline; the second the target and the
        final snapshot, then shows the new objects that survived."""
        if self.snapshot_running:
            self.status("a snapshot is already being captured", "warning")
        elif self.can_act("find leaks"):
            self.run_worker(self.leak_step(), group="snapshot")

    async def leak_step(self) -> None:
        if self.leak_baseline is None:
            baseline = await self.capture_snapshot("leak baseline")
            if baseline is not None:
                self.leak_baseline = baseline
                self.status("leak finder: baseline taken; now exercise the suspected path, "
                            "then press l again", "good", "result")
            return
        target = await self.capture_snapshot("leak target")
        final = await self.capture_snapshot("leak final") if target is not None else None
        if target is None or final is None:
            self.status("leak finder: no target and final snapshots; l tries again",
                        "warning", "result")
            return
        baseline, self.leak_baseline = self.leak_baseline, None
        self.app.push_screen(LeakScreen((baseline, target, final)))

    async def capture_snapshot(self, role: str = "") -> SnapshotSaved | None:
        """Check the memory a snapshot needs (asking when it is risky), capture it and drop
        a marker (`role` names it); None when it was cancelled or failed."""
        self.snapshot_running = True
        thread = self.selected_thread
        whose = "the target" if thread is None else f"worker {thread}"
        try:
            self.status("checking the memory a snapshot needs…")
            risk = await self.monitor.snapshot_risk(thread)
            if risk.risky:
                available = "unknown" if risk.available is None else format_bytes(risk.available)
                self.status("a snapshot may exhaust the target's memory: y captures, n cancels",
                            "warning")
                capture = await self.app.push_screen_wait(ConfirmDialog(
                    "Capturing a heap snapshot may exhaust the target's memory.",
                    f"It may need up to {format_bytes(risk.estimated_extra)} more; available:"
                    f" {available}. {risk.reason}\n{whose.capitalize()} pauses while V8 "
                    "writes the snapshot. Capture anyway?",
                ))
                if not capture:
                    self.status("snapshot cancelled")
                    return None
            with self.showing_capture(
                    "capturing a heap snapshot; the target pauses while V8 writes it…"
                    if thread is None else
                    f"capturing a heap snapshot of worker {thread}; it pauses while V8 "
                    "writes it…"):
                saved = await self.monitor.take_snapshot(self.post_snapshot_progress,
                                                         worker=thread)
        except MemtuiError as error:
            self.status(f"snapshot failed: {error}", "error", "result")
            return None
        finally:
            self.snapshot_running = False
        self.say_saved("snapshot", saved)
        self.add_marker((role or f"snapshot {len(self.monitor.snapshots)}")
                        + ("" if thread is None else f" (worker {thread})"))
        return saved

    def check_auto_capture(self) -> None:
        """Start the automatic capture a condition calls for, unless one is under way."""
        if self.auto_capture is None or self.snapshot_running or not self.actionable:
            return
        trigger = self.auto_capture.due()
        if trigger is not None:
            self.snapshot_running = True
            self.run_worker(self.auto_capture_snapshot(self.auto_capture, trigger),
                            group="snapshot")

    async def auto_capture_snapshot(self, auto_capture: AutoCapture, trigger: Trigger) -> None:
        """Capture as `s` does, without asking: a risky capture is refused."""
        try:
            with self.showing_capture(f"{trigger.condition} holds ({trigger.evidence}): capturing"
                                      " a heap snapshot; the target pauses while V8 writes it…"):
                result = await auto_capture.capture(trigger, self.post_snapshot_progress)
        finally:
            self.snapshot_running = False
        if result.saved is None:
            self.status(result.describe(), "warning" if result.outcome == "refused" else "error",
                        "result")
            self.add_marker(f"auto snapshot {result.outcome}")
            return
        self.say_saved(f"automatic snapshot ({trigger.condition})", result.saved)
        self.add_marker(f"snapshot {len(self.monitor.snapshots)} (auto)")

    @contextlib.contextmanager
    def showing_capture(self, text: str) -> Iterator[None]:
        """The progress bar and `text` while a snapshot is captured."""
        self.show_snapshot_progress(SnapshotProgress(0, 1, 0))
        self.add_class("capturing")
        self.status(text)
        try:
            yield
        finally:
            self.remove_class("capturing")

    def say_saved(self, what: str, saved: SnapshotSaved) -> None:
        self.status(f"{what} saved (file {format_bytes(saved.size)}, {saved.duration_s:.1f}s): ",
                    "good", "result", display_path(saved.path))

    def post_snapshot_progress(self, progress: SnapshotProgress) -> None:
        self.post_message(SnapshotProgressed(progress))

    def action_snapshots(self) -> None:
        self.app.push_screen(SnapshotListScreen(self.monitor.snapshots, self.heap_sizes))

    def action_message_log(self) -> None:
        self.app.push_screen(MessageLogScreen(self.query_one(StatusLine).messages))

    def action_marker(self) -> None:
        self.run_worker(self.ask_marker(), group="marker")

    async def ask_marker(self) -> None:
        default = f"marker {sum(1 for m in self.markers if m.user) + 1}"
        label = await self.app.push_screen_wait(MarkerPrompt(default))
        if label is not None:
            self.add_marker(label, user=True)
            self.status(f"marker “{label}” dropped at {clock_time(self.markers[-1].t)}")

    def add_marker(self, label: str, user: bool = False) -> None:
        self.markers.append(Marker(self.clock(), label, user))
        if not self.paused:
            self.redraw()

    def action_pause(self) -> None:
        latest = self.monitor.history.latest
        if self.paused:
            self.paused_at = None
        else:
            self.paused_at = latest.t if latest else self.clock()
        self.redraw()
        self.query_one(MemoryChart).flush()

    def action_window(self, index: int) -> None:
        self.window = WINDOWS[index]
        self.redraw()

    def action_next_thread(self) -> None:
        """Select the next thread for s and g: the main thread, then each worker thread."""
        order: list[ThreadId] = [None]
        order += [view.info.worker_id for view, _ in self.monitor.worker_samples()]
        if len(order) == 1:
            self.status(self.monitor.workers_problem or "the target has no worker threads",
                        "warning")
            return
        position = order.index(self.selected_thread) if self.selected_thread in order else 0
        self.selected_thread = order[(position + 1) % len(order)]
        name = "the main thread" if self.selected_thread is None \
            else f"worker {self.selected_thread}"
        self.status(f"s and g act on {name}")
        self.redraw()

    def action_cycle_chart(self) -> None:
        self.chart_metrics = (self.chart_metrics + 1) % len(CHART_METRIC_SETS)
        self.redraw()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_detach(self) -> None:
        """Detach and quit; a second request while detaching (q then Ctrl+C, a signal) waits
        for the first instead of cutting it short."""
        if not self.detaching:
            self.detaching = True
            self.run_worker(self.detach(), group="detach")

    async def detach(self) -> None:
        self.status("detaching…")
        try:
            async with asyncio.timeout(DETACH_TIMEOUT_S):
                result = await self.monitor.close()
        except (MemtuiError, TimeoutError) as error:
            self.memtui_app.detach_problem = str(error) or "timed out closing the inspector session"
        else:
            info = self.monitor.info
            note = result.note(info.pid) if result is not None and info is not None else None
            if note is not None and self.exited_at is None:
                self.memtui_app.detach_problem = note
        self.app.exit(0)
