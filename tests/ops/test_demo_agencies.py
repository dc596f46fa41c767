"""The demo's building-permit and health-insurance agencies: their sample sources, connector
configs and mapping files fit together (what `mpphub agency check` says of them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.config import parse_config
from ops.agency.check import check_mapping
from ops.samples.demo_agencies import NAMES, prepare_more_agencies
from ops.samples.people import generate_population
from streams.mappings import AGENCIES


def test_the_demo_agencies_check_clean(tmp_path: Path) -> None:
    population = generate_population(60, seed=7, today=dt.date(2025, 8, 18))
    said: list[str] = []
    configs = prepare_more_agencies(tmp_path, population, said.append, permits=20)
    assert tuple(configs) == NAMES
    assert any("SIMBG" in s for s in said) and any("BPJS" in s for s in said)
    for cfg in configs.values():
        config = parse_config({**cfg, "kafka": {"bootstrap": "127.0.0.1:1"}})
        report = check_mapping(AGENCIES[cfg["agency"]].file, config, limit=1000)
        assert report.ok, report.problems
        assert report.unmapped == []
        assert sum(len(e) for e in report.events.values()) > 0
    # Afresh each run: a second call replaces, never appends.
    again = prepare_more_agencies(tmp_path, population, said.append, permits=20)
    assert again == configs
    assert len(list((tmp_path / "bpjs-drop").glob("*.csv"))) == 1
