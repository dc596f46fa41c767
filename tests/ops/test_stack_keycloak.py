"""The stack's Keycloak wiring without starting it (a real one: tests/keycloak.py, used by
tests/projections/api/test_oidc.py): its ports, status, logs, pinned version, demo passwords."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ops.stack import Stack, StackConfig, StackError
from ops.stack.keycloak import REALM_FILE, KeycloakNode, keycloak_version


def config(tmp_path: Path, **kw) -> StackConfig:
    base = {"state_dir": tmp_path / "stack", "dist_dir": tmp_path / "dist"}
    return StackConfig(**{**base, "keycloak": True, "keycloak_port": 28180, **kw})


def test_keycloak_takes_its_port_and_the_next(tmp_path: Path):
    ports = config(tmp_path).ports()
    assert (ports["keycloak"], ports["keycloak management"]) == (28180, 28181)
    assert "keycloak" not in config(tmp_path, keycloak=False).ports()


def test_a_keycloak_port_clashing_with_the_registry_is_refused(tmp_path: Path):
    with pytest.raises(StackError, match="overlap"):
        config(tmp_path, keycloak_port=8080, registry_port=8081).validate()


def test_status_and_logs_name_keycloak_when_asked_for(tmp_path: Path):
    stack = Stack(config(tmp_path), log=lambda m: None)
    kc = next(s for s in stack.status() if s.name == "keycloak")
    assert (kc.healthy, kc.pid, kc.port, kc.detail) == (False, None, 28180, "not running")
    assert "keycloak" in stack.logs()
    plain = Stack(config(tmp_path, keycloak=False), log=lambda m: None)
    assert "keycloak" not in {s.name for s in plain.status()}


def test_the_version_is_pinned_in_the_stack_pom():
    assert keycloak_version().startswith("26.")


def test_demo_passwords_are_made_once_kept_private_and_cover_the_realm_users(tmp_path: Path):
    node = KeycloakNode(tmp_path / "kc", 28180, tmp_path / "dist")
    node.state_dir.mkdir(parents=True)
    first = {u.username: u.password for u in node.users()}
    again = {u.username: u.password for u in node.users()}
    assert first == again and len(set(first.values())) == len(first)
    realm = json.loads(REALM_FILE.read_text())
    assert set(first) == {u["username"] for u in realm["users"]}
    assert "credentials" not in json.dumps(realm["users"])  # no password in the repository
    mode = stat.S_IMODE((node.state_dir / "users.json").stat().st_mode)
    assert mode == 0o600
    roles = {u.role for u in node.users()}
    assert roles == {"officer", "supervisor", "auditor", "agency_admin"}
