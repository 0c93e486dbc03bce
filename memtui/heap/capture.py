"""Capture a heap snapshot from the inspector, streamed to disk through a `.part` file."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from memtui.errors import MemtuiError, TargetGone, UsageError
from memtui.events import SnapshotProgress, SnapshotSaved
from memtui.inspector import Inspector

SIDECAR_SUFFIX = ".memtui.json"


@dataclass(frozen=True)
class CaptureOrigin:
    """What tells whether two snapshots' object ids can be compared: same pid, same session."""

    pid: int
    session: str
    node_version: str


def default_snapshot_path(pid: int, directory: Path, now: float | None = None) -> Path:
    """`memtui-<pid>-<UTC yyyymmddThhmmss>.heapsnapshot` in `directory`."""
    stamp = datetime.fromtimestamp(now or time.time(), UTC).strftime("%Y%m%dT%H%M%S")
    return directory / f"memtui-{pid}-{stamp}.heapsnapshot"


def sidecar_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + SIDECAR_SUFFIX)


class _PartFile:
    """A 0600 `.part` file that becomes the snapshot only when complete."""

    def __init__(self, path: Path):
        self.path = path
        self.part = path.with_name(path.name + ".part")
        try:
            fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot write {self.part}: {exc.strerror}",
                             "choose another directory with -o") from exc
        self.file = os.fdopen(fd, "w", encoding="utf-8")
        self.written = 0
        self.error: OSError | None = None

    def write(self, chunk: str) -> None:
        if self.error is not None:
            return
        try:
            self.written += self.file.write(chunk)
        except OSError as exc:
            self.error = exc

    def commit(self) -> int:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.part, self.path)
        return self.path.stat().st_size

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.part.unlink()


async def capture_snapshot(inspector: Inspector, path: Path, origin: CaptureOrigin,
                           on_progress: Callable[[SnapshotProgress], None] | None = None
                           ) -> SnapshotSaved:
    """Take a heap snapshot into `path`; on any failure no file that looks complete is left."""
    started = time.time()
    out = _PartFile(path)
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
            raise MemtuiError(f"cannot write {out.part}: {out.error.strerror}; "
                              "the snapshot was discarded", "free disk space or use -o elsewhere")
        if out.written == 0:
            raise MemtuiError("the inspector sent an empty snapshot")
        size = out.commit()
    except TargetGone as exc:
        out.discard()
        raise TargetGone(f"the target went away during the snapshot ({exc}); "
                         "no snapshot was written") from exc
    except BaseException:
        out.discard()
        raise
    finally:
        for undo in unsubscribe:
            undo()
    _write_sidecar(path, origin, started)
    return SnapshotSaved(path=path, size=size, taken_at=started, duration_s=time.time() - started)


def _write_sidecar(path: Path, origin: CaptureOrigin, taken_at: float) -> None:
    record = {"pid": origin.pid, "session": origin.session, "taken_at": taken_at,
              "node_version": origin.node_version}
    with contextlib.suppress(OSError):
        fd = os.open(sidecar_path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as sidecar:
            json.dump(record, sidecar)
