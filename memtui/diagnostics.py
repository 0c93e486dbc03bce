"""memtui's debug log: a file, since the live view owns the terminal.

`--log FILE` or `--debug` turn it on: attach decisions, every inspector request and reply
(method and size, not snapshot chunks), detach steps, and the traceback of any failure.
Without either, an unexpected failure still leaves its traceback in a crash log.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

log = logging.getLogger("memtui")


class LogFile(logging.StreamHandler):
    """The handler of the log file, which knows its path."""

    def __init__(self, path: Path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        super().__init__(os.fdopen(fd, "a", encoding="utf-8", buffering=1))
        self.path = path


def default_log_path(kind: str = "debug") -> Path:
    """`$XDG_STATE_HOME/memtui/memtui-<kind>-<UTC time>-<pid>.log` (~/.local/state)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return Path(state) / "memtui" / f"memtui-{kind}-{stamp}-{os.getpid()}.log"


def start_log(path: Path) -> Path:
    """Write memtui's log at debug level to `path` (created 0600, its directory 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = LogFile(path)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.debug("memtui %s, python %s, argv %s", _version(), sys.version.split()[0], sys.argv)
    return path


def logging_to() -> Path | None:
    """The file the log goes to, when it is on."""
    return next((h.path for h in log.handlers if isinstance(h, LogFile)), None)


def record_crash(error: BaseException) -> Path | None:
    """Log an unexpected failure's traceback; with no log on, into a new crash log. Returns
    where it went (None when not even a crash log could be written)."""
    path = logging_to()
    if path is None:
        try:
            path = start_log(default_log_path("crash"))
        except OSError:
            return None
    log.error("unexpected failure\n%s",
              "".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return path


def _version() -> str:
    from memtui import __version__

    return __version__
