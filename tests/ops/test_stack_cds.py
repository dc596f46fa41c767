"""The stack's class-data sharing archives (ops/stack/cds.py): made once by a throwaway stack,
mapped by every later JVM, never put in place unless a JVM can map them, and a failure to make
them said once and never a failed start."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.stack import Stack
from ops.stack.cds import PROGRAMS, JvmArchives, ensure_archives
from ops.stack.dist import find_java
from tests.conftest import test_stack_config


def _mapped(pid: int, archive: Path) -> bool:
    """The process has the archive mapped into its memory: sharing in use, not only asked for."""
    return str(archive) in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.integration
def test_archives_are_made_once_and_every_jvm_maps_them(tmp_path: Path) -> None:
    cds = tmp_path / "cds"
    said: list[str] = []
    first = Stack(test_stack_config(tmp_path / "a"), log=said.append, archives_dir=cds)
    try:
        first.up(timeout=180)
        archives = first.archives
        assert archives is not None and archives.missing() == []
        assert list(cds.glob("*.part")) == []
        assert sum("making class-data archives" in m for m in said) == 1
        jvms = {"kafka": first.kafka[0].proc.pid(), "registry": first.registry.proc.pid()}
        unmapped = [n for n, pid in jvms.items() if not _mapped(pid, archives.path(n))]
        assert unmapped == []
    finally:
        first.down(purge=True)

    def train_again() -> dict:
        raise AssertionError("archives made again")

    ensure_archives(JvmArchives(cds, find_java()), train_again, said.append)  # made once


def test_an_archive_no_jvm_can_map_is_never_put_in_place(tmp_path: Path) -> None:
    # A truncated archive given to a JVM crashes it (JDK 17): the check must keep it out.
    archives = JvmArchives(tmp_path, find_java())
    archives.part("kafka").write_bytes(b"\x00" * 1000)
    assert archives.promote("kafka", str(tmp_path)) is False
    assert not archives.path("kafka").exists() and not archives.part("kafka").exists()
    assert archives.flags("kafka") == []  # no archive: the JVM starts as it always did


def test_a_failure_is_said_once_and_the_start_goes_on(tmp_path: Path) -> None:
    archives = JvmArchives(tmp_path, find_java())
    said: list[str] = []
    calls = []

    def train() -> dict:
        calls.append(1)
        archives.part("kafka").write_bytes(b"half")  # what a failed run may leave
        raise TimeoutError("registry not ready after 120s")

    ensure_archives(archives, train, said.append)
    ensure_archives(archives, train, said.append)
    assert len(calls) == 1  # remembered, not tried at every start
    assert len([m for m in said if "not made" in m]) == 1
    assert "TimeoutError: registry not ready" in said[-1]
    assert archives.missing() == list(PROGRAMS) and list(tmp_path.glob("*.part")) == []


def test_flags_make_use_or_leave_out_the_archive(tmp_path: Path) -> None:
    java = find_java()
    making = JvmArchives(tmp_path, java, making=True)
    assert f"-XX:ArchiveClassesAtExit={making.part('registry')}" in making.flags("registry")
    using = JvmArchives(tmp_path, java)
    assert using.flags("registry") == []
    using.path("registry").write_bytes(b"x")
    assert f"-XX:SharedArchiveFile={using.path('registry')}" in using.flags("registry")
    # Another JDK (another binary) has archives of its own name: these are not used by it.
    other = tmp_path / "java"
    other.write_bytes(b"another jdk")
    assert JvmArchives(tmp_path, str(other)).flags("registry") == []
