"""Capture a heap snapshot from the inspector, streamed to disk and renamed when complete."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from memtui.errors import MemtuiError, TargetGone, UsageError
from memtui.events import SnapshotProgress, SnapshotSaved
from memtui.heap.capture_record import CaptureRecord, write_capture_record
from memtui.inspector import CdpChannel
from memtui.private_file import AtomicFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureOrigin:
    """What tells whether two snapshots' object ids can be compared (same pid, same
    session), and the process's working directory."""

    pid: int
    session: str
    node_version: str
    cwd: str | None = None
    thread: str | None = None
    """The worker thread's id; None for the main thread."""


def default_snapshot_path(pid: int, directory: Path, now: float | None = None,
                          worker: str | None = None) -> Path:
    """`memtui-<pid>-<UTC yyyymmddThhmmss>.heapsnapshot` in `directory`
    (`memtui-<pid>-worker<id>-...` for a worker thread's)."""
    stamp = datetime.fromtimestamp(now or time.time(), UTC).strftime("%Y%m%dT%H%M%S")
    thread = "" if worker is None else f"-worker{worker}"
    return directory / f"memtui-{pid}{thread}-{stamp}.heapsnapshot"


class _SnapshotFile:
    """The snapshot being written: a private temporary file, renamed when complete."""

    def __init__(self, path: Path):
        try:
            self.out = AtomicFile(path)
        except OSError as exc:
            raise UsageError(f"cannot write a snapshot in {path.parent}: {exc.strerror}",
                             "choose another directory with -o") from exc
        self.written = 0
        self.error: OSError | None = None

    def write(self, chunk: str) -> None:
        if self.error is not None:
            return
        try:
            self.written += self.out.file.write(chunk)
        except OSError as exc:
            self.error = exc


async def capture_snapshot(inspector: CdpChannel, path: Path, origin: CaptureOrigin,
                           on_progress: Callable[[SnapshotProgress], None] | None = None
                           ) -> SnapshotSaved:
    """Take a heap snapshot of the session `inspector` (the main thread's, or a worker's)
    into `path`; on any failure no file that looks complete is left."""
    started = time.time()
    out = _SnapshotFile(path)
    progress = {"done": 0, "total": 0}

    def on_chunk(params: dict) -> None:
        out.write(params["chunk"])
        report()

    def on_build_progress(params: dict) -> None:
        progress["done"], progress["total"] = params.get("done", 0), params.get("total", 0)
        report()

    def report() -> None:
        if on_progress is not None:
            on_progress(SnapshotProgress(progress["done"], progress["total"], out.written))

    unsubscribe = [inspector.on("HeapProfiler.addHeapSnapshotChunk", on_chunk),
                   inspector.on("HeapProfiler.reportHeapSnapshotProgress", on_build_progress)]
    try:
        await inspector.send("HeapProfiler.enable")
        await inspector.send("HeapProfiler.takeHeapSnapshot",
                             {"reportProgress": True}, timeout=None)
        if out.error is not None:
            raise MemtuiError(f"cannot write {path}: {out.error.strerror}; "
                              "the snapshot was discarded", "free disk space or use -o elsewhere")
        if out.written == 0:
            raise MemtuiError("the inspector sent an empty snapshot")
        try:
            size = out.out.commit()
        except OSError as exc:
            raise MemtuiError(f"cannot write {path}: {exc.strerror}; the snapshot was "
                              "discarded", "free disk space or use -o elsewhere") from exc
    except TargetGone as exc:
        out.out.discard()
        raise TargetGone(f"the target went away during the snapshot ({exc}); "
                         "no snapshot was written") from exc
    except BaseException:
        out.out.discard()
        raise
    finally:
        for undo in unsubscribe:
            undo()
    log.debug("snapshot %s: %d bytes in %.1fs", path, size, time.time() - started)
    with contextlib.suppress(OSError):
        write_capture_record(path, CaptureRecord(
            pid=origin.pid, session=origin.session, taken_at=started,
            node_version=origin.node_version, cwd=origin.cwd, thread=origin.thread))
    return SnapshotSaved(path=path, size=size, taken_at=started, duration_s=time.time() - started,
                         worker=origin.thread)
