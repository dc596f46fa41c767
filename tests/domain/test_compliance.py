"""Ombudsman zones: grade and colour at each boundary."""

import pytest

from domain.compliance import Zone, ombudsman_zone


@pytest.mark.parametrize(
    ("score", "grade", "color"),
    [
        (100, "A", "hijau"),
        (88, "A", "hijau"),
        (87.99, "B", "hijau"),
        (78, "B", "hijau"),
        (77.99, "C", "kuning"),
        (54, "C", "kuning"),
        (53.99, "D", "merah"),
        (32, "D", "merah"),
        (31.99, "E", "merah"),
        (0, "E", "merah"),
    ],
)
def test_zone_boundaries(score, grade, color):
    zone = ombudsman_zone(score)
    assert zone == (grade, color)
    assert (zone.grade, zone.color) == (grade, color)
    assert isinstance(zone, Zone)


@pytest.mark.parametrize("score", [-0.01, 100.01, float("nan"), float("inf")])
def test_zone_out_of_range(score):
    with pytest.raises(ValueError):
        ombudsman_zone(score)
