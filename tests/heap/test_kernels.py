"""The compiled loops' own contracts: the compile cache's place, the number parser."""

from __future__ import annotations

import numpy as np
import pytest

from memtui.heap import kernels


@pytest.fixture
def cache_env(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_cache_is_private_to_the_user(cache_env):
    directory, problem = kernels._cache_directory()
    assert problem is None
    assert directory == cache_env / "cache" / "memtui" / "numba"
    assert directory.stat().st_mode & 0o077 == 0


def test_a_cache_others_can_write_is_not_used(cache_env):
    shared = cache_env / "cache" / "memtui" / "numba"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    directory, problem = kernels._cache_directory()
    assert directory is None
    assert problem == f"{shared} is writable by another user"


def test_a_cache_that_cannot_be_created_is_not_used(cache_env, monkeypatch):
    blocker = cache_env / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    directory, problem = kernels._cache_directory()
    assert directory is None
    assert problem is not None and problem.startswith(f"cannot create {blocker}")


def test_the_users_numba_cache_dir_wins(cache_env, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache_env / "mine"))
    assert kernels._cache_directory() == (cache_env / "mine", None)


@pytest.mark.parametrize(("text", "expected"), [
    (b"1,22,333", [1, 22, 333]),
    (b"\n 4294967295 ,0\r\n,7", [4294967295, 0, 7]),
    (b"", []),
])
def test_numbers_parse(text, expected):
    out = np.empty(len(text) // 2 + 1, dtype=np.uint32)
    count = kernels.parse_numbers(np.frombuffer(text, dtype=np.uint8), out)
    assert out[:count].tolist() == expected


@pytest.mark.parametrize(("text", "error"), [
    (b"1,-2", kernels.NEGATIVE_NUMBER), (b"1,x", kernels.NOT_A_NUMBER),
    (b"1.5", kernels.NOT_A_NUMBER), (b"4294967296", kernels.TOO_LARGE),
])
def test_bad_numbers_are_told_apart(text, error):
    out = np.empty(8, dtype=np.uint32)
    assert kernels.parse_numbers(np.frombuffer(text, dtype=np.uint8), out) == error
