"""The capture record: the small `<snapshot>.memtui.json` memtui writes next to a snapshot it
captured, saying which process and inspector session it came from (object ids are comparable
only within one session) and the process's working directory (to show script paths)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from memtui.private_file import write_whole

SUFFIX = ".memtui.json"


@dataclass(frozen=True)
class CaptureRecord:
    pid: int
    session: str
    taken_at: float | None
    node_version: str | None
    cwd: str | None = None
    thread: str | None = None
    """The worker thread's id (its threadId); None for the main thread."""


def record_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + SUFFIX)


def read_capture_record(snapshot: Path | str) -> CaptureRecord | None:
    """The snapshot's capture record, or None if absent or unreadable."""
    try:
        record = json.loads(record_path(Path(snapshot)).read_text())
        return CaptureRecord(pid=int(record["pid"]), session=str(record["session"]),
                             taken_at=record.get("taken_at"),
                             node_version=record.get("node_version"), cwd=record.get("cwd"),
                             thread=record.get("thread"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_capture_record(snapshot: Path, record: CaptureRecord) -> None:
    """Write the record beside `snapshot` (atomically, 0600, never through a symlink)."""
    write_whole(record_path(snapshot), json.dumps(asdict(record)))
