"""netns: sockets made in a process's network namespace, and a namespace that changed."""

import os
import socket

import pytest

from memtui import netns
from memtui.errors import TargetGone
from memtui.netns import NetworkNamespace


def test_memtuis_own_namespace_is_none():
    assert netns.namespace_of(os.getpid()) is None


def test_a_namespace_whose_inode_changed_is_not_entered():
    own_inode = os.stat("/proc/self/ns/net").st_ino
    with pytest.raises(TargetGone, match=f"PID {os.getpid()} left the network namespace"):
        netns.connect("127.0.0.1", 9, 1.0, NetworkNamespace(os.getpid(), own_inode + 1))


def test_connect_in_memtuis_own_namespace():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with netns.connect("127.0.0.1", server.getsockname()[1], 1.0, None) as client:
            assert client.getpeername() == server.getsockname()
