"""The SVG charts: well-formed, accessible, every value drawn to scale, labels escaped."""

import xml.etree.ElementTree as ET

import pytest

from projections.web.charts import (
    HEIGHT,
    Series,
    bar_chart,
    line_chart,
    number_text,
    stacked_bar_chart,
)

NS = {"s": "http://www.w3.org/2000/svg"}


def _root(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _bars(root: ET.Element) -> list[ET.Element]:
    return [
        r
        for r in root.iter("{http://www.w3.org/2000/svg}rect")
        if r.find("s:title", NS) is not None
    ]


def test_bar_chart_is_an_accessible_image_with_title_and_values_in_desc():
    root = _root(bar_chart("Permohonan per OPD", [("DPMPTSP", 12), ("Dinkes", 3)]))
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find("s:title", NS).get("id") == title_id
    assert root.find("s:title", NS).text == "Permohonan per OPD"
    assert root.find("s:desc", NS).get("id") == desc_id
    assert root.find("s:desc", NS).text == "DPMPTSP: 12; Dinkes: 3"
    assert root.get("viewBox") == "0 0 640 300" and root.get("width") == "100%"


def test_bar_heights_are_proportional_to_values():
    bars = _bars(_root(bar_chart("x", [("a", 10), ("b", 5), ("c", 0)])))
    heights = [float(b.get("height")) for b in bars]
    assert heights[0] == pytest.approx(2 * heights[1]) and heights[2] == 0
    assert [b.find("s:title", NS).text for b in bars] == ["a: 10", "b: 5", "c: 0"]
    assert all(float(b.get("y")) + float(b.get("height")) <= HEIGHT for b in bars)


def test_labels_and_title_are_escaped():
    svg = bar_chart('<script>alert("x")</script> & co', [("<b>OPD & co</b>", 1)])
    root = _root(svg)
    assert "<script>" not in svg and "<b>" not in svg
    assert root.find("s:title", NS).text == '<script>alert("x")</script> & co'
    assert _bars(root)[0].find("s:title", NS).text == "<b>OPD & co</b>: 1"


def test_stacked_bar_stacks_series_per_category():
    svg = stacked_bar_chart(
        "Status SLA",
        ["Dinkes", "PUPR"],
        [
            Series("Tepat waktu", [3, 1], "#38a169"),
            Series("Berisiko", [1, 0], "#d69e2e"),
            Series("Terlambat", [0, 4], "#e53e3e"),
        ],
    )
    root = _root(svg)
    bars = _bars(root)
    assert len(bars) == 6
    first = bars[:3]
    # Stacked: each next segment ends where the previous starts.
    assert float(first[1].get("y")) + float(first[1].get("height")) == pytest.approx(
        float(first[0].get("y"))
    )
    assert float(bars[0].get("height")) == pytest.approx(3 * float(bars[1].get("height")))
    assert [b.find("s:title", NS).text for b in bars[3:]] == [
        "PUPR — Tepat waktu: 1",
        "PUPR — Berisiko: 0",
        "PUPR — Terlambat: 4",
    ]
    assert "Dinkes: Tepat waktu 3, Berisiko 1, Terlambat 0" in root.find("s:desc", NS).text


def test_stacked_bar_refuses_a_series_of_the_wrong_length():
    with pytest.raises(ValueError, match="'a' has 1 values for 2"):
        stacked_bar_chart("x", ["p", "q"], [Series("a", [1])])


def test_line_chart_draws_points_a_gap_and_the_standard():
    svg = line_chart(
        "Median waktu proses",
        [("2026-01", 2.0), ("2026-02", None), ("2026-03", 4.5), ("2026-04", 6)],
        unit=" hari",
        target=5,
    )
    root = _root(svg)
    points = root.findall("s:circle", NS)
    assert [p.find("s:title", NS).text for p in points] == [
        "2026-01: 2 hari",
        "2026-03: 4,5 hari",
        "2026-04: 6 hari",
    ]
    ys = [float(p.get("cy")) for p in points]
    assert ys[0] > ys[1] > ys[2]  # higher values are drawn higher
    # The missing month breaks the line: one segment from March to April only.
    lines = root.findall("s:polyline", NS)
    assert len(lines) == 1 and len(lines[0].get("points").split()) == 2
    standard = [ln for ln in root.findall("s:line", NS) if ln.get("stroke-dasharray")]
    assert standard[0].find("s:title", NS).text == "Standar: 5 hari"
    assert "2026-02: -" in root.find("s:desc", NS).text


def test_empty_charts_are_still_valid_svg():
    for svg in (bar_chart("x", []), line_chart("x", []), stacked_bar_chart("x", [], [])):
        assert _root(svg).get("role") == "img"


def test_negative_or_nan_values_are_refused():
    with pytest.raises(ValueError):
        bar_chart("x", [("a", -1)])
    with pytest.raises(ValueError):
        line_chart("x", [("a", float("nan"))])


def test_two_charts_on_one_page_get_distinct_ids():
    a = _root(bar_chart("A", [("x", 1)])).get("aria-labelledby")
    b = _root(bar_chart("B", [("x", 1)])).get("aria-labelledby")
    assert a != b


def test_numbers_are_written_the_indonesian_way():
    assert number_text(1234) == "1.234"
    assert number_text(1234.5) == "1.234,5"
    assert number_text(3.0) == "3"


def test_a_fixed_axis_top_scales_the_points_to_it():
    root = _root(line_chart("x", [("a", 50)], y_max=100))
    (point,) = root.findall("s:circle", NS)
    top_tick = [t.text for t in root.findall("s:text", NS)]
    assert "100" in top_tick and "50" in top_tick
    assert float(point.get("cy")) == pytest.approx((HEIGHT - 64 + 16) / 2)
