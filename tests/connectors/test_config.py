"""Connector configuration: a wrong key or value is refused at start, naming it."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from connectors.config import ConfigError, load_config, parse_config
from connectors.polling import PollingMode

BASE = {
    "agency": "disdukcapil",
    "source": {"mode": "polling", "url": "sqlite:///siak.db"},
    "tables": [{"name": "BIODATA_WNI", "timestamp_column": "TGL_UBAH"}],
}


def test_a_valid_config_loads_with_defaults() -> None:
    cfg = parse_config(BASE)
    assert cfg.connector_name == "disdukcapil"
    assert cfg.topic("BIODATA_WNI") == "mpp.disdukcapil.biodata_wni"
    assert cfg.kafka.bootstrap == "127.0.0.1:9092"


def test_a_misspelt_key_is_refused_with_its_path() -> None:
    bad = {**BASE, "source": {**BASE["source"], "pol_interval_s": 3}}
    with pytest.raises(ConfigError, match=r"source\.pol_interval_s: unknown key"):
        parse_config(bad)


def test_a_wrong_mode_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"source\.mode"):
        parse_config({**BASE, "source": {"mode": "oracle", "url": "x://"}})


def test_a_database_mode_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="source.url or source.url_file is required"):
        parse_config({**BASE, "source": {"mode": "postgres"}})


def test_an_agency_that_cannot_name_a_topic_is_refused() -> None:
    with pytest.raises(ConfigError, match="agency"):
        parse_config({**BASE, "agency": "Dinas Dukcapil"})


def test_credentials_come_from_the_environment_and_are_hidden() -> None:
    cfg = parse_config(
        {**BASE, "source": {"mode": "postgres", "url": "postgresql://hub:${SIAK_PW}@db/siak"}},
        env={"SIAK_PW": "s3cret", "OTHER_SECRET": "x"},
    )
    assert cfg.source_url() == "postgresql://hub:s3cret@db/siak"
    assert "s3cret" not in cfg.safe_url()
    assert "s3cret" not in repr(cfg) and "s3cret" not in cfg.model_dump_json()


def test_a_default_stands_in_for_an_unset_variable() -> None:
    cfg = parse_config(
        {**BASE, "source": {"mode": "postgres", "url": "postgresql://hub@${SIAK_HOST:-db}/siak"}},
        env={},
    )
    assert cfg.source_url() == "postgresql://hub@db/siak"


def test_an_unset_variable_is_named() -> None:
    cfg = parse_config(
        {**BASE, "source": {"mode": "postgres", "url": "postgresql://h:${NOPE_PW}@d/x"}},
        env={"OTHER_PW": "x"},
    )
    with pytest.raises(ConfigError, match="source.url: environment variable NOPE_PW is not set"):
        cfg.source_url()


def test_a_url_file_keeps_the_secret_out_of_the_config(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("postgresql://hub:pw@db/siak\n")
    cfg = parse_config({**BASE, "source": {"mode": "postgres", "url_file": str(secret)}})
    assert cfg.source_url() == "postgresql://hub:pw@db/siak"


def test_load_config_names_the_file_on_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("agency: [unclosed\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


def test_tables_listed_twice_are_refused() -> None:
    with pytest.raises(ConfigError, match="tables listed twice"):
        parse_config({**BASE, "tables": BASE["tables"] * 2})


def test_load_config_resolves_variables_from_the_given_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "agency: disdukcapil\n"
        "source: {mode: postgres, url: 'postgresql://hub:${SIAK_PW}@db/siak'}\n"
        "tables: [{name: BIODATA_WNI}]\n"
    )
    cfg = load_config(path, env={"SIAK_PW": "s3cret"})
    assert cfg.source_url() == "postgresql://hub:s3cret@db/siak"


def test_an_unknown_time_zone_is_refused_naming_the_key() -> None:
    bad = {**BASE, "source": {**BASE["source"], "time_zone": "Asia/Makasar"}}
    with pytest.raises(ConfigError, match=r"source\.time_zone: .*unknown time zone"):
        parse_config(bad)


def test_polling_reads_the_clock_of_the_sources_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub on UTC polling WITA stamps: the safety delay and the snapshot marker are counted on
    the source's wall clock, eight hours ahead, not the hub's."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        cfg = parse_config({**BASE, "source": {**BASE["source"], "time_zone": "Asia/Makassar"}})
        mode = PollingMode(SimpleNamespace(config=cfg, engine=None, tables={}))
        ahead = mode._now() - dt.datetime.now()
        assert abs(ahead - dt.timedelta(hours=8)) < dt.timedelta(seconds=5)
        plain = PollingMode(SimpleNamespace(config=parse_config(BASE), engine=None, tables={}))
        assert abs(plain._now() - dt.datetime.now()) < dt.timedelta(seconds=5)
    finally:
        monkeypatch.undo()
        time.tzset()
