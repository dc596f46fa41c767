"""Ombudsman compliance zones: the grade and colour a score of 0-100 falls in.

The hub measures timeliness against the published service standard (evidence for the Ombudsman's
process dimension); it does not compute the Ombudsman's own score. The compliance report's zones
for that share come from a file (domain/data/compliance_zones.yaml), checked by load_zones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml


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


# --- the compliance report's zones (domain/data/compliance_zones.yaml) ------------------------

ZONES_FILE = Path(__file__).parent / "data" / "compliance_zones.yaml"
_ZONE_KEYS = ("green_min_pct", "yellow_min_pct", "source")


class ZoneConfigError(ValueError):
    """The zones file is unusable; the message names the file and the key."""


@dataclass(frozen=True)
class ZoneBounds:
    """Lowest share (percent decided within the standard) of the green and yellow zones."""

    green_min_pct: float
    yellow_min_pct: float
    source: str

    def zone(self, pct: float | None) -> str | None:
        """'hijau', 'kuning' or 'merah' for a share 0-100; None when nothing was measured."""
        if pct is None:
            return None
        if pct >= self.green_min_pct:
            return "hijau"
        return "kuning" if pct >= self.yellow_min_pct else "merah"


def load_zones(path: Path = ZONES_FILE) -> ZoneBounds:
    """The zone bounds from a YAML file, checked: ZoneConfigError naming the key when wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ZoneConfigError(f"{path}: cannot read the zones file: {e}") from None
    if not isinstance(data, dict):
        raise ZoneConfigError(f"{path}: expected a mapping of {', '.join(_ZONE_KEYS)}")
    for key in data:
        if key not in _ZONE_KEYS:
            raise ZoneConfigError(f"{path}: unknown key {key!r} (expected {', '.join(_ZONE_KEYS)})")
    bounds = {k: _percent(path, k, data.get(k)) for k in _ZONE_KEYS[:2]}
    if bounds["green_min_pct"] <= bounds["yellow_min_pct"]:
        raise ZoneConfigError(f"{path}: green_min_pct must be above yellow_min_pct")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ZoneConfigError(f"{path}: key 'source' must say where the bounds come from")
    return ZoneBounds(source=source.strip(), **bounds)


def _percent(path: Path, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ZoneConfigError(f"{path}: key {key!r} must be a number 0-100, got {value!r}")
    if math.isnan(value) or not 0 <= value <= 100:
        raise ZoneConfigError(f"{path}: key {key!r} must be within 0-100, got {value!r}")
    return float(value)
