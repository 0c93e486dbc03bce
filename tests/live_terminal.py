"""memtui's live view in a pseudo-terminal of its own, as a user's SSH session runs it."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

from tests.cli_helpers import default_sigint


def _take_the_terminal() -> None:
    """In the child before exec: make the pseudo-terminal its controlling terminal, so that
    closing the other end hangs it up (SIGHUP), as a dropped SSH connection does."""
    default_sigint()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class LiveTerminal:
    """`python -m memtui ARGS` on a pseudo-terminal; what it draws is kept in `output`.
    `program` runs `python -c PROGRAM ARGS` instead (memtui with a change of the test's);
    `wrapper` runs the command at the end of its own command line (`unshare ...`)."""

    def __init__(self, *args: str, columns: int = 120, rows: int = 40,
                 program: str | None = None, wrapper: tuple[str, ...] = ()):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        command = ["-m", "memtui"] if program is None else ["-c", program]
        self.process = subprocess.Popen(
            [*wrapper, sys.executable, *command, *args], stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, preexec_fn=_take_the_terminal,
            env={**os.environ, "TERM": "xterm-256color"})
        os.close(slave)
        self.output = bytearray()

    def _read(self, timeout: float) -> None:
        if self.master < 0 or not select.select([self.master], [], [], timeout)[0]:
            return
        try:
            self.output += os.read(self.master, 65536)
        except OSError:  # the other side closed: nothing more to read
            time.sleep(timeout)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{text!r} not shown; the output ends "
                                     f"{bytes(self.output[-300:])!r}")
            self._read(0.1)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def hang_up(self) -> None:
        """Close the terminal's other end, as when the SSH connection drops."""
        os.close(self.master)
        self.master = -1

    def wait_exit(self, timeout: float = 20) -> int | None:
        """The exit code, reading what is drawn meanwhile (a full terminal would block the
        app); None if it is still running at the deadline."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        before = -1
        while len(self.output) != before:  # what it wrote last
            before = len(self.output)
            self._read(0.05)
        return self.process.poll()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
