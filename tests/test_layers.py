"""The layer contracts in pyproject.toml hold for the tree, and they do fail on a wrong-way
import (checked on a copy of the tree, so the real one is never touched)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ops", "connectors", "streams", "projections", "schemas", "eventlog", "domain")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports over `root` (only the named contracts, if any)."""
    only = [arg for c in contracts for arg in ("--contract", c)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *only, str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "pyproject.toml", root)
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("*.pyc"))
    return root


def test_the_tree_keeps_every_contract() -> None:
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("projections/wrong.py", "streams.settings", "layers"),  # a stage imports a stage
        ("streams/wrong.py", "projections.store", "layers"),
        ("connectors/wrong.py", "streams.app", "layers"),
        ("domain/wrong.py", "projections.models", "layers"),  # the ground imports a stage
        ("eventlog/wrong.py", "schemas.codec", "layers"),
        ("schemas/wrong.py", "connectors.config", "layers"),
        ("domain/wrong.py", "eventlog.topics", "layers"),  # two ground packages stay apart
        ("domain/wrong.py", "sqlalchemy", "pure-domain"),
        ("streams/mappings/values.py", "streams.mappings.change", "mappings"),  # the old circle
    ],
)
def test_a_wrong_way_import_breaks_a_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    root = copy_tree(tmp_path)
    assert lint(root, contract).returncode == 0  # the copy keeps it until the import comes
    path = root / module
    before = path.read_text() if path.exists() else '"""A deliberately wrong import."""\n'
    path.write_text(f"{before}\nimport {wrong_import}  # deliberately wrong\n")
    result = lint(root, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {wrong_import}" in result.stdout
