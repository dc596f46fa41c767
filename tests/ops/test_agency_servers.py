"""The demo servers' homes under the temp dir: one per state dir, removed once the state dir
is gone (a test's temporary dir), never while a server still runs from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ops.agency_servers import server_home


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_same_state_dir_same_home_and_it_stays_while_the_state_dir_exists(
    tmp_path: Path, temp_root: Path
) -> None:
    home = server_home(tmp_path / "demo")
    (home / "postgres").mkdir()
    assert server_home(tmp_path / "demo") == home
    server_home(tmp_path / "other")
    assert (home / "postgres").is_dir()
    assert home.parent == temp_root


def test_home_of_a_deleted_state_dir_is_removed_by_the_next_one(
    tmp_path: Path, temp_root: Path
) -> None:
    gone = server_home(tmp_path / "pytest-run-1")
    (gone / "postgres" / "data").mkdir(parents=True)
    shutil.rmtree(tmp_path / "pytest-run-1")
    kept = server_home(tmp_path / "pytest-run-2")
    assert not gone.exists()
    assert kept.is_dir()


def test_home_of_a_running_server_is_kept_even_without_its_state_dir(
    tmp_path: Path, temp_root: Path
) -> None:
    home = server_home(tmp_path / "killed-demo")
    datadir = home / "mariadb" / "data"
    datadir.mkdir(parents=True)
    # A process serving the data dir, found by the pid file as MariaDBServer.running finds it.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(datadir)],
        stdin=subprocess.DEVNULL,
    )
    try:
        (home / "mariadb" / "mariadbd.pid").write_text(f"{proc.pid}\n")
        shutil.rmtree(tmp_path / "killed-demo")
        server_home(tmp_path / "next")
        assert datadir.is_dir()
    finally:
        proc.kill()
        proc.wait()
    server_home(tmp_path / "after")
    assert not home.exists()


def test_home_without_a_record_is_left_alone(tmp_path: Path, temp_root: Path) -> None:
    legacy = temp_root / "mpphub-demo-0123456789ab"
    (legacy / "postgres").mkdir(parents=True)
    server_home(tmp_path / "demo")
    assert (legacy / "postgres").is_dir()
