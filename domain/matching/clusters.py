"""Persons as clusters of records: membership, aliases and the link graph whose edges (the pairs
that were linked, with their weight) say how a person holds together, so a cannot-link can
split it along its weakest links.

A merge moves the smaller member set into the larger and records the alias; a record's person
is looked up through the aliases (and the lookup shortened), so a merge costs the smaller side.

The one rule to know: every person's link graph stays connected. A record that leaves is
bridged (its neighbours are chained, each bridge as weak as the weaker of the two links it
replaces), so records linked through a deleted or moved record stay one person."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

MUST = math.inf  # the weight of a supervisor's must-link: never cut


class Clusters:
    """Record -> person, person -> records, alias -> survivor, and the link graph."""

    def __init__(self) -> None:
        self._home: dict[str, str] = {}  # record -> its person, or an alias of it
        self.members: dict[str, set[str]] = {}  # a person may have no record left
        self.aliases: dict[str, str] = {}
        self.edges: dict[str, dict[str, float]] = {}

    def known(self, person_id: str) -> bool:
        """Whether the id was ever given out (a person or an alias)."""
        return person_id in self.members or person_id in self.aliases

    def canonical(self, person_id: str) -> str:
        """The surviving id for a person id or alias (itself when not an alias)."""
        aliases = self.aliases
        root = person_id
        while root in aliases:
            root = aliases[root]
        while person_id in aliases and aliases[person_id] != root:  # shorten the chain
            aliases[person_id], person_id = root, aliases[person_id]
        return root

    def person(self, record_id: str) -> str | None:
        """The record's person (None when it is in none)."""
        person = self._home.get(record_id)
        if person is not None and person in self.aliases:
            person = self._home[record_id] = self.canonical(person)
        return person

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._home

    def found(self, person_id: str) -> None:
        """Make sure the person exists."""
        if person_id not in self.members:  # (setdefault would build a set every call)
            self.members[person_id] = set()

    def join(self, record_id: str, person_id: str) -> None:
        """Put a record (in no person yet) into a person."""
        self.found(person_id)
        self.members[person_id].add(record_id)
        self._home[record_id] = person_id

    def leave(self, record_id: str) -> None:
        """Take a record out of its person, bridging its links."""
        self.detach(record_id)
        person = self.person(record_id)
        if person is not None:
            del self._home[record_id]
            self.members[person].discard(record_id)

    def detach(self, record_id: str) -> None:
        """Remove a record's links, chaining its neighbours in id order so they stay connected."""
        links = self.edges.pop(record_id, None)
        if not links:
            return
        for other in links:
            self._drop(other, record_id)
        chain = sorted(links)
        for a, b in zip(chain, chain[1:], strict=False):
            self.link(a, b, min(links[a], links[b]))

    def link(self, a: str, b: str, weight: float) -> None:
        """Add (or strengthen) the edge a-b."""
        if a == b:
            return
        ea = self.edges.setdefault(a, {})
        if weight > ea.get(b, -math.inf):
            ea[b] = weight
            self.edges.setdefault(b, {})[a] = weight

    def unlink(self, a: str, b: str) -> None:
        """Remove the edge a-b (no bridge: a supervisor said they differ)."""
        self._drop(a, b)
        self._drop(b, a)

    def _drop(self, a: str, b: str) -> None:
        links = self.edges.get(a)
        if links is not None:
            links.pop(b, None)
            if not links:
                del self.edges[a]

    def merge(self, survivor: str, other: str) -> None:
        """Move every record of `other` to `survivor`; `other` becomes its alias."""
        if survivor == other:
            return
        moved, kept = self.members.pop(other, set()), self.members.setdefault(survivor, set())
        if len(moved) > len(kept):
            moved |= kept
            self.members[survivor] = moved
        else:
            kept |= moved
        self.aliases[other] = survivor

    def move(self, record_ids: Iterable[str], person_id: str) -> None:
        """Split records off into `person_id`, cutting their links to the records left behind."""
        part = set(record_ids)
        self.found(person_id)
        for record_id in sorted(part):
            old = self.person(record_id)
            if old is None:
                continue
            self.members[old].discard(record_id)
            self.members[person_id].add(record_id)
            self._home[record_id] = person_id
            for other in list(self.edges.get(record_id, {})):
                if other not in part:
                    self.unlink(record_id, other)

    def parts(self, person_id: str, cannot: Callable[[str], Iterable[str]]) -> list[list[str]]:
        """The person's records regrouped so no part holds a cannot-link pair, largest part
        first (ties: smallest record id first). One part when no constraint is broken.

        Kruskal-like: links are joined strongest first (must-links first of all), skipping any
        link that would put a cannot-link pair together: each skipped link is one a careful
        officer would cut, the weakest on the paths between the two records."""
        records = sorted(self.members.get(person_id, ()))
        inside = set(records)
        forbid = {r: {c for c in cannot(r) if c in inside} for r in records}
        if not any(forbid.values()):
            return [records] if records else []
        root = {r: r for r in records}
        group = {r: [r] for r in records}
        banned = {r: set(forbid[r]) for r in records}

        def find(r: str) -> str:
            while root[r] != r:
                root[r] = root[root[r]]
                r = root[r]
            return r

        links = sorted(
            (-w, a, b)
            for a in records
            for b, w in self.edges.get(a, {}).items()
            if a < b and b in inside
        )
        for _, a, b in links:
            ra, rb = find(a), find(b)
            if ra == rb or any(r in banned[ra] for r in group[rb]):
                continue
            if len(group[ra]) < len(group[rb]):
                ra, rb = rb, ra
            root[rb] = ra
            group[ra] += group.pop(rb)
            banned[ra] |= banned.pop(rb)
        found = sorted((sorted(g) for g in group.values()), key=lambda g: (-len(g), g[0]))
        # A part that no constraint touches only stands apart because the graph had a gap
        # (a log from before bridging): it rejoins the largest part.
        kept = [found[0]]
        for part in found[1:]:
            if not any(forbid[r] for r in part):  # cannot-links are symmetric
                kept[0] = sorted(kept[0] + part)
            else:
                kept.append(part)
        return sorted(kept, key=lambda g: (-len(g), g[0]))
