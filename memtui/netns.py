"""TCP connections made inside another process's network namespace (a container's loopback).

A socket belongs for its whole life to the network namespace of the thread that created it,
whichever thread uses it later. So memtui joins a target's namespace (`setns(CLONE_NEWNET)`)
on a dedicated thread that only creates the socket and ends: no thread that runs anything
else ever changes namespace. Joining needs CAP_SYS_ADMIN both in memtui's own user namespace
and over the user namespace that owns the target's network namespace: root on the host has
both, for rootful and rootless containers alike; another user has neither.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import socket
import threading
from dataclasses import dataclass

from memtui.errors import MemtuiError, TargetGone, UsageError

CLONE_NEWNET = 0x40000000


class NamespaceDenied(UsageError):
    """memtui may not enter the target's network namespace (it lacks the privilege)."""

    def __init__(self, pid: int, reason: str):
        super().__init__(
            f"PID {pid} runs in another network namespace (a container?) that memtui may not "
            f"enter: {reason}",
            "entering it needs CAP_SYS_ADMIN in memtui's user namespace and in the one owning "
            "it: run memtui as root on the host",
        )


@dataclass(frozen=True)
class NetworkNamespace:
    """A process's network namespace other than memtui's, pinned by its inode, so that a
    PID reused by a process elsewhere is noticed instead of connected to."""

    pid: int
    inode: int


def namespace_of(pid: int) -> NetworkNamespace | None:
    """PID's network namespace, or None when it is memtui's own; OSError when unreadable."""
    theirs = os.stat(f"/proc/{pid}/ns/net")
    ours = os.stat("/proc/self/ns/net")
    if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
        return None
    return NetworkNamespace(pid, theirs.st_ino)


def require_entry(namespace: NetworkNamespace) -> None:
    """Raise NamespaceDenied (or TargetGone) unless memtui can make sockets in `namespace`."""
    _socket_inside(namespace, socket.AF_INET).close()


def connect(host: str, port: int, timeout: float,
            namespace: NetworkNamespace | None) -> socket.socket:
    """A TCP socket connected to numeric HOST:PORT, made in `namespace` (None: memtui's own).
    Raises NamespaceDenied or TargetGone when the namespace cannot be entered, OSError
    (refused, timed out, ...) when the connection fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = new_socket(family, namespace)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def new_socket(family: socket.AddressFamily, namespace: NetworkNamespace | None,
               kind: socket.SocketKind = socket.SOCK_STREAM) -> socket.socket:
    """A new socket of `namespace` (None: memtui's own)."""
    return socket.socket(family, kind) if namespace is None else \
        _socket_inside(namespace, family, kind)


def _socket_inside(namespace: NetworkNamespace, family: socket.AddressFamily,
                   kind: socket.SocketKind = socket.SOCK_STREAM) -> socket.socket:
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            _join(namespace)
            made.append(socket.socket(family, kind))
        except BaseException as error:
            made.append(error)

    thread = threading.Thread(target=make, name=f"memtui-netns-{namespace.pid}", daemon=True)
    thread.start()
    thread.join()
    result = made[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _join(namespace: NetworkNamespace) -> None:
    """Move the calling thread into `namespace`; only a thread about to end may call this."""
    pid = namespace.pid
    try:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        raise _gone(pid) from None
    except PermissionError as error:
        raise NamespaceDenied(pid, error.strerror or str(error)) from None
    try:
        if os.fstat(fd).st_ino != namespace.inode:
            raise _gone(pid)
        if _libc().setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            if code == errno.EPERM:
                raise NamespaceDenied(pid, os.strerror(code))
            raise MemtuiError(f"cannot enter the network namespace of PID {pid}: "
                              f"{os.strerror(code)}")
    finally:
        os.close(fd)


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.setns.restype = ctypes.c_int
    return libc


def _gone(pid: int) -> TargetGone:
    return TargetGone(f"PID {pid} left the network namespace memtui found it in",
                      "it exited, or its PID now names another process")
