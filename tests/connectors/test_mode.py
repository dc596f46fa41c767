"""The capture-mode registry: each config name finds its mode class (no source needed)."""

from __future__ import annotations

import pytest

from connectors.config import ConfigError, parse_config
from connectors.mode import MODES, load_mode


@pytest.mark.parametrize("name", sorted(MODES))
def test_each_config_name_loads_its_mode(name: str) -> None:
    mode = load_mode(name)
    assert mode.name == name
    assert isinstance(mode.sql_snapshot, bool)
    for method in ("start", "snapshot_marker", "stream", "stop"):
        assert callable(getattr(mode, method)), f"{mode.__name__}.{method}"


def test_the_config_accepts_exactly_the_registered_modes() -> None:
    base = {"agency": "a", "tables": [{"name": "T", "key": ["id"]}]}
    for name in MODES:
        source = {"mode": name, "url": "sqlite://", "directory": "."}
        assert parse_config({**base, "source": source}).source.mode == name
    with pytest.raises(ConfigError, match=r"source\.mode: Input should be 'polling', "):
        parse_config({**base, "source": {"mode": "oracle", "url": "x://"}})
