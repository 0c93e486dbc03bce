import pytest

from tests.cli_helpers import wait_until_inspector_closed
from tests.nodeproc import NodeProcess, node_binary, node_majors, start_node

SELF_OPENING_SCRIPTS = frozenset({"attach_open_from_js.js", "attach_reopen.js",
                                  "reopen_inspector.js", "move_inspector.js"})
"""Test programs that open their inspector themselves."""


@pytest.fixture(params=node_majors(), ids=lambda m: f"node{m}")
def node(request) -> str:
    """Path to a `node` binary; tests using it run once per supported major."""
    return node_binary(request.param)


@pytest.fixture
def system_node() -> str:
    """The first configured Node major, for tests whose behaviour is memtui's own."""
    return node_binary(node_majors()[0])


def opened_by_itself(script: str, node_args: tuple[str, ...]) -> bool:
    """Whether the program's inspector is open without memtui: an --inspect flag (not
    --inspect-port, which only configures it), or a program that opens it itself."""
    flags = (arg.partition("=")[0] for arg in node_args)
    return script in SELF_OPENING_SCRIPTS or any(
        flag in ("--inspect", "--inspect-brk", "--inspect-wait") for flag in flags)


@pytest.fixture
def spawn(system_node):
    """Start Node test programs; every one is killed when the test ends. Before that, an
    inspector that memtui opened in one of them must have been closed again (the suite-wide
    check of issue 9): pass `inspector_may_stay_open=True` for a test that keeps it open."""
    started: list[tuple[NodeProcess, bool]] = []

    def _spawn(script: str, *node_args: str, node: str | None = None,
               inspector_may_stay_open: bool = False, **kwargs) -> NodeProcess:
        process = start_node(node or system_node, script, *node_args, **kwargs)
        must_close = not inspector_may_stay_open and not opened_by_itself(script, node_args)
        started.append((process, must_close))
        return process

    yield _spawn
    left_open = []
    for process, must_close in started:
        if must_close and process.alive() and not wait_until_inspector_closed(process.pid):
            left_open.append(process.pid)
        process.kill()
    assert not left_open, f"an inspector memtui opened is still listening in pid {left_open}"
