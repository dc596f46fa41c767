"""The blocking index: blocking key -> the record ids that carry it, in insertion order (so
candidate order, and with it every decision, is the same in a run and in its replay).

An oversize block is skipped: a key that holds more than its cap of records (a very common name
with a birth year, a big household address) says little and would cost a comparison per member;
the record still finds its person through its other, more specific keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

DEFAULT_MAX_BLOCK = 50


class BlockIndex:
    """Key -> record ids. A block of one is stored as the bare id (most keys are unique)."""

    def __init__(self, max_block: int = DEFAULT_MAX_BLOCK, caps: Mapping[str, int] | None = None):
        self.max_block = max_block
        # Per key kind: the part of a key before its first ':' (e.g. {"kel": 20}).
        self.caps = dict(caps or {})
        self._blocks: dict[str, str | list[str]] = {}

    def __len__(self) -> int:
        return len(self._blocks)

    def add(self, record_id: str, keys: Iterable[str]) -> None:
        """Index one record under its keys."""
        blocks = self._blocks
        for key in keys:
            block = blocks.get(key)
            if block is None:
                blocks[key] = record_id
            elif isinstance(block, str):
                if block != record_id:
                    blocks[key] = [block, record_id]
            elif block[-1] != record_id:  # a key given twice; a record is never added twice
                block.append(record_id)

    def remove(self, record_id: str, keys: Iterable[str]) -> None:
        """Take one record out of its keys' blocks."""
        blocks = self._blocks
        for key in keys:
            block = blocks.get(key)
            if block is None:
                continue
            if isinstance(block, str):
                if block == record_id:
                    del blocks[key]
                continue
            if record_id in block:
                block.remove(record_id)
                if len(block) == 1:
                    blocks[key] = block[0]

    def cap(self, key: str) -> int:
        """The most records a block of this key may hold and still give candidates."""
        if self.caps:
            return self.caps.get(key.partition(":")[0], self.max_block)
        return self.max_block

    def candidates(self, keys: Iterable[str], exclude: str) -> list[str]:
        """Record ids sharing a usable key with the record `exclude`, each once, in key order."""
        get, caps, default = self._blocks.get, self.caps, self.max_block
        found: list[str] = []  # every id of every usable block, then deduplicated in one go
        add, extend = found.append, found.extend
        for key in keys:
            block = get(key)
            if block is None:
                continue
            if type(block) is str:
                add(block)
            elif len(block) <= (caps.get(key.partition(":")[0], default) if caps else default):
                extend(block)
        seen = dict.fromkeys(found)
        seen.pop(exclude, None)
        return list(seen)

    def block_size(self, key: str) -> int:
        """How many records carry `key`."""
        block = self._blocks.get(key)
        return 0 if block is None else 1 if isinstance(block, str) else len(block)
