"""ops.processes.free_block: test and chaos stacks take a block of ports below the kernel's
ephemeral range, so a broker killed -9 and restarted finds its port free (an outgoing
connection never takes a port from below that range)."""

from __future__ import annotations

import random
import socket

from ops.processes import _ephemeral_low, free_block, port_is_free


def test_a_block_is_free_and_below_the_ephemeral_range() -> None:
    low = _ephemeral_low()
    for seed in range(20):
        first = free_block(7, random.Random(seed))
        assert 20000 <= first and first + 7 <= low
        assert all(port_is_free(first + i) for i in range(7))


def test_a_block_with_a_port_taken_is_not_given() -> None:
    first = free_block(3, random.Random(1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", first + 1))
        s.listen()
        again = free_block(3, random.Random(1))  # the same first pick, now taken: another
        assert first + 1 not in range(again, again + 3)
