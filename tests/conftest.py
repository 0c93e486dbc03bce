import pytest

from tests.nodeproc import NodeProcess, node_binary, node_majors, start_node


@pytest.fixture(params=node_majors(), ids=lambda m: f"node{m}")
def node(request) -> str:
    """Path to a `node` binary; tests using it run once per supported major."""
    return node_binary(request.param)


@pytest.fixture
def system_node() -> str:
    """The first configured Node major, for tests whose behaviour is memtui's own."""
    return node_binary(node_majors()[0])


@pytest.fixture
def spawn(system_node):
    """Start Node test programs; every one is killed when the test ends."""
    started: list[NodeProcess] = []

    def _spawn(script: str, *node_args: str, node: str | None = None, **kwargs) -> NodeProcess:
        process = start_node(node or system_node, script, *node_args, **kwargs)
        started.append(process)
        return process

    yield _spawn
    for process in started:
        process.kill()
