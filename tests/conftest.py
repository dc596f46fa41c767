"""Shared fixtures: the real local stack (Kafka + registry), started once per test session.

The stack runs on test ports (29092/29093/28081 unless MPPHUB_TEST_* say otherwise) so that a
developer's demo stack on the default ports is left alone; its data lives in a temporary
directory and is deleted at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.stack import Stack, StackConfig

REPO = Path(__file__).resolve().parent.parent


def test_stack_config(tmp: Path, brokers: int = 1, base: int = 0) -> StackConfig:
    """A StackConfig on the test ports, shifted by `base` for stacks beside the shared one."""
    env = os.environ
    return StackConfig(
        state_dir=tmp,
        dist_dir=Path(env.get("MPPHUB_DIST_DIR", REPO / ".mpphub" / "dist")),
        brokers=brokers,
        kafka_port=int(env.get("MPPHUB_TEST_KAFKA_PORT", 29092)) + base,
        controller_port=int(env.get("MPPHUB_TEST_CONTROLLER_PORT", 29093)) + base,
        registry_port=int(env.get("MPPHUB_TEST_REGISTRY_PORT", 28081)) + base,
    )


test_stack_config.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running single-broker stack for the whole session; stopped and deleted at the end."""
    s = Stack(test_stack_config(tmp_path_factory.mktemp("stack")), log=lambda m: None)
    try:
        s.up(timeout=180)
        yield s
    finally:
        s.down(purge=True)


# Real PostgreSQL and MariaDB servers (one each per session, a fresh database per test).
from tests.databases import *  # noqa: E402,F401,F403
