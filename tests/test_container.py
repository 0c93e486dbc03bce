"""container: naming the container a process runs in from its cgroup path."""

import pytest

from memtui.container import Container, container_in, container_of

ID = "3f2a1b9c0d1e" + "ab" * 26
POD = "5f1c2e3a-0b1c-4d2e-8f30-4a5b6c7d8e9f"


@pytest.mark.parametrize("path, expected", [
    (f"/system.slice/docker-{ID}.scope", Container(ID, "docker")),
    (f"/docker/{ID}", Container(ID, "docker")),
    (f"/machine.slice/libpod-{ID}.scope", Container(ID, "podman")),
    (f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope",
     Container(ID, "podman")),
    (f"/libpod_parent/libpod-{ID}", Container(ID, "podman")),
    ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
     f"{POD.replace('-', '_')}.slice/cri-containerd-{ID}.scope",
     Container(ID, "containerd", POD)),
    (f"/kubepods.slice/kubepods-pod{POD.replace('-', '_')}.slice/crio-{ID}.scope",
     Container(ID, "cri-o", POD)),
    (f"/kubepods/besteffort/pod{POD}/{ID}", Container(ID, None, POD)),
    (f"/kubepods/burstable/pod{POD}/crio-{ID}", Container(ID, "cri-o", POD)),
    (f"/system.slice/docker-{ID}.scope/init.scope", Container(ID, "docker")),
    (f"/machine.slice/libpod-conmon-{ID}.scope", None),
    ("/user.slice/user-1000.slice/session-3.scope", None),
    ("/", None),
])
def test_cgroup_paths_of_each_runtime(path, expected):
    assert container_in(path) == expected


def test_labels_are_short():
    assert Container(ID, "docker").label == "docker 3f2a1b9c0d1e"
    assert Container(ID, "cri-o", POD).label == "cri-o 3f2a1b9c0d1e pod 5f1c2e3a"
    assert Container(ID, None, POD).label == "3f2a1b9c0d1e pod 5f1c2e3a"


def test_a_v2_path_is_preferred_and_v1_still_read(tmp_path):
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text(f"4:memory:/docker/{ID}\n1:cpu:/docker/{ID}\n")
    assert container_of(7, tmp_path) == Container(ID, "docker")
    (tmp_path / "7" / "cgroup").write_text(
        f"4:memory:/\n0::/system.slice/crio-{ID}.scope\n")
    assert container_of(7, tmp_path) == Container(ID, "cri-o")
    assert container_of(8, tmp_path) is None
