"""A real Keycloak for the tests that need an OIDC provider, one per test session.

Keycloak takes minutes to boot on a shared two-core machine, so it is started as soon as
collection shows a test that asks for the `keycloak` fixture (pytest_collection_modifyitems),
boots while other tests run, and the fixture waits for it only when first used. It runs on free
loopback ports with its state in a temporary directory; stopped (by its pid) at session end.
MPPHUB_TEST_KEYCLOAK_STATE and _PORT name one already running instead (left running).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from ops.processes import port_is_free
from ops.stack.keycloak import KeycloakNode

REPO = Path(__file__).resolve().parent.parent
_node: KeycloakNode | None = None


def _free_pair() -> int:
    import random

    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 60000)
        if port_is_free(port) and port_is_free(port + 1):
            return port
    raise RuntimeError("no two free loopback ports for Keycloak")


def start_keycloak() -> KeycloakNode:
    """The session's Keycloak, started (not yet waited for) on first call."""
    global _node
    if _node is None:
        import os

        if os.environ.get("MPPHUB_TEST_KEYCLOAK_STATE"):
            _node = _Reused(
                Path(os.environ["MPPHUB_TEST_KEYCLOAK_STATE"]),
                int(os.environ["MPPHUB_TEST_KEYCLOAK_PORT"]),
                REPO / ".mpphub" / "dist",
            )
            return _node
        dist = Path(os.environ.get("MPPHUB_DIST_DIR", REPO / ".mpphub" / "dist")).resolve()
        state = Path(tempfile.mkdtemp(prefix="mpphub-keycloak-"))
        _node = KeycloakNode(state, _free_pair(), dist)
        _node.start()
    return _node


class _Reused(KeycloakNode):
    """A Keycloak this session did not start: never stopped nor deleted by it."""

    def stop(self) -> bool:
        return False


@pytest.hookimpl(trylast=True)  # after -m/-k deselection: a unit run starts nothing
def pytest_collection_modifyitems(session, config, items) -> None:
    if any("keycloak" in getattr(item, "fixturenames", ()) for item in items):
        start_keycloak()


def pytest_sessionfinish(session, exitstatus) -> None:
    global _node
    if _node is not None and not isinstance(_node, _Reused):
        _node.stop()
        shutil.rmtree(_node.state_dir, ignore_errors=True)
        _node = None


@pytest.fixture(scope="session")
def keycloak() -> KeycloakNode:
    """A running Keycloak with the hub's realm and demo users (passwords: .users())."""
    node = start_keycloak()
    node.wait()
    return node
