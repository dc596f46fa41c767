"""Shared fixtures: the real local stack (Kafka + registry), started once per test session.

The stack runs on free loopback ports (or MPPHUB_TEST_KAFKA_PORT/... when set), so a demo on
the default ports or another test session is left alone; its data lives in a temporary
directory and is deleted at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.processes import free_block
from ops.stack import Stack, StackConfig

REPO = Path(__file__).resolve().parent.parent


def test_stack_config(tmp: Path, brokers: int = 1, base: int = 0) -> StackConfig:
    """A StackConfig on free loopback ports (or MPPHUB_TEST_*_PORT shifted by `base`).

    Free ports by default: several test sessions (or a demo) may run on one machine."""
    env = os.environ
    dist = Path(env.get("MPPHUB_DIST_DIR", REPO / ".mpphub" / "dist"))
    if env.get("MPPHUB_TEST_KAFKA_PORT"):
        return StackConfig(
            state_dir=tmp,
            dist_dir=dist,
            brokers=brokers,
            kafka_port=int(env["MPPHUB_TEST_KAFKA_PORT"]) + base,
            controller_port=int(env.get("MPPHUB_TEST_CONTROLLER_PORT", 29093)) + base,
            registry_port=int(env.get("MPPHUB_TEST_REGISTRY_PORT", 28081)) + base,
        )
    first = free_block(2 * brokers + 1)  # below the ephemeral range: restarts find it free
    return StackConfig(
        state_dir=tmp, dist_dir=dist, brokers=brokers, kafka_port=first,
        controller_port=first + 1, registry_port=first + 2 * brokers,
    )  # fmt: skip


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
