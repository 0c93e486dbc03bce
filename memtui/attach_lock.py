"""Host-wide locks between memtuis: one per target process, held by the memtui attaching to
it; one per inspector port, held while a memtui's SIGUSR1 opens an inspector there.

Attaching is a sequence (look for an inspector, SIGUSR1, wait for it, connect, install the
probe, which records in the target that a memtui opened the inspector); two memtuis doing it
at once would each take the other's inspector for one the program opened. The lock is an
abstract unix socket name (`memtui-attach-PID-STARTTIME`): binding it is exclusive, the kernel
releases it when its holder exits however it exits, and it leaves no file behind. It is per
network namespace, which is memtui's own, so every memtui on the host shares it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

import psutil

POLL_S = 0.05
WAIT_S = 20.0

_held_here: set[str] = set()
"""Locks this process holds: taking one again (a detach inside a failed attach) is free."""

log = logging.getLogger(__name__)


def lock_name(pid: int) -> str | None:
    """The lock's name for this process (its start time tells a reused PID apart)."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return None
    return f"memtui-attach-{pid}-{started:.2f}"


@contextlib.asynccontextmanager
async def attaching(pid: int | None, wait_s: float = WAIT_S) -> AsyncIterator[None]:
    """Hold the attach lock of `pid` (nothing for None; re-entrant within this process).
    After `wait_s` without it (a memtui stuck while attaching), go on without it: attaching
    copes with a concurrent attach, only less precisely."""
    name = lock_name(pid) if pid is not None else None
    if name in _held_here:
        yield
        return
    held = None
    if name is not None:
        deadline = time.monotonic() + wait_s
        while (held := _bind(name)) is None and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
        if held is None:
            log.warning("attach lock %s still held after %ss; going on without it", name, wait_s)
        else:
            log.debug("attach lock %s taken", name)
            _held_here.add(name)
    try:
        yield
    finally:
        if held is not None:
            _held_here.discard(name)
            held.close()
            log.debug("attach lock %s released", name)


def _bind(name: str) -> socket.socket | None:
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind("\0" + name)
    except OSError as error:
        lock.close()
        if error.errno != errno.EADDRINUSE:
            raise
        return None
    return lock


@contextlib.contextmanager
def signalling_port(netns_inode: int | None, port: int, wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold the lock of an inspector port (in the network namespace of that inode, None for
    memtui's) while SIGUSR1 opens an inspector on it: every process's SIGUSR1 opens on the
    same port (9229), and of two signalled at once, one fails to bind and writes an error in
    its program's log. Port 0 (an ephemeral port each time) needs no lock; blocking."""
    if port == 0:
        yield
        return
    name = f"memtui-sigusr1-{netns_inode or 'host'}-{port}"
    deadline = time.monotonic() + wait_s
    while (held := _bind(name)) is None and time.monotonic() < deadline:
        time.sleep(POLL_S)
    try:
        yield
    finally:
        if held is not None:
            held.close()
