"""Files memtui writes for the user, who may be root: never through a symlink, mode 0600.

A snapshot's default name is predictable, so a local user could plant a symlink there and
have root's memtui overwrite any file. Files that appear whole (snapshots, their capture
records) are written under a random temporary name in the same directory, created with
O_EXCL (which never follows a symlink), and renamed over the final name only when complete;
rename replaces a symlink rather than following it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO

MODE = 0o600


class AtomicFile:
    """A private temporary file beside `path` that becomes `path` on `commit`."""

    def __init__(self, path: Path, suffix: str = ".part"):
        self.path = path
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        self.temporary = Path(name)
        self.file: IO[str] = os.fdopen(fd, "w", encoding="utf-8")

    def commit(self) -> int:
        """Flush to disk, rename to the final name (mode 0600); returns the file's size."""
        self.file.flush()
        os.fsync(self.file.fileno())
        os.fchmod(self.file.fileno(), MODE)
        self.file.close()
        os.replace(self.temporary, self.path)
        return self.path.stat().st_size

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.temporary.unlink()


def write_whole(path: Path, text: str) -> None:
    """Write `text` as `path`, atomically and privately."""
    out = AtomicFile(path, suffix=".tmp")
    try:
        out.file.write(text)
        out.commit()
    except BaseException:
        out.discard()
        raise


def open_private(path: Path) -> IO[str]:
    """Open `path` for writing from its start, created 0600; refuses a symlink (ELOOP)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 MODE)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
