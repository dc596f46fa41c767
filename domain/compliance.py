"""Ombudsman compliance zones: the grade and colour a score of 0-100 falls in.

The hub measures timeliness against the published service standard (evidence for the Ombudsman's
process dimension); it does not compute the Ombudsman's own score.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Zone(NamedTuple):
    """An Ombudsman compliance grade and its zone colour."""

    grade: str
    color: str


# (lowest score of the grade, zone); Ombudsman RI's service-standard compliance assessment.
_ZONES: tuple[tuple[float, Zone], ...] = (
    (88.0, Zone("A", "hijau")),
    (78.0, Zone("B", "hijau")),
    (54.0, Zone("C", "kuning")),
    (32.0, Zone("D", "merah")),
    (0.0, Zone("E", "merah")),
)


def ombudsman_zone(score: float) -> Zone:
    """Grade and colour for an Ombudsman compliance score 0-100 (88 A, 78 B, 54 C, 32 D, else E).

    Raises ValueError for scores outside 0-100 or NaN.
    """
    if math.isnan(score) or not 0 <= score <= 100:
        raise ValueError("Ombudsman score must be within 0-100")
    for lowest, zone in _ZONES:
        if score >= lowest:
            return zone
    raise AssertionError("unreachable: 0 is the lowest bound")
