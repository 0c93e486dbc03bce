"""attach: PID / HOST:PORT / ws:// URL -> a verified Node inspector, against real Node processes."""

import asyncio
import contextlib
import getpass
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from memtui import attach
from memtui.attach import (
    _first_inspector,
    _Listener,
    find_inspector_address,
    list_node_processes,
    pid_of_listener,
    refresh_ws_url,
    resolve_target,
    sigusr1_caught,
)
from memtui.errors import EXIT_RUNTIME, EXIT_USAGE, MemtuiError, TargetGone
from memtui.session import release_inspector

URL_LINE = r"ready (ws://\S+)"
SIGUSR1_BIT = 1 << (signal.SIGUSR1 - 1)


def node_version(node: str) -> str:
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split("."))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cluster_port(workers: int) -> int:
    """A port P for a cluster primary's --inspect-port, with P+1..P+workers (its workers'
    ports, Node's cluster numbers them so) free too: below the ephemeral range, whose ports
    other connections take at random as their own."""
    for base in random.sample(range(20000, 32000, 16), 50):
        try:
            with contextlib.ExitStack() as held:
                for port in range(base, base + workers + 1):
                    probe = held.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError(f"no {workers + 1} consecutive free ports found")


def wait_for_new_worker(primary: int, known: set[int], timeout: float = 15.0,
                        workers=attach.cluster_workers) -> int:
    """The PID of a cluster worker of PRIMARY not in KNOWN, once it exists (exec'd), as
    `workers` (attach.cluster_workers, or its original where a test replaces it) lists them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = set(workers(psutil.Process(primary))) - known
        if new:
            return new.pop()
        time.sleep(0.01)
    raise AssertionError(f"no worker forked by pid {primary} within {timeout:g}s")


def pending_sigusr1(pid: int) -> bool:
    """Whether SIGUSR1 was sent and is still pending (a process that blocks it keeps it so)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    masks = [line.split()[1] for line in status if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(int(mask, 16) & SIGUSR1_BIT for mask in masks)


@pytest.fixture
def listener():
    """A plain TCP listener on a free loopback port, held by this test process."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def child():
    """Start a non-Node program as this test's own child; it is killed when the test ends."""
    started: list[subprocess.Popen] = []

    def _start(*args: str) -> subprocess.Popen:
        process = subprocess.Popen(args)
        started.append(process)
        return process

    yield _start
    for process in started:
        process.kill()
        process.wait(10)


@pytest.fixture
def http_server():
    """An HTTP server on loopback answering /json/version with a given JSON body."""
    servers = []

    def _serve(body: dict) -> int:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


class TestInspectorAlreadyOpen:
    """An inspector the process already has open is found from its sockets, never signalled."""

    def test_opened_on_command_line(self, node, spawn):
        process = spawn("idle.js", "--inspect=127.0.0.1:0", node=node)
        printed = process.wait_for_line(r"Debugger listening on (ws://\S+)").group(1)

        target = resolve_target(str(process.pid))

        assert target.pid == process.pid
        assert (target.host, target.port) == ("127.0.0.1", process.inspector_port())
        assert target.ws_url == printed
        assert target.node_version == node_version(node)
        assert not target.opened_by_memtui

    def test_opened_from_javascript(self, node, spawn):
        process = spawn("attach_open_from_js.js", node=node, ready=URL_LINE)
        printed = process.wait_for_line(URL_LINE).group(1)

        address = find_inspector_address(process.pid)
        target = resolve_target(str(process.pid))

        assert address == ("127.0.0.1", process.inspector_port())
        assert target.ws_url == printed
        assert not target.opened_by_memtui

    def test_none_when_closed(self, spawn):
        process = spawn("idle.js")
        assert find_inspector_address(process.pid) is None

    def test_the_address_shown_is_the_one_it_listens_on(self, spawn):
        process = spawn("idle.js", "--inspect=127.0.0.1:0")
        port = process.inspector_port()
        assert resolve_target(str(process.pid)).address == f"127.0.0.1:{port}"
        # An inspector bound to every interface (the tests stay on loopback, so the
        # wildcard listener is described rather than opened) is reached over loopback
        # and shown as what it is.
        found = _first_inspector([_Listener("0.0.0.0", port, 0)])
        assert (found.host, found.listen_host) == ("127.0.0.1", "0.0.0.0")

    def test_allow_signal_false_refuses_to_open(self, spawn):
        process = spawn("idle.js", "--inspect-port=0")
        with pytest.raises(MemtuiError, match="has no inspector open") as caught:
            resolve_target(str(process.pid), allow_signal=False)
        assert caught.value.exit_code == EXIT_RUNTIME
        assert find_inspector_address(process.pid) is None


class TestSigusr1:
    """SIGUSR1 opens the inspector only when that is safe, and never hangs."""

    def test_opens_inspector_and_target_lives(self, node, spawn):
        process = spawn("idle.js", "--inspect-port=0", node=node)
        assert find_inspector_address(process.pid) is None

        target = resolve_target(str(process.pid))

        assert target.opened_by_memtui
        assert target.port == process.inspector_port()
        assert target.node_version == node_version(node)
        assert process.alive()
        assert not resolve_target(str(process.pid)).opened_by_memtui
        asyncio.run(release_inspector(target))

    def test_own_listener_ends_in_error_after_deadline(self, node, spawn):
        process = spawn("own_sigusr1.js", "--inspect-port=0", node=node)

        with pytest.raises(MemtuiError, match=r"did not open its inspector within 0\.5s") as caught:
            resolve_target(str(process.pid), signal_timeout=0.5)

        assert caught.value.exit_code == EXIT_RUNTIME
        assert "process.on('SIGUSR1')" in caught.value.hint
        assert "--disable-sigusr1" in caught.value.hint
        process.wait_for_line("got SIGUSR1")
        assert process.alive()

    @pytest.mark.parametrize("where", ["command line", "NODE_OPTIONS"])
    def test_disable_sigusr1_refused_before_signalling(self, node, spawn, where):
        if version_tuple(node_version(node)) < (22, 14):
            pytest.skip("--disable-sigusr1 exists from Node 22.14")
        if where == "command line":
            process = spawn("idle.js", "--disable-sigusr1", "--inspect-port=0", node=node)
        else:
            process = spawn("idle.js", "--inspect-port=0", node=node,
                            env={"NODE_OPTIONS": "--disable-sigusr1"})

        with pytest.raises(MemtuiError, match="runs with --disable-sigusr1") as caught:
            resolve_target(str(process.pid))

        assert caught.value.exit_code == EXIT_USAGE
        assert not pending_sigusr1(process.pid)
        assert process.alive()

    @pytest.mark.parametrize("how", ["--inspect-port=N", "--inspect-port N", "NODE_OPTIONS"])
    def test_port_held_names_holder(self, node, spawn, listener, how):
        if how == "NODE_OPTIONS":
            options = {"NODE_OPTIONS": f"--inspect-port={listener}"}
            process = spawn("idle.js", node=node, env=options)
        elif how == "--inspect-port N":
            process = spawn("idle.js", "--inspect-port", str(listener), node=node)
        else:
            process = spawn("idle.js", f"--inspect-port={listener}", node=node)

        with pytest.raises(MemtuiError, match=f"already held by PID {os.getpid()}") as caught:
            resolve_target(str(process.pid))

        assert caught.value.exit_code == EXIT_RUNTIME
        assert f"127.0.0.1:{listener}" in caught.value.message
        assert not any("Starting inspector" in line for line in process.lines)
        assert process.alive()

    def test_renamed_node_binary_is_recognised(self, system_node, spawn, tmp_path):
        renamed = tmp_path / "billing-service"
        shutil.copy(system_node, renamed)
        process = spawn("idle.js", "--inspect-port=0", node=str(renamed))

        target = resolve_target(str(process.pid))

        assert target.opened_by_memtui
        assert target.port == process.inspector_port()
        assert process.pid in {row.pid for row in list_node_processes()}
        asyncio.run(release_inspector(target))

    def test_node_named_process_without_handler_is_not_signalled(self, child, tmp_path):
        fake_node = tmp_path / "node"
        shutil.copy(shutil.which("sleep"), fake_node)
        process = child(str(fake_node), "60")

        with pytest.raises(MemtuiError, match="does not catch SIGUSR1; sending it would kill"
                           ) as caught:
            resolve_target(str(process.pid))

        assert caught.value.exit_code == EXIT_USAGE
        assert "--inspect" in caught.value.hint
        assert process.poll() is None

    def test_sigusr1_caught_reads_sigcgt(self, child, spawn):
        assert sigusr1_caught(spawn("idle.js").pid)
        assert not sigusr1_caught(child("sleep", "60").pid)


class TestRefusals:
    """Bad targets end in one clear error with the documented exit code."""

    def test_no_such_pid(self):
        unused = int(Path("/proc/sys/kernel/pid_max").read_text())
        with pytest.raises(MemtuiError, match=f"no process with PID {unused}") as caught:
            resolve_target(str(unused))
        assert caught.value.exit_code == EXIT_USAGE

    def test_not_a_node_process_is_left_alone(self, child):
        process = child("sleep", "60")

        with pytest.raises(MemtuiError, match=r"\(sleep\) is not a Node process") as caught:
            resolve_target(str(process.pid))

        assert caught.value.exit_code == EXIT_USAGE
        assert process.poll() is None

    def test_another_users_process(self, spawn):
        if os.geteuid() != 0:
            pytest.skip("needs root to act as another user")
        process = spawn("idle.js", "--inspect-port=0")
        snippet = (
            "import json, os, sys\n"
            "from memtui.attach import list_node_processes, resolve_target\n"
            "from memtui.errors import MemtuiError\n"
            "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
            "listed = [row.pid for row in list_node_processes()]\n"
            "try:\n"
            "    resolve_target(sys.argv[1])\n"
            "except MemtuiError as e:\n"
            "    print(json.dumps([e.exit_code, e.message, e.hint, listed]))\n"
        )
        run = subprocess.run([sys.executable, "-c", snippet, str(process.pid)],
                             capture_output=True, text=True, timeout=60, check=True)

        exit_code, message, hint, listed = json.loads(run.stdout)

        assert exit_code == EXIT_USAGE
        assert message == f"permission denied: PID {process.pid} belongs to root"
        assert hint == "run memtui as root"
        assert process.pid not in listed
        assert process.alive()
        assert find_inspector_address(process.pid) is None

    @pytest.mark.parametrize("spec", ["abc", "1.2.3.4", "127.0.0.1:99999", "host:port"])
    def test_malformed_spec(self, spec):
        with pytest.raises(MemtuiError) as caught:
            resolve_target(spec)
        assert caught.value.exit_code == EXIT_USAGE


class TestAddresses:
    """HOST:PORT and ws:// URLs are checked against the inspector's /json endpoints."""

    def test_host_port(self, node, spawn):
        process = spawn("idle.js", "--inspect=127.0.0.1:0", node=node)
        printed = process.wait_for_line(r"Debugger listening on (ws://\S+)").group(1)

        target = resolve_target(f"127.0.0.1:{process.inspector_port()}")

        assert target.pid == process.pid
        assert target.ws_url == printed
        assert target.node_version == node_version(node)
        assert not target.opened_by_memtui

    def test_ipv6_host_port(self, spawn):
        process = spawn("idle.js", "--inspect=[::1]:0")
        match = process.wait_for_line(r"Debugger listening on (ws://\[::1\]:(\d+)/\S+)")

        target = resolve_target(f"[::1]:{match.group(2)}")

        assert (target.pid, target.host, target.ws_url) == (process.pid, "::1", match.group(1))
        assert find_inspector_address(process.pid) == ("::1", int(match.group(2)))

    def test_ws_url(self, node, spawn):
        process = spawn("attach_open_from_js.js", node=node, ready=URL_LINE)
        url = process.wait_for_line(URL_LINE).group(1)

        target = resolve_target(url)

        assert target.ws_url == url
        assert target.pid == process.pid
        assert target.node_version == node_version(node)

    def test_ws_url_with_stale_session(self, spawn):
        process = spawn("attach_open_from_js.js", ready=URL_LINE)
        port = process.inspector_port()

        with pytest.raises(MemtuiError, match="has no session 0000") as caught:
            resolve_target(f"ws://127.0.0.1:{port}/0000")

        assert f"give 127.0.0.1:{port} instead" in caught.value.hint

    def test_host_name(self, spawn):
        process = spawn("idle.js", "--inspect=127.0.0.1:0")
        target = resolve_target(f"localhost:{process.inspector_port()}")
        assert (target.pid, target.host) == (process.pid, "127.0.0.1")

    @pytest.mark.parametrize("form", ["127.0.0.1:{port}", "ws://127.0.0.1:{port}/uuid"])
    def test_closed_port(self, form):
        port = free_port()
        with pytest.raises(MemtuiError, match="connection refused") as caught:
            resolve_target(form.format(port=port))
        assert caught.value.exit_code == EXIT_RUNTIME
        assert f"no Node inspector at 127.0.0.1:{port}" in caught.value.message

    def test_not_a_node_inspector(self, http_server):
        port = http_server({"Browser": "Chrome/140.0", "Protocol-Version": "1.3"})
        with pytest.raises(MemtuiError, match=r"it is Chrome/140\.0, not Node") as caught:
            resolve_target(f"127.0.0.1:{port}")
        assert caught.value.exit_code == EXIT_RUNTIME
        with pytest.raises(MemtuiError, match=r"it is Chrome/140\.0, not Node"):
            resolve_target(f"ws://127.0.0.1:{port}/abc")

    def test_refresh_follows_a_restarted_inspector(self, spawn):
        process = spawn("attach_reopen.js", ready=URL_LINE)
        target = resolve_target(str(process.pid))

        process.proc.send_signal(signal.SIGUSR2)
        reopened = process.wait_for_line(r"reopened (ws://\S+)").group(1)
        refreshed = refresh_ws_url(target)

        assert reopened != target.ws_url
        assert refreshed.ws_url == reopened
        assert (refreshed.pid, refreshed.port) == (target.pid, target.port)
        process.kill()
        with pytest.raises(TargetGone, match="is gone: connection refused"):
            refresh_ws_url(target)


class TestProcessTable:
    """`memtui ps` data and port ownership come from /proc."""

    def test_lists_node_processes_with_inspector_state(self, spawn):
        closed = spawn("idle.js")
        opened = spawn("idle.js", "--inspect=127.0.0.1:0")
        port = opened.inspector_port()

        rows = {row.pid: row for row in list_node_processes()}

        assert rows[closed.pid].inspector is None
        assert (rows[closed.pid].container, rows[closed.pid].netns) == (None, None)
        assert rows[opened.pid].inspector == f"127.0.0.1:{port}"
        assert rows[opened.pid].user == getpass.getuser()
        assert rows[opened.pid].rss > 1_000_000
        assert rows[opened.pid].command.endswith("--inspect=127.0.0.1:0 " + str(
            Path(__file__).parent / "node" / "idle.js"))
        assert os.getpid() not in rows

    def test_a_cluster_primary_its_workers_and_a_forked_child_are_told_apart(self, spawn):
        primary = spawn("cluster.js", args=("2",))
        parent = spawn("parent.js", ready=r"^child (\d+)$")
        child = int(parent.wait_for_line(r"^child (\d+)$").group(1))
        workers = [worker.pid for worker in psutil.Process(primary.pid).children()]

        rows = {row.pid: row for row in list_node_processes()}

        assert (rows[primary.pid].workers, rows[primary.pid].cluster_worker) == (2, False)
        for worker in workers:
            assert (rows[worker].parent, rows[worker].cluster_worker) == (primary.pid, True)
        assert (rows[child].parent, rows[child].cluster_worker) == (parent.pid, False)
        assert (rows[parent.pid].parent, rows[parent.pid].workers) == (None, 0)

    def test_a_command_line_rewritten_by_process_title_is_shown_without_its_padding(
            self, spawn):
        target = spawn("titled.js")
        assert {row.pid: row for row in list_node_processes()}[target.pid].command == \
            "titled-service"

    def test_pid_of_listener(self, listener):
        assert pid_of_listener(listener) == os.getpid()
        assert pid_of_listener(free_port()) is None

    def test_pid_of_dual_stack_listener(self):
        with socket.socket(socket.AF_INET6) as server:
            server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            server.bind(("::", 0))
            server.listen()
            port = server.getsockname()[1]
            assert pid_of_listener(port) == os.getpid()
            assert pid_of_listener(port, "::1") == os.getpid()
